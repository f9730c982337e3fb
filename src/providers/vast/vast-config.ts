import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

export const DEFAULT_VAST_API_URL = "https://console.vast.ai/api/v0";

/** Where the key and endpoint were found, so `spotrun setup` can say it without printing the key. */
export type KeySource = "env:VAST_API_KEY" | "spotrun-config" | "vastai-cli-config" | "none";

export interface VastConfig {
  apiKey: string | undefined;
  keySource: KeySource;
  keyPath?: string;
  /** Always ends in `/api/v<N>`, never with a slash. */
  baseUrl: string;
}

const readTrimmed = async (path: string): Promise<string | undefined> => {
  try {
    const s = (await readFile(path, "utf8")).trim();
    return s.length > 0 ? s : undefined;
  } catch {
    return undefined;
  }
};

/** `https://host` → `https://host/api/v0`, as the CLI's `--url` takes the host and adds the prefix. */
export function normalizeBaseUrl(url: string): string {
  const trimmed = url.replace(/\/+$/, "");
  return /\/api\/v\d+$/.test(trimmed) ? trimmed : `${trimmed}/api/v0`;
}

export const spotrunKeyPath = (home: string) => join(home, "config", "vast_api_key");
export const spotrunUrlPath = (home: string) => join(home, "config", "vast_api_url");

/**
 * Key: `VAST_API_KEY`, then `<home>/config/vast_api_key`, then the official CLI's own files
 * (`$XDG_CONFIG_HOME/vastai/vast_api_key`, legacy `~/.vast_api_key`) so `vastai set api-key` users
 * need nothing more. URL: `VAST_API_URL`, then `<home>/config/vast_api_url`, then the public API.
 */
export async function resolveVastConfig(
  home: string,
  env: NodeJS.ProcessEnv = process.env,
  osHome: string = env.HOME || homedir(),
): Promise<VastConfig> {
  const urlRaw = env.VAST_API_URL?.trim() || (await readTrimmed(spotrunUrlPath(home))) || DEFAULT_VAST_API_URL;
  const baseUrl = normalizeBaseUrl(urlRaw);
  const fromEnv = env.VAST_API_KEY?.trim();
  if (fromEnv) return { apiKey: fromEnv, keySource: "env:VAST_API_KEY", baseUrl };
  const own = spotrunKeyPath(home);
  const ownKey = await readTrimmed(own);
  if (ownKey) return { apiKey: ownKey, keySource: "spotrun-config", keyPath: own, baseUrl };
  const xdg = env.XDG_CONFIG_HOME?.trim() || join(osHome, ".config");
  for (const p of [join(xdg, "vastai", "vast_api_key"), join(osHome, ".vast_api_key")]) {
    const k = await readTrimmed(p);
    if (k) return { apiKey: k, keySource: "vastai-cli-config", keyPath: p, baseUrl };
  }
  return { apiKey: undefined, keySource: "none", baseUrl };
}
