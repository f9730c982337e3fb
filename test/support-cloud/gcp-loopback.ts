import assert from "node:assert/strict";
import { parseGcpId } from "../../src/providers/gcp/gcp-instance-id.js";
import { GcpProvider, type GcpProviderOptions } from "../../src/providers/gcp/gcp-provider.js";
import type { BareSshHost, LoopbackSshHost } from "../../src/providers/local/ssh-hosts/ssh-host.js";
import type { InstanceInfo } from "../../src/providers/provider.js";
import type { Transport } from "../../src/transport/transport.js";
import type { MetadataServer } from "../servers/gcp/metadata-server.js";
import { bareTransport, loopbackTransport } from "./managed-job-kit.js";

/** Where a GCP instance of a test lives on this machine: its sshd and its metadata server. */
export interface LoopbackMachine {
  /** A loopback sshd sharing this machine, or a bare host with a root of its own that boots from the metadata's startup-script. */
  host: LoopbackSshHost | BareSshHost;
  metadata: MetadataServer;
}

export interface LoopbackGcpOptions {
  machine: (info: InstanceInfo) => LoopbackMachine;
  knownHostsPath: string;
  /** More environment for the agent (the GCS emulator's address). */
  env?: Record<string, string>;
  /** Checks the address the provider found for the instance (from the API's answer). */
  checkAddress?: (info: InstanceInfo) => void;
  /** The instance's metadata `startup-script`, which a bare machine runs as root when it boots, as GCE does. */
  startupScript?: (info: InstanceInfo) => string | undefined;
}

/** The GcpProvider with its machines on this one: each VM or TPU worker a loopback sshd with its own metadata server. */
export class LoopbackGcpProvider extends GcpProvider {
  constructor(
    opts: GcpProviderOptions,
    private readonly loopback: LoopbackGcpOptions,
  ) {
    super(opts);
  }
  private readonly booted = new Set<string>();
  /** Loopback machines do not run the boot script (its markers would be this machine's own /var/lib); bare ones do. */
  override bootMarkers(info?: InstanceInfo) {
    return info && this.loopback.machine(info).host.kind === "bare" ? super.bootMarkers() : undefined;
  }
  override agentEnv(info: InstanceInfo): Record<string, string> {
    return { GCE_METADATA_HOST: this.loopback.machine(info).metadata.host, ...this.loopback.env };
  }
  override async transport(info: InstanceInfo): Promise<Transport> {
    this.loopback.checkAddress?.(info);
    const host = this.loopback.machine(info).host;
    if (host.kind === "loopback") return loopbackTransport(host, this.loopback.knownHostsPath);
    if (!this.booted.has(info.id)) {
      this.booted.add(info.id);
      const script = this.loopback.startupScript?.(info);
      assert.ok(script, `no startup-script in the metadata of ${info.id}`);
      // GCE runs it beside the first SSH login, not before: the controller must wait for its marker.
      void host.runAsRoot(script);
    }
    return bareTransport(host, this.loopback.knownHostsPath);
  }
}

/**
 * VMs in order of first sight: VM k (`order[k]`, its name) is host k with metadata server k. The
 * arrays are read at each call, so they may be filled after this is made (in `before`).
 */
export function vmsInOrder(
  hosts: readonly (LoopbackSshHost | BareSshHost)[],
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
