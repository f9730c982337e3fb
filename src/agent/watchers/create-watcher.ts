import type { NoticeWatcher } from "../notice.js";
import type { AgentConfig } from "../protocol.js";
import { ImdsWatcher } from "./imds-watcher.js";

/** The watcher for the instance's provider; providers without an on-instance notice get none. */
export async function createWatcher(cfg: AgentConfig): Promise<NoticeWatcher | undefined> {
  switch (cfg.notice.source) {
    case "aws-imds":
      return new ImdsWatcher({ pollMs: cfg.notice.poll_ms });
    case "gce-metadata": {
      const path = "./gce-metadata-watcher.js";
      const mod = (await import(path)) as { GceMetadataWatcher: new (o: { pollMs?: number }) => NoticeWatcher };
      return new mod.GceMetadataWatcher({ pollMs: cfg.notice.poll_ms });
    }
    case "none":
      return undefined;
  }
}
