/** The `spotrun volume …` commands: a session's persistent volume. Imported when the command runs (its definition is in volume.ts). */
import { usageError } from "../../base/errors.js";
import { type DiskResize, resizeProviderVolume } from "../../sessions/provider-volume.js";
import { listSessions, requireSession, writeSession } from "../../sessions/session-registry.js";
import { gcpDiskName } from "../../sessions/session-task.js";
import { formatSize, parseSize } from "../../sessions/size.js";
import { FILL_WARNING, localVolumeDir, readVolumeMeta, usedBytes, writeVolumeMeta } from "../../sessions/volume.js";
import { openApp } from "../app.js";
import type { CommandContext, CommandResult } from "../command.js";
import { table } from "../output.js";

export async function volumeList(ctx: CommandContext): Promise<CommandResult> {
  const rows = await Promise.all(
    listSessions(ctx.home).map(async (s) => {
      const local = s.session.resources.provider === "local";
      const path = local ? localVolumeDir(ctx.home, s.name) : null;
      const meta = path ? await readVolumeMeta(path) : undefined;
      const size = meta?.size_bytes ?? s.session.volume.size;
      const used = path ? await usedBytes(path) : null;
      return {
        id: s.name,
        session: s.name,
        provider: s.session.resources.provider,
        path,
        size_bytes: size,
        used_bytes: used,
        used_pct: used === null ? null : Math.round((1000 * used) / size) / 10,
        filling: used !== null && used >= size * FILL_WARNING,
      };
    }),
  );
  for (const r of rows.filter((x) => x.filling))
    ctx.out.warn(`volume ${r.id} is ${r.used_pct}% full — grow it with \`spotrun volume resize ${r.id} SIZE\``);
  const human = rows.length
    ? await table(
        ["VOLUME", "PROVIDER", "SIZE", "USED", "PATH"],
        rows.map((r) => [
          r.id,
          r.provider,
          formatSize(r.size_bytes),
          r.used_bytes === null ? "-" : `${formatSize(r.used_bytes)} (${r.used_pct}%)`,
          r.path ?? "(instance disk + snapshots)",
        ]),
      )
    : "no volumes";
  return { data: { volumes: rows }, human };
}

export async function volumeResize(ctx: CommandContext, args: string[]): Promise<CommandResult> {
  const name = args[0] as string;
  const rec = requireSession(ctx.home, name);
  const size = parseSize(args[1] as string);
  if (size === undefined) throw usageError(`${args[1]} is not a size`, "write it like 20GB or 512MB");
  const path = localVolumeDir(ctx.home, name);
  const meta = await readVolumeMeta(path);
  const current = meta?.size_bytes ?? rec.session.volume.size;
  if (size < current)
    throw usageError(`volume ${name} is ${formatSize(current)}; it can only grow`, `give a size above ${formatSize(current)}`);
  const provider = rec.session.resources.provider;
  let disk: DiskResize | undefined;
  if (provider === "local")
    await writeVolumeMeta(path, { session: name, created_at: meta?.created_at ?? Date.now(), size_bytes: size });
  else if (provider === "gcp") {
    const app = await openApp(ctx);
    try {
      disk = await resizeProviderVolume(await app.providers.get("gcp"), gcpDiskName(name), size);
    } finally {
      await app.close();
    }
  }
  await writeSession(ctx.home, { ...rec, session: { ...rec.session, volume: { size } } });
  return {
    data: {
      id: name,
      size_bytes: size,
      previous_size_bytes: current,
      ...(disk && disk.kind !== "no_disks" ? { disk: { name: gcpDiskName(name), ...disk } } : {}),
    },
    human: `volume ${name}: ${formatSize(current)} → ${formatSize(size)}${disk?.kind === "resized" ? ` (disk ${gcpDiskName(name)} in ${disk.zone}: ${disk.size_gb} GB)` : ""}`,
  };
}
