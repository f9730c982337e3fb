import type { NoticeWatcher } from "../notice.js";
import type { AgentConfig } from "../protocol.js";
import { ImdsWatcher } from "./imds-watcher.js";

/** The watcher for the instance's provider; providers without an on-instance notice get none. */
export async function createWatcher(cfg: AgentConfig): Promise<NoticeWatcher | undefined> {
  switch (cfg.notice.source) {
    case "aws-imds":
      return new ImdsWatcher({ pollMs: cfg.notice.poll_ms });
    case "gce-metadata": {
      const { GceMetadataWatcher } = await import("./gce-metadata-watcher.js");
      // It long-polls the metadata server (`wait_for_change`), so it takes no poll interval.
      return new GceMetadataWatcher();
    }
    case "none":
      return undefined;
  }
}
