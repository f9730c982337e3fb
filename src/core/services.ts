import type { Clock } from "../base/clock.js";
import type { ProviderCache } from "../providers/registry.js";
import type { StateStore } from "../state/state-store.js";

/** What code that acts on jobs needs from the composition root (src/index.ts): the store, providers and a clock. */
export interface Services {
  readonly store: StateStore;
  readonly providers: ProviderCache;
  readonly clock: Clock;
}
