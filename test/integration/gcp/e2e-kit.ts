import { silentLogger } from "../../../src/base/logger.js";
import type { Provider } from "../../../src/providers/provider.js";
import { ProviderCache } from "../../../src/providers/registry.js";
import type { ProviderKind } from "../../../src/spec/task-schema.js";
import type { Transport } from "../../../src/transport/transport.js";

/** The controller's provider cache, answering with the one provider under test. */
export class FixedProviders extends ProviderCache {
  constructor(private readonly p: Provider) {
    super({ home: "", logger: silentLogger });
  }
  override get(_kind: ProviderKind): Promise<Provider> {
    return Promise.resolve(this.p);
  }
}

/**
 * The loopback hosts all log in as this machine's root, whose $HOME is shared; on a real cloud each
 * VM or TPU worker is its own machine with its own $HOME. Each command runs with HOME set to the
 * host's home.
 */
export function withHome(t: Transport, home: string): Transport {
  const exportHome = `export HOME='${home.replace(/'/g, `'\\''`)}'\n`;
  return {
    label: t.label,
    home: t.home,
    exec: (command, opts) => t.exec(exportHome + command, opts),
    readFile: (p, o) => t.readFile(p, o),
    writeFile: (p, d) => t.writeFile(p, d),
    upload: (a, b, o) => t.upload(a, b, o),
    download: (a, b) => t.download(a, b),
    close: () => t.close(),
  };
}

/** The agent's own event log on a host (`~/.spotrun/events.jsonl`). */
export function agentEvents(text: string): { kind: string; source?: string; action?: string }[] {
  return text
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { kind: string; source?: string; action?: string });
}
