import type { SetupCheck } from "../setup-check.js";
import { VastClient } from "./client.js";
import { VastApiError } from "./vast-api-error.js";
import { resolveVastConfig, spotrunKeyPath } from "./vast-config.js";

/** `spotrun setup` for Vast.ai: a key is configured, and the API accepts it. The key is never shown. */
export function setupChecks(opts: { home: string; env?: NodeJS.ProcessEnv }): SetupCheck[] {
  const env = opts.env ?? process.env;
  return [
    {
      id: "vast.api-key",
      title: "Vast.ai API key configured",
      async run() {
        const cfg = await resolveVastConfig(opts.home, env);
        if (!cfg.apiKey)
          return {
            ok: false,
            problem: "no Vast.ai API key (VAST_API_KEY, spotrun config or the vastai CLI's config)",
            fix: `create a key at https://cloud.vast.ai/account/ and export VAST_API_KEY=… or write it to ${spotrunKeyPath(opts.home)} (chmod 600)`,
          };
        return { ok: true, detail: `from ${cfg.keyPath ?? cfg.keySource}` };
      },
    },
    {
      id: "vast.api-reachable",
      title: "Vast.ai API reachable with that key",
      async run() {
        const cfg = await resolveVastConfig(opts.home, env);
        if (!cfg.apiKey) return { ok: false, problem: "skipped: no API key", fix: "fix the API key check first" };
        const client = new VastClient({ apiKey: cfg.apiKey, baseUrl: cfg.baseUrl, timeoutMs: 15_000 });
        try {
          await client.currentUser();
          return { ok: true, detail: cfg.baseUrl };
        } catch (e) {
          if (e instanceof VastApiError && (e.status === 401 || e.status === 403))
            return {
              ok: false,
              problem: `${cfg.baseUrl} rejected the API key (HTTP ${e.status})`,
              fix: "create a new key at https://cloud.vast.ai/account/ and configure it",
            };
          return {
            ok: false,
            problem: `cannot reach ${cfg.baseUrl}: ${(e as Error).message}`,
            fix: "check the network, or VAST_API_URL if you point spotrun at another endpoint",
          };
        }
      },
    },
  ];
}
