/** What `spotrun chaos interrupt` does, imported only when it runs (its flags are defined in chaos.ts). */
import { parseDuration } from "../../base/duration.js";
import { usageError } from "../../base/errors.js";
import { InstanceId } from "../../base/ids.js";
import { openApp } from "../app.js";
import type { CommandContext, CommandResult } from "../command.js";

export async function chaosInterrupt(ctx: CommandContext, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  let noticeMs: number | undefined;
  if (opts.notice !== undefined) {
    noticeMs = parseDuration(String(opts.notice));
    if (noticeMs === undefined) throw usageError(`--notice ${opts.notice} is not a duration`, "write it like 10s or 2m");
  }
  const app = await openApp(ctx);
  try {
    const provider = await app.providers.get("local");
    if (!provider.interrupt) throw new Error(`bug: the ${provider.kind} provider cannot interrupt instances`);
    const n = await provider.interrupt(InstanceId(args[0] as string), noticeMs);
    const time = new Date(n.time).toISOString();
    return { data: { id: args[0], action: n.action, time }, human: `${args[0]}: ${n.action} notice, reclaimed at ${time}` };
  } finally {
    await app.close();
  }
}
