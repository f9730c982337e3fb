import { importCloud } from "../base/cloud-sdk.js";
import { usageError } from "../base/errors.js";
import type { ProviderKind } from "../spec/task-limits.js";

/** What `spotrun catalog update` asks a provider: refresh its price catalog under `<home>/catalog/`. */
export interface CatalogUpdateRequest {
  home: string;
  /** Regions and types to price; undefined: those of the shipped catalog. */
  regions: string[] | undefined;
  types: string[] | undefined;
  /** A price the provider's API did not give (the shipped one stays), for a person. */
  warn(message: string): void;
}

export interface CatalogUpdate {
  /** What `--json` prints: the catalog's id, path, regions and prices. */
  data: Record<string, unknown>;
  /** One line for a person. */
  summary: string;
}

export type CatalogUpdater = (req: CatalogUpdateRequest) => Promise<CatalogUpdate>;

/** The providers with a price API to refresh from; each import named in full (a missing SDK is one line). */
const UPDATERS: Partial<Record<ProviderKind, () => Promise<CatalogUpdater>>> = {
  aws: () => importCloud("aws", "spotrun catalog update", async () => (await import("./aws/update-catalog.js")).updateCatalog),
  gcp: () =>
    importCloud(
      "gcp",
      "spotrun catalog update --provider gcp",
      async () => (await import("./gcp/update-catalog.js")).updateCatalog,
    ),
};

export async function catalogUpdater(kind: ProviderKind): Promise<CatalogUpdater> {
  const load = UPDATERS[kind];
  if (!load)
    throw usageError(
      `the ${kind} provider has no price catalog to update`,
      `use --provider ${Object.keys(UPDATERS).join(" or ")}`,
    );
  return load();
}
