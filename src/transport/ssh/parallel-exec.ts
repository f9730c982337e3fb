import { errorMessage, SpotrunError } from "../../base/errors.js";
import type { ExecOptions, ExecResult, Transport } from "../transport.js";

/** One host of a fan-out and the name its log lines carry (`node-1`). */
export interface NamedTransport {
  name: string;
  transport: Transport;
}

export type HostOutcome =
  | { kind: "exited"; name: string; exitCode: number | null; signal: string | null; result: ExecResult }
  | { kind: "error"; name: string; error: unknown };

export interface ParallelExecResult {
  ok: boolean;
  outcomes: HostOutcome[];
  /** Names of hosts that did not exit 0 (non-zero exit, signal, or no answer). */
  failed: string[];
  exitCodes: Record<string, number | null>;
}

export interface ParallelExecOptions extends Omit<ExecOptions, "onStdout" | "onStderr" | "env"> {
  /** Per-host environment (SPOT_WORKER_ID differs per node), merged over `env`. */
  env?: Record<string, string>;
  envFor?: (name: string, index: number) => Record<string, string>;
  /** Receives every complete output line, already prefixed: `[node-1] epoch 3`. */
  onLine?: (line: string, from: { name: string; stream: "stdout" | "stderr" }) => void;
}

/** Run one command on every host at once; every host is waited for, and each one's fate is reported. */
export async function parallelExec(
  hosts: NamedTransport[],
  command: string,
  opts: ParallelExecOptions = {},
): Promise<ParallelExecResult> {
  const { envFor, onLine, env, ...rest } = opts;
  const outcomes = await Promise.all(
    hosts.map(async ({ name, transport }, i): Promise<HostOutcome> => {
      const out = lineSplitter((l) => onLine?.(`[${name}] ${l}`, { name, stream: "stdout" }));
      const err = lineSplitter((l) => onLine?.(`[${name}] ${l}`, { name, stream: "stderr" }));
      try {
        const result = await transport.exec(command, {
          ...rest,
          env: { ...env, ...envFor?.(name, i) },
          onStdout: out.push,
          onStderr: err.push,
        });
        return { kind: "exited", name, exitCode: result.exitCode, signal: result.signal, result };
      } catch (error) {
        return { kind: "error", name, error };
      } finally {
        out.flush();
        err.flush();
      }
    }),
  );
  const failed = outcomes.filter((o) => o.kind === "error" || o.exitCode !== 0).map((o) => o.name);
  const exitCodes = Object.fromEntries(outcomes.map((o) => [o.name, o.kind === "exited" ? o.exitCode : null]));
  return { ok: failed.length === 0, outcomes, failed, exitCodes };
}

/** One line for a person: which hosts failed and how. */
export function describeFailures(r: ParallelExecResult): string {
  return r.outcomes
    .filter((o) => r.failed.includes(o.name))
    .map((o) =>
      o.kind === "error"
        ? `${o.name}: ${o.error instanceof SpotrunError ? o.error.oneLine() : errorMessage(o.error)}`
        : `${o.name}: ${o.signal ? `killed by ${o.signal}` : `exit ${o.exitCode}`}`,
    )
    .join("; ");
}

/** Chunks in, whole lines out; a last line without a newline is flushed at the end. */
function lineSplitter(emit: (line: string) => void) {
  let buf = "";
  return {
    push: (chunk: string) => {
      buf += chunk;
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        emit(buf.slice(0, nl).replace(/\r$/, ""));
        buf = buf.slice(nl + 1);
        nl = buf.indexOf("\n");
      }
    },
    flush: () => {
      if (buf) emit(buf);
      buf = "";
    },
  };
}
