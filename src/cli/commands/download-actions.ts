/** What `spotrun download` does, imported only when it runs (its flags are defined in download.ts). */
import { resolve } from "node:path";
import { notFound, usageError } from "../../base/errors.js";
import type { Task } from "../../spec/task-schema.js";
import { openApp } from "../app.js";
import type { CommandContext, CommandResult } from "../command.js";

export async function download(ctx: CommandContext, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const [ref, remote, local] = args as [string, string, string | undefined];
  const app = await openApp(ctx);
  try {
    const job = await app.store.findJob(ref);
    if (!job) throw notFound(`no job ${ref}`, "list jobs with `spotrun status --all`");
    const node = Number(opts.node);
    const row = (await app.store.instances({ jobId: job.id, attempt: job.attempt, live: true })).find((i) => i.node === node);
    if (!row)
      throw usageError(
        `job ${job.id} has no running instance for node ${node} (state ${job.state})`,
        "results of a finished job are in its checkpoint store; see `spotrun status JOB`",
      );
    const task = JSON.parse(job.task_json) as Task;
    const provider = await app.providers.get(task.resources.provider);
    const [info] = await provider.describe([row.id]);
    if (info?.status !== "running") throw usageError(`instance ${row.id} is not running`, "try again once the job is RUNNING");
    const t = await provider.transport(info);
    const dest = resolve(local ?? remote.split("/").filter(Boolean).at(-1) ?? ".");
    try {
      await t.download(remote, dest);
    } finally {
      await t.close();
    }
    return {
      data: { id: job.id, instance_id: row.id, remote_path: remote, local_path: dest },
      human: `${row.id}:${remote} → ${dest}`,
    };
  } finally {
    await app.close();
  }
}
