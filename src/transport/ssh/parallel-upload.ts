import type { SyncOptions } from "../transport.js";
import type { NamedTransport } from "./parallel-exec.js";

export interface ParallelUploadResult {
  ok: boolean;
  /** Names of nodes the workdir did not reach, with why. */
  failed: { name: string; error: unknown }[];
  /** Seconds each node took, for the progress line. */
  seconds: Record<string, number>;
}

/**
 * Ship one workdir to every node at once. Every node is waited for, so a job learns all the
 * nodes that failed in one go rather than the first; the file walk is shared by the uploads.
 */
export async function parallelUpload(
  hosts: NamedTransport[],
  localDir: string,
  remoteDir: string,
  opts: SyncOptions = {},
): Promise<ParallelUploadResult> {
  const seconds: Record<string, number> = {};
  const failed: { name: string; error: unknown }[] = [];
  await Promise.all(
    hosts.map(async ({ name, transport }) => {
      const t0 = performance.now();
      try {
        await transport.upload(localDir, remoteDir, opts);
      } catch (error) {
        failed.push({ name, error });
      } finally {
        seconds[name] = (performance.now() - t0) / 1000;
      }
    }),
  );
  failed.sort((a, b) => hosts.findIndex((h) => h.name === a.name) - hosts.findIndex((h) => h.name === b.name));
  return { ok: failed.length === 0, failed, seconds };
}
