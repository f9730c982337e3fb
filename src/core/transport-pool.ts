import type { InstanceInfo, Provider } from "../providers/provider.js";
import type { Transport } from "../transport/transport.js";

/** One transport per instance, opened on first use and closed when the instance ends. */
export class TransportPool {
  private readonly open = new Map<string, Promise<Transport>>();

  get(provider: Provider, info: InstanceInfo): Promise<Transport> {
    let t = this.open.get(info.id);
    if (!t) {
      t = provider.transport(info);
      // A failed connect is not kept: the next use tries again.
      t.catch(() => this.open.delete(info.id));
      this.open.set(info.id, t);
    }
    return t;
  }

  async drop(instanceId: string): Promise<void> {
    const t = this.open.get(instanceId);
    this.open.delete(instanceId);
    await t?.then((x) => x.close()).catch(() => {});
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.open.keys()].map((id) => this.drop(id)));
  }
}
