import { readFile } from "node:fs/promises";
import { Client, type ConnectConfig } from "ssh2";
import type { Clock } from "../../base/clock.js";
import { errorMessage, SpotrunError } from "../../base/errors.js";
import type { Logger } from "../../base/logger.js";
import { hostKeyFromBlob } from "./host-key.js";
import { pinHostKey } from "./pin-host-key.js";
import type { SshTarget } from "./ssh-target.js";

/** Waits between connection attempts: the last failure after the 16 s wait is final. */
export const RECONNECT_BACKOFF_MS = [2000, 4000, 8000, 16000] as const;
export const SSH_UNREACHABLE = "SSH_UNREACHABLE";
export const SSH_AUTH_FAILED = "SSH_AUTH_FAILED";

/**
 * One SSH connection to one host that comes back by itself: `client()` hands out the live
 * connection or makes a new one, retrying with backoff. A host key that changed or a key the
 * host refuses ends the retries at once, since waiting cannot fix either.
 */
export class SshSession {
  private live: Client | undefined;
  private connecting: Promise<Client> | undefined;
  private closed = false;

  constructor(
    private readonly target: SshTarget,
    private readonly label: string,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly keepaliveMs: number,
  ) {}

  client(): Promise<Client> {
    if (this.closed) return Promise.reject(new SpotrunError("failed", `SSH connection to ${this.label} was closed`));
    if (this.live) return Promise.resolve(this.live);
    this.connecting ??= this.connectWithBackoff().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  close(): void {
    this.closed = true;
    this.live?.end();
    this.live = undefined;
  }

  private async connectWithBackoff(): Promise<Client> {
    let attempt = 0;
    for (;;) {
      try {
        return await this.connectOnce();
      } catch (e) {
        if (e instanceof SpotrunError) throw e;
        const wait = RECONNECT_BACKOFF_MS[attempt++];
        if (wait === undefined || this.closed) {
          throw new SpotrunError("failed", `cannot reach ${this.label} after ${attempt} attempts: ${errorMessage(e)}`, {
            code: SSH_UNREACHABLE,
            fix: "check that the machine is running and its SSH port is open, then retry",
            cause: e,
          });
        }
        this.logger.warn({ host: this.label, attempt, waitMs: wait, err: errorMessage(e) }, "ssh connect failed; retrying");
        await this.clock.sleep(wait);
      }
    }
  }

  private async connectOnce(): Promise<Client> {
    const t = this.target;
    const config: ConnectConfig = {
      host: t.host,
      port: t.port,
      username: t.user,
      keepaliveInterval: this.keepaliveMs,
      keepaliveCountMax: 3,
      // The patience that declares an open connection dead (three missed keepalives) also bounds a handshake.
      readyTimeout: Math.min(30_000, Math.max(1_000, this.keepaliveMs * 3)),
    };
    if (t.privateKeyPath) config.privateKey = await readFile(t.privateKeyPath);
    else if (process.env.SSH_AUTH_SOCK) config.agent = process.env.SSH_AUTH_SOCK;
    let refusal: SpotrunError | undefined;
    config.hostVerifier = (blob: Buffer, verify: (ok: boolean) => void) => {
      pinHostKey(t.knownHostsPath, t.host, t.port, hostKeyFromBlob(blob)).then(
        (outcome) => {
          if (outcome.kind === "pinned")
            this.logger.info({ host: this.label, fingerprint: outcome.fingerprint }, "pinned host key");
          verify(true);
        },
        (e: unknown) => {
          refusal =
            e instanceof SpotrunError
              ? e
              : new SpotrunError("failed", `cannot check host key of ${this.label}: ${errorMessage(e)}`, { cause: e });
          verify(false);
        },
      );
    };

    const client = new Client();
    // Every command in flight watches the connection for a drop; a fan-out may run dozens at once.
    client.setMaxListeners(0);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error & { level?: string }) => {
        client.removeListener("ready", onReady);
        client.end();
        if (refusal) return reject(refusal);
        if (err.level === "client-authentication") {
          return reject(
            new SpotrunError("failed", `${this.label} refused our key for ${t.user}: ${err.message}`, {
              code: SSH_AUTH_FAILED,
              fix: `add ${t.privateKeyPath ? `${t.privateKeyPath}.pub` : "your public key"} to ${t.user}'s authorized_keys on the host`,
              cause: err,
            }),
          );
        }
        reject(err);
      };
      const onReady = () => {
        client.removeListener("error", onError);
        resolve();
      };
      client.once("ready", onReady);
      client.once("error", onError);
      client.connect(config);
    });

    const drop = (cause: Error) => {
      if (this.live !== client) return;
      this.live = undefined;
      this.logger.warn({ host: this.label, err: cause.message }, "ssh connection lost");
    };
    client.on("error", (err) => drop(err));
    client.on("close", () => drop(new Error("connection closed")));
    this.live = client;
    return client;
  }
}
