/** Where and how to reach one SSH host. */
export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** When absent, the SSH agent (`SSH_AUTH_SOCK`) is asked. */
  privateKeyPath?: string;
  /** Host keys are pinned here on first contact (OpenSSH known_hosts format). */
  knownHostsPath: string;
  /** For logs and parallel-exec prefixes; defaults to `ssh:user@host:port`. */
  label?: string;
  /** Remote relative paths resolve against it; defaults to the login's $HOME. */
  home?: string;
}
