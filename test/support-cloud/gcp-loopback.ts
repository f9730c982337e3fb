import assert from "node:assert/strict";
import { parseGcpId } from "../../src/providers/gcp/gcp-instance-id.js";
import { GcpProvider, type GcpProviderOptions } from "../../src/providers/gcp/gcp-provider.js";
import type { LoopbackSshHost } from "../../src/providers/local/ssh-hosts/ssh-host.js";
import type { InstanceInfo } from "../../src/providers/provider.js";
import type { Transport } from "../../src/transport/transport.js";
import type { MetadataServer } from "../servers/gcp/metadata-server.js";
import { loopbackTransport } from "./managed-job-kit.js";

/** Where a GCP instance of a test lives on this machine: its sshd and its metadata server. */
export interface LoopbackMachine {
  host: LoopbackSshHost;
  metadata: MetadataServer;
}

export interface LoopbackGcpOptions {
  machine: (info: InstanceInfo) => LoopbackMachine;
  knownHostsPath: string;
  /** More environment for the agent (the GCS emulator's address). */
  env?: Record<string, string>;
  /** Checks the address the provider found for the instance (from the API's answer). */
  checkAddress?: (info: InstanceInfo) => void;
}

/** The GcpProvider with its machines on this one: each VM or TPU worker a loopback sshd with its own metadata server. */
export class LoopbackGcpProvider extends GcpProvider {
  constructor(
    opts: GcpProviderOptions,
    private readonly loopback: LoopbackGcpOptions,
  ) {
    super(opts);
  }
  /** These loopback machines do not run the boot script (its markers would be this machine's own /var/lib). */
  override bootMarkers(): undefined {
    return undefined;
  }
  override agentEnv(info: InstanceInfo): Record<string, string> {
    return { GCE_METADATA_HOST: this.loopback.machine(info).metadata.host, ...this.loopback.env };
  }
  override async transport(info: InstanceInfo): Promise<Transport> {
    this.loopback.checkAddress?.(info);
    return loopbackTransport(this.loopback.machine(info).host, this.loopback.knownHostsPath);
  }
}

/**
 * VMs in order of first sight: VM k (`order[k]`, its name) is host k with metadata server k. The
 * arrays are read at each call, so they may be filled after this is made (in `before`).
 */
export function vmsInOrder(
  hosts: readonly LoopbackSshHost[],
  metadata: readonly MetadataServer[],
): { order: string[]; machine: (info: InstanceInfo) => LoopbackMachine } {
  const order: string[] = [];
  return {
    order,
    machine: (info) => {
      const ref = parseGcpId(info.id);
      assert.ok(ref?.kind === "vm", `not a VM id: ${info.id}`);
      if (!order.includes(ref.name)) order.push(ref.name);
      const k = order.indexOf(ref.name);
      const host = hosts[k];
      const meta = metadata[k];
      assert.ok(host && meta, `no machine for ${info.id}`);
      return { host, metadata: meta };
    },
  };
}
