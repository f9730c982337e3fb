/**
 * An SSH host made on this machine: a real `sshd` with its own host key, either in its own
 * network namespace (a separate network host that can be cut off) or on a loopback port.
 */
interface SshHostBase {
  id: string;
  /** Where clients connect. */
  address: string;
  port: number;
  /** The user to log in as: the one running sshd (root for namespaced hosts). */
  user: string;
  /** The host's home for spotrun: remote relative paths resolve against it. */
  home: string;
  hostKeyFingerprint: string;
  /** The private key whose public half is authorized, when the host generated one. */
  clientKeyPath: string | undefined;
  /** Stop sshd and remove everything the host made; safe to call twice. */
  stop(): Promise<void>;
  /** Make the host unreachable without telling clients (packets vanish, as with a lost node). */
  cut(): Promise<void>;
  restore(): Promise<void>;
  /** Give the sshd a new host key (as a reinstalled machine would have) and return its fingerprint. */
  rotateHostKey(): Promise<string>;
}

export interface NetnsSshHost extends SshHostBase {
  kind: "netns";
  /** `spotrun-<id>` */
  ns: string;
  /** The host side of the veth pair, reachable from inside the namespace. */
  gateway: string;
}

export interface LoopbackSshHost extends SshHostBase {
  kind: "loopback";
}

/** A netns host with its own minimal Debian root and nothing else: what a fresh cloud instance looks like. */
export interface BareSshHost extends SshHostBase {
  kind: "bare";
  ns: string;
  gateway: string;
  /** `/root`, inside the host's own root. */
  home: string;
  /** The writable layer of the host's root on this machine: what the host wrote, at the same paths. */
  rootDir: string;
  /** Run a script as root inside the host's root and namespaces (what cloud-init does with user data). */
  runAsRoot(script: string, env?: Record<string, string>): Promise<{ code: number; stdout: string }>;
}

export type SshHost = NetnsSshHost | LoopbackSshHost | BareSshHost;

export interface CreateSshHostOptions {
  /** Unique among live hosts; names the namespace `spotrun-<id>`. */
  id: string;
  /** Picks the subnet 10.213.<index>.0/24; the next free index is taken if this one is in use. */
  index?: number;
  /** Created if missing. */
  home: string;
  /** Public key lines to authorize; when absent the host generates a client key pair. */
  authorizedKeys?: string[];
  /** Run sshd sessions with a PATH that has no rsync, so clients must fall back to tar. */
  withoutRsync?: boolean;
}
