import { homedir } from "node:os";
import { join } from "node:path";
import type { Offer, OfferQuery } from "../provider.js";
import { VastClient } from "./client.js";
import { applyRentedFilter, toOffer } from "./offer-mapping.js";
import { buildSearchBody } from "./query.js";
import type { FieldFilter } from "./wire.js";

export interface SearchOffersOptions extends OfferQuery {
  /** spotrun home, for the API key and URL (see vast-config.ts); default $SPOTRUN_HOME or ~/.spotrun. */
  home?: string;
}

/**
 * `spotrun offers QUERY --provider vast`: the Vast query language to priced Offers, in the order
 * the API returned them. Throws SpotrunError (usage) on a bad query, VastApiError on an API failure.
 */
export async function searchOffers(query: string, opts: SearchOffersOptions): Promise<Offer[]> {
  const client = await VastClient.fromConfig(opts.home ?? process.env.SPOTRUN_HOME ?? join(homedir(), ".spotrun"));
  return searchOffersWith(client, query, opts);
}

/** The same search on a client the caller holds (the provider's, metered by its call budget). Order defaults to the CLI's `score-`. */
export async function searchOffersWith(client: VastClient, query: string, opts: OfferQuery = {}): Promise<Offer[]> {
  const type = opts.type ?? "on-demand";
  const body = buildSearchBody(query, { order: opts.order, limit: opts.limit, type });
  const raw = await client.searchOffers(body);
  const kept = applyRentedFilter(raw, body.rented as FieldFilter | undefined);
  return kept.map((o) => toOffer(o, type));
}
