import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { usageError } from "../base/errors.js";
import { GENERATION_NAME, splitGenerationUrl } from "../checkpoints/generations.js";
import { checkStoreUrl, openCheckpointStore } from "../checkpoints/open-store.js";
import type { StateStore } from "../state/state-store.js";

/** How many of this home's newest jobs a bare generation name is looked for in. */
const JOBS_SEARCHED = 50;
const FIX = "give a job id, a checkpoint store URL, or a URL ending in a generation (see `spotrun status JOB`)";

/**
 * What `checkpoint.resume_from` (`--resume-from`) names, as one store URL ending in a verified
 * generation: a job (its newest checkpoint), `JOB/GENERATION`, a store URL or path (its newest),
 * a URL ending in a generation, or a bare generation of one of this home's recent jobs. Checked
 * now, so a resume that would silently start from scratch is refused at submit.
 */
export async function resolveResumeFrom(store: StateStore, ref: string, baseDir: string, field: string): Promise<string> {
  const where = `${field} ${JSON.stringify(ref)}`;
  let storeUrl: string;
  let generation: string | undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\//.test(ref) || isAbsolute(ref) || ref.startsWith(".")) {
    const url = ref.includes("://") ? ref : pathToFileURL(resolve(baseDir, ref)).href;
    checkStoreUrl(url, where);
    ({ storeUrl, generation } = splitGenerationUrl(url));
  } else if (GENERATION_NAME.test(ref)) {
    for (const job of await store.jobs({ limit: JOBS_SEARCHED })) {
      const verified = await (await openCheckpointStore(job.store_url)).verified().catch(() => []);
      if (verified.some((m) => m.generation === ref)) return `${job.store_url}/${ref}`;
    }
    throw usageError(`${where}: no checkpoint ${ref} among this home's last ${JOBS_SEARCHED} jobs`, FIX);
  } else {
    const [jobRef = "", gen] = ref.split("/");
    const job = await store.findJob(jobRef);
    if (!job) throw usageError(`${where}: no job ${JSON.stringify(jobRef)} and not a store URL`, FIX);
    if (gen !== undefined && !GENERATION_NAME.test(gen))
      throw usageError(`${where}: ${JSON.stringify(gen)} is not a generation name (g-NNNNNN-…)`, FIX);
    storeUrl = job.store_url;
    generation = gen;
  }
  const verified = await (await openCheckpointStore(storeUrl)).verified();
  const m = generation ? verified.find((v) => v.generation === generation) : verified[0];
  if (!m)
    throw usageError(
      `${where}: ${generation ? `no verified checkpoint ${generation} in` : "no verified checkpoint in"} ${storeUrl}`,
      verified.length ? `its checkpoints: ${verified.map((v) => v.generation).join(", ")}` : FIX,
    );
  return `${storeUrl}/${m.generation}`;
}
