import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";

/**
 * Host keys are pinned per instance, never per address: a cloud hands a released public IP (and
 * Vast a host:port) to the next instance, which has a key of its own, so a pin by address would
 * refuse it as HOST_KEY_CHANGED. Each instance gets its own known_hosts file under `dir`, in
 * OpenSSH's format (the system ssh that rsync and `session attach` run reads it too), and the
 * provider removes it when it ends the instance.
 */
export function hostPinPath(dir: string, instanceId: string): string {
  return join(dir, "known_hosts.d", fileName(instanceId));
}

// Only characters OpenSSH takes literally in UserKnownHostsFile (it expands '%' tokens).
const fileName = (id: string) => id.replace(/[^A-Za-z0-9._-]/g, "_");

/**
 * Forget the pins of instances that ended, and of every instance whose id starts with one of
 * `prefixes` (the workers of a TPU slice, which end together).
 */
export async function dropHostPins(dir: string, instanceIds: readonly string[], prefixes: readonly string[] = []): Promise<void> {
  await Promise.all(instanceIds.map((id) => rm(hostPinPath(dir, id), { force: true })));
  if (prefixes.length === 0) return;
  const names = await readdir(join(dir, "known_hosts.d")).catch(() => [] as string[]);
  const starts = prefixes.map(fileName);
  await Promise.all(
    names.filter((n) => starts.some((p) => n.startsWith(p))).map((n) => rm(join(dir, "known_hosts.d", n), { force: true })),
  );
}
