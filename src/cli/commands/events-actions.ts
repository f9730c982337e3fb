/** What `spotrun events` does, imported only when it runs (its flags are defined in events.ts). */
import { describeEvent } from "../../api/describe-event.js";
import type { EventView } from "../../api/job-events.js";
import { isTerminal } from "../../core/job-state.js";
import { openApp } from "../app.js";
import type { CommandContext, CommandResult } from "../command.js";

/** A person's line for any event: what follow prints where it has words for it, else the fields. */
function humanLine(e: EventView): string {
  const { seq: _s, at, kind, ...rest } = e;
  const text =
    describeEvent(kind, rest) ??
    Object.entries(rest)
      .map(([k, x]) => `${k}=${typeof x === "string" ? x : JSON.stringify(x)}`)
      .join(" ");
  return `${at}  ${kind.padEnd(19)}  ${text}`;
}

export async function events(ctx: CommandContext, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const app = await openApp(ctx);
  try {
    const kinds = opts.kind === undefined ? undefined : String(opts.kind).split(",");
    const keep = (e: EventView) => !kinds || kinds.includes(e.kind);
    if (!opts.follow) {
      // Reading the log starts no controller: a plain look changes nothing.
      const doc = await app.events(args[0] as string);
      const events = doc.events.filter(keep);
      return { data: { ...doc, events }, human: events.length ? events.map(humanLine).join("\n") : "no events" };
    }
    await app.ensureController();
    let seq = 0;
    for (;;) {
      const doc = await app.events(args[0] as string, { afterSeq: seq });
      for (const e of doc.events) if (keep(e)) ctx.out.line(humanLine(e), { job_id: doc.id, ...e });
      seq = doc.next_seq;
      if (isTerminal(doc.state) || ctx.signal.aborted) {
        const rest = await app.events(doc.id, { afterSeq: seq });
        for (const e of rest.events) if (keep(e)) ctx.out.line(humanLine(e), { job_id: doc.id, ...e });
        return {};
      }
      await app.clock.sleep(200, ctx.signal).catch(() => {});
    }
  } finally {
    await app.close();
  }
}
