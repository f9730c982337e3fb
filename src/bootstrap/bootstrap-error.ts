import { errorMessage, SpotrunError } from "../base/errors.js";

/** The steps from "instance running" to "agent running", in order. */
export type BootstrapStep = "connect" | "probe" | "node" | "agent" | "workdir" | "start";

/**
 * Why an instance could not be made to run the agent, naming the instance, the step and the
 * cause with its fix. `retryable` says whether trying the same instance again may work (a lost
 * connection) or cannot (a host key that changed, a full disk, no tar): the controller retries the
 * first until `recovery.setup_timeout` and ends the attempt as a setup failure on the second.
 */
export class BootstrapError extends SpotrunError {
  override readonly name = "BootstrapError";
  constructor(
    readonly instanceId: string,
    readonly step: BootstrapStep,
    cause: string,
    fix: string,
    retryable: boolean,
    opts: { code?: string; cause?: unknown } = {},
  ) {
    super("failed", `instance ${instanceId}: ${cause}`, { fix, retryable, ...opts });
  }
}

export const isBootstrapError = (e: unknown): e is BootstrapError => e instanceof BootstrapError;

/** Error codes of the transport that say the link went, not the machine: trying again may work. */
const TRANSIENT_CODES = new Set(["SSH_DISCONNECTED", "EXEC_TIMEOUT", "SSH_UNREACHABLE", "RSYNC_FAILED"]);

/** Type an error that escaped a step, by its class and code (never its text). */
export function asBootstrapError(instanceId: string, step: BootstrapStep, e: unknown): BootstrapError {
  if (e instanceof BootstrapError) return e;
  if (e instanceof SpotrunError) {
    const retryable = e.code !== undefined && TRANSIENT_CODES.has(e.code);
    const opts = { cause: e, ...(e.code ? { code: e.code } : {}) };
    return new BootstrapError(
      instanceId,
      step,
      `${stepWhat[step]}: ${e.message}`,
      e.fix ?? "see the job's events",
      retryable,
      opts,
    );
  }
  // An untyped error (a socket's ECONNREFUSED) while connecting is the machine not answering yet.
  return new BootstrapError(
    instanceId,
    step,
    `${stepWhat[step]}: ${errorMessage(e)}`,
    step === "connect" ? "check that the instance runs sshd and its port is open" : "rerun with --debug; report it if it repeats",
    step === "connect",
    { cause: e },
  );
}

const stepWhat: Record<BootstrapStep, string> = {
  connect: "cannot connect over SSH",
  probe: "cannot inspect the instance",
  node: "cannot provide Node",
  agent: "cannot upload the agent",
  workdir: "cannot upload the workdir",
  start: "cannot start the agent",
};
