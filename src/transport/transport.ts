/**
 * How the controller reaches an instance: run a command, move files. Local exec and SSH
 * implement the same interface so the controller cannot tell them apart.
 */
export interface ExecOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Stream output as it arrives. */
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
  timeoutMs?: number;
  signal?: AbortSignal;
  stdin?: string | Uint8Array;
}

export interface ExecResult {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface SyncOptions {
  /** Patterns in .gitignore syntax to leave out; `.gitignore` in the source is honoured too. */
  exclude?: string[];
}

export interface StreamOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Raw bytes as they arrive; the command's stdout is never collected. */
  onStdout: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Aborting is `close()`. */
  signal?: AbortSignal;
}

/** How a stream ended: the command's exit, or `error` when it never started or its link was lost. */
export interface StreamEnd {
  exitCode: number | null;
  signal: string | null;
  error?: Error;
}

/** A long-lived command whose stdin stays open: closing that stdin is how it is told to stop. */
export interface StreamHandle {
  /** Settles once the command is gone or the link to it is; never rejects. */
  readonly done: Promise<StreamEnd>;
  /** End its stdin, give it a moment to leave, then stop its process group; resolves with `done`. */
  close(): Promise<StreamEnd>;
}

/** What a transport has opened since it was made: a benchmark's and a test's view of its cost. */
export interface TransportStats {
  /** Commands run to completion (exec, and each readFile/writeFile/upload step): one channel each over SSH. */
  execs: number;
  /** Streams opened (each one channel over SSH). */
  streams: number;
  /** Streams open now. */
  openStreams: number;
}

export interface Transport {
  /** A short name for logs: `local:i-…` or `ssh:root@10.0.0.2:22`. */
  readonly label: string;
  /** The instance's home directory; relative remote paths resolve against it. */
  readonly home: string;
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Start a long-lived command (`agent follow`) and hand back its output as it comes, over one channel. */
  stream(command: string, opts: StreamOptions): StreamHandle;
  /** Read a file, or undefined if it does not exist; `offset` reads from that byte on. */
  readFile(path: string, offset?: number): Promise<Buffer | undefined>;
  /** Write a file readable by the instance's user only (0600, new directories 0700): the agent's config carries the task's envs. */
  writeFile(path: string, data: string | Uint8Array): Promise<void>;
  upload(localDir: string, remoteDir: string, opts?: SyncOptions): Promise<void>;
  download(remotePath: string, localPath: string): Promise<void>;
  close(): Promise<void>;
  stats(): TransportStats;
}
