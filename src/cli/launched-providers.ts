import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PROVIDERS, type ProviderKind } from "../spec/task-schema.js";

/**
 * `spotrun launch` keeps no record of its instances (they are found by their tags, at the
 * provider), so it notes here which providers it has launched on: `spotrun list` then asks exactly
 * those, and never spends a cloud call on a provider spotrun never used.
 */
const file = (home: string) => join(home, "launched-providers");

export function recordLaunchProvider(home: string, kind: ProviderKind): void {
  if (launchedProviders(home).includes(kind)) return;
  mkdirSync(home, { recursive: true });
  appendFileSync(file(home), `${kind}\n`);
}

export function launchedProviders(home: string): ProviderKind[] {
  let text = "";
  try {
    text = readFileSync(file(home), "utf8");
  } catch {
    return [];
  }
  const kinds = new Set(text.split("\n").map((l) => l.trim()));
  return PROVIDERS.filter((k) => kinds.has(k));
}
