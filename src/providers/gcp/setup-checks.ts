import { access, readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { CheckOutcome, SetupCheck } from "../setup-check.js";
import { closeGcpClients, createGcpClients, type GcpClients } from "./gcp-clients.js";
import { classifyError, gcpErrorInfo, isServiceDisabled } from "./gcp-errors.js";

/**
 * `spotrun setup` for Google Cloud (SpotJAX's prerequisite checker): Application Default
 * Credentials, a project, the Compute and TPU APIs answering with those credentials, and an SSH
 * key (or OS Login). Each failure says the command that fixes it.
 */
export interface GcpSetupOptions {
  home: string;
  env?: NodeJS.ProcessEnv;
  /** Clients to probe the APIs with (default: built from ADC). */
  clients?: GcpClients;
}

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/** Where Google's libraries look for ADC: GOOGLE_APPLICATION_CREDENTIALS, then gcloud's well-known file. */
export function adcPath(env: NodeJS.ProcessEnv): { path: string; fromEnv: boolean } {
  if (env.GOOGLE_APPLICATION_CREDENTIALS) return { path: env.GOOGLE_APPLICATION_CREDENTIALS, fromEnv: true };
  const config =
    env.CLOUDSDK_CONFIG ??
    (process.platform === "win32" ? join(env.APPDATA ?? "", "gcloud") : join(env.HOME ?? homedir(), ".config", "gcloud"));
  return { path: join(config, "application_default_credentials.json"), fromEnv: false };
}

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** The project the libraries would use: env, then the ADC file's project (service account or quota project). */
export async function findProject(env: NodeJS.ProcessEnv): Promise<{ project: string; from: string } | undefined> {
  for (const k of ["GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT"] as const) if (env[k]) return { project: env[k] as string, from: k };
  const adc = await readJson(adcPath(env).path);
  for (const k of ["project_id", "quota_project_id"] as const)
    if (typeof adc?.[k] === "string" && adc[k]) return { project: adc[k] as string, from: `ADC ${k}` };
  return undefined;
}

/** The key spotrun's own setup check makes (`spotrun setup --fix`); its `.pub` goes into the VMs' `ssh-keys` metadata. */
export const gcpSshKeyPath = (home: string) => join(home, "keys", "id_ed25519");

async function probe(opts: GcpSetupOptions, api: "compute" | "tpu"): Promise<CheckOutcome> {
  const env = opts.env ?? process.env;
  const found = await findProject(env);
  if (!found) return { ok: false, problem: "skipped: no project", fix: "fix the project check first" };
  const service = api === "compute" ? "compute.googleapis.com" : "tpu.googleapis.com";
  const clients = opts.clients ?? (await createGcpClients());
  try {
    if (api === "compute") await clients.regions.list({ project: found.project, maxResults: 1 }, { autoPaginate: false });
    else await clients.tpu.listNodes({ parent: `projects/${found.project}/locations/-`, pageSize: 1 }, { autoPaginate: false });
    return { ok: true, detail: `${service} answers for ${found.project}` };
  } catch (e) {
    if (isServiceDisabled(e))
      return {
        ok: false,
        problem: `${service} is not enabled in ${found.project}`,
        fix: `gcloud services enable ${service} --project ${found.project}`,
      };
    const info = gcpErrorInfo(e);
    if (info?.httpStatus === 401 || info?.status === "UNAUTHENTICATED")
      return { ok: false, problem: `${service} rejected the credentials`, fix: "gcloud auth application-default login" };
    if (info?.httpStatus === 403 || info?.status === "PERMISSION_DENIED")
      return {
        ok: false,
        problem: `the credentials may not use ${service} in ${found.project}`,
        fix: `grant ${api === "compute" ? "roles/compute.instanceAdmin.v1" : "roles/tpu.admin"} (see docs/gcp/README.md)`,
      };
    const c = classifyError(e);
    return {
      ok: false,
      problem: `cannot reach ${service}: ${"code" in c ? c.code : c.kind}`,
      fix: "check the network and proxy settings, then rerun spotrun setup",
    };
  } finally {
    if (!opts.clients) await closeGcpClients(clients);
  }
}

export function setupChecks(opts: GcpSetupOptions): SetupCheck[] {
  const env = opts.env ?? process.env;
  return [
    {
      id: "gcp.adc",
      title: "Google Application Default Credentials present",
      async run() {
        const { path, fromEnv } = adcPath(env);
        if (!(await exists(path)))
          return fromEnv
            ? {
                ok: false,
                problem: `GOOGLE_APPLICATION_CREDENTIALS points at ${path}, which does not exist`,
                fix: "point it at a key or credentials file, or unset it and run gcloud auth application-default login",
              }
            : {
                ok: false,
                problem: `no Application Default Credentials at ${path}`,
                fix: "gcloud auth application-default login",
              };
        const adc = await readJson(path);
        if (!adc || typeof adc.type !== "string")
          return { ok: false, problem: `${path} is not a credentials file`, fix: "gcloud auth application-default login" };
        return { ok: true, detail: `${adc.type} from ${path}` };
      },
    },
    {
      id: "gcp.project",
      title: "Google Cloud project set",
      async run() {
        const found = await findProject(env);
        if (!found)
          return {
            ok: false,
            problem: "no project: GOOGLE_CLOUD_PROJECT is unset and the credentials name none",
            fix: "export GOOGLE_CLOUD_PROJECT=<your-project-id>",
          };
        return { ok: true, detail: `${found.project} (from ${found.from})` };
      },
    },
    { id: "gcp.compute-api", title: "Compute Engine API reachable", run: () => probe(opts, "compute") },
    { id: "gcp.tpu-api", title: "Cloud TPU API reachable (only needed for TPU tasks)", run: () => probe(opts, "tpu") },
    {
      id: "gcp.ssh",
      title: "SSH key for GCP instances (or OS Login)",
      async run() {
        const key = gcpSshKeyPath(opts.home);
        if (await exists(key))
          return {
            ok: true,
            detail: `${key}; spotrun puts ${key}.pub in the instance's ssh-keys metadata (with OS Login instead: gcloud compute os-login ssh-keys add --key-file=${key}.pub)`,
          };
        return {
          ok: false,
          problem: `no SSH key at ${key} for GCP instances`,
          fix: `spotrun setup --fix (or ssh-keygen -t ed25519 -N '' -f ${key}); with OS Login also: gcloud compute os-login ssh-keys add --key-file=${key}.pub`,
        };
      },
    },
  ];
}
