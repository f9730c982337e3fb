import { shellQuote } from "../base/shell-quote.js";

/**
 * Cloud instances install spotrun from their startup script (GCE startup-script, Vast onstart),
 * which runs beside the controller's first SSH login. Both providers mark the outcome in the same
 * place, and the agent command waits for it before it runs spotrun.
 */
export const READY_MARKER = "/var/lib/spotrun/agent-ready";
export const FAILED_MARKER = "/var/lib/spotrun/agent-install-failed";

/** `sh -c` that waits up to `waitSeconds` for the ready marker (failing at once on the failed one), then runs spotrun. */
export function waitForInstallThenRun(opts: { waitSeconds: number; log: string; what: string; root?: string }): string {
  const root = opts.root ?? "";
  const ready = shellQuote(`${root}${READY_MARKER}`);
  const failed = shellQuote(`${root}${FAILED_MARKER}`);
  const script = `i=0; while [ ! -e ${ready} ]; do if [ -e ${failed} ]; then cat ${failed} >&2; exit 1; fi; i=$((i+1)); if [ $i -gt ${opts.waitSeconds} ]; then echo "spotrun agent: ${opts.what} install not done after ${opts.waitSeconds}s (see ${opts.log})" >&2; exit 1; fi; sleep 1; done; exec spotrun "$@"`;
  return `sh -c ${shellQuote(script)} spotrun`;
}
