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

export interface Transport {
  /** A short name for logs: `local:i-…` or `ssh:root@10.0.0.2:22`. */
  readonly label: string;
  /** The instance's home directory; relative remote paths resolve against it. */
  readonly home: string;
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Read a file, or undefined if it does not exist; `offset` reads from that byte on. */
  readFile(path: string, offset?: number): Promise<Buffer | undefined>;
  /** Write a file readable by the instance's user only (0600, new directories 0700): the agent's config carries the task's envs. */
  writeFile(path: string, data: string | Uint8Array): Promise<void>;
  upload(localDir: string, remoteDir: string, opts?: SyncOptions): Promise<void>;
  download(remotePath: string, localPath: string): Promise<void>;
  close(): Promise<void>;
}
