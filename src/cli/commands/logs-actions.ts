/** What `spotrun logs` does, imported only when it runs (its flags are defined in logs.ts). */
import { usageError } from "../../base/errors.js";
import { openApp } from "../app.js";
import type { CommandContext, CommandResult } from "../command.js";
import { followJob } from "../follow-job.js";

function wholeNumber(flag: string, v: unknown): number {
  const n = Number(v);
  if (!/^\d+$/.test(String(v)) || !Number.isSafeInteger(n))
    throw usageError(`${flag}: expected a whole number ≥ 0, got ${JSON.stringify(v)}`, `give ${flag} a number such as 20`);
  return n;
}

export async function logs(ctx: CommandContext, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const app = await openApp(ctx);
  try {
    const job = await app.jobRow(args[0] as string);
    await app.ensureController();
    if (opts.follow) {
      const state = await followJob(app.store, ctx.home, job.id, ctx.out, { signal: ctx.signal });
      return { exitCode: state === "SUCCEEDED" || state === "RUNNING" ? 0 : state === "CANCELLED" ? 0 : 1 };
    }
    const read = await app.logs(job.id, {
      ...(opts.tail !== undefined ? { tail: wholeNumber("--tail", opts.tail) } : {}),
      ...(opts.since !== undefined ? { since: wholeNumber("--since", opts.since) } : {}),
    });
    if (ctx.json)
      return { data: { id: read.id, state: read.state, log: read.text, offset: read.offset, next_offset: read.next_offset } };
    process.stdout.write(read.text);
    return {};
  } finally {
    await app.close();
  }
}
