import type { protos } from "@google-cloud/tpu";
import type { Clock } from "../../base/clock.js";
import type { Logger } from "../../base/logger.js";
import type { InstanceInfo, InstanceStatus, LaunchRequest, LaunchResult } from "../provider.js";
import { ProviderError } from "../provider.js";
import type { GcpClients } from "./gcp-clients.js";
import { classifyError, gcpErrorInfo } from "./gcp-errors.js";
import { formatGcpId, type GcpRef, regionOf } from "./gcp-instance-id.js";
import { fromLabels, TAGS_METADATA_KEY, toLabels } from "./gcp-labels.js";
import { requestIdOf, resourceName } from "./gcp-names.js";
import { type GcpPricer, perWorker } from "./gcp-price-catalog.js";
import { parseTpuType } from "./tpu-types.js";

type QueuedResource = protos.google.cloud.tpu.v2.IQueuedResource;
type Node = protos.google.cloud.tpu.v2.INode;
/** Listings are iterated page by page (each page one call), never fetched whole behind our back. */
const NO_AUTOPAGE = { autoPaginate: false } as const;

/** Where a queued resource is on its way to ACTIVE; handed to the progress callback on each change. */
export interface TpuProgress {
  queuedResource: string;
  state: string;
  at: number;
}

/** Tags added to each worker's InstanceInfo so the SSH cluster runner can wire JAX and the env contract. */
export const TPU_TAG = { worker: "spotrun:worker", workers: "spotrun:workers", internalIp: "spotrun:internal-ip" } as const;

export interface TpuSlicesDeps {
  clients: GcpClients;
  project: () => Promise<string>;
  logger: Logger;
  clock: Clock;
  /** Between queued-resource polls. */
  pollMs: number;
  /** How long a queued resource may wait for capacity (its `validUntilDuration`). */
  waitMs: number;
  onProgress?: (p: TpuProgress) => void;
  /** Node metadata: startup-script, shutdown-script, ssh-keys. */
  metadata: () => Record<string, string>;
  /** List price of a whole slice (`v4-32`) in a region (undefined: unknown, reported as 0). */
  price: GcpPricer;
}

const QR_DONE = new Set(["ACTIVE", "FAILED", "SUSPENDING", "SUSPENDED"]);
const QR_INTERRUPTED = new Set(["SUSPENDING", "SUSPENDED"]);
const NODE_GONE = new Set(["PREEMPTED", "TERMINATED"]);

const stateName = (s: unknown): string => (s == null ? "STATE_UNSPECIFIED" : String(s));

/**
 * Spot TPU slices through Cloud TPU v2 queued resources (the SpotJAX flow): create the queued
 * resource with one node, follow WAITING_FOR_RESOURCES → PROVISIONING → ACTIVE, then hand back
 * one InstanceInfo per worker of the node's networkEndpoints. Preemption shows on the control
 * plane as node PREEMPTED or queued resource SUSPENDING/SUSPENDED. Every way out of a launch that
 * did not succeed deletes the node, then the queued resource.
 */
export class TpuSlices {
  constructor(private readonly d: TpuSlicesDeps) {}

  private async names(zone: string, id: string) {
    const parent = `projects/${await this.d.project()}/locations/${zone}`;
    return { parent, qr: `${parent}/queuedResources/${id}`, node: `${parent}/nodes/${id}` };
  }

  async launch(req: LaunchRequest): Promise<LaunchResult> {
    const accel = req.resources.tpu ?? "";
    const type = parseTpuType(accel);
    if (!type)
      throw new ProviderError(
        "gcp",
        "INVALID_TPU_TYPE",
        `unknown TPU type ${JSON.stringify(accel)} — use e.g. v5litepod-8, v4-32, v5p-8, v6e-8`,
        false,
      );
    const zone = req.zone ?? req.resources.zone ?? req.offer?.zone;
    if (!zone)
      throw new ProviderError(
        "gcp",
        "ZONE_REQUIRED",
        "a TPU slice needs a zone — set resources.zone (e.g. us-central2-b)",
        false,
      );
    const id = resourceName(req.token);
    const n = await this.names(zone, id);
    const metadata = { ...this.d.metadata(), [TAGS_METADATA_KEY]: JSON.stringify(req.tags) };
    const queuedResource: QueuedResource = {
      tpu: {
        nodeSpec: [
          {
            parent: n.parent,
            nodeId: id,
            node: {
              acceleratorType: type.acceleratorType,
              runtimeVersion: req.resources.image ?? type.runtimeVersion,
              networkConfig: { enableExternalIps: true },
              labels: toLabels(req.tags),
              metadata,
              schedulingConfig: req.spot ? { spot: true } : {},
            },
          },
        ],
      },
      ...(req.spot ? { spot: {} } : {}),
      queueingPolicy: { validUntilDuration: { seconds: Math.ceil(this.d.waitMs / 1000) } },
    };
    // A restarted controller asking again for the same token adopts the queued resource it made.
    const existing = await this.getOrUndefined(() => this.d.clients.tpu.getQueuedResource({ name: n.qr }));
    if (existing) this.d.logger.info({ queuedResource: n.qr }, "queued resource exists; adopting it");
    else
      try {
        const [op] = await this.d.clients.tpu.createQueuedResource({
          parent: n.parent,
          queuedResourceId: id,
          requestId: requestIdOf(`qr/${zone}/${id}`),
          queuedResource,
        });
        await op.promise();
      } catch (e) {
        const c = classifyError(e);
        if (c.kind === "refused")
          return { kind: "refused", refusal: c.refusal, code: c.code, message: `TPU ${accel} in ${zone}: ${c.code}` };
        // A concurrent create of the same id (HTTP 409, which gax's REST transport reports as ABORTED) is adopted too.
        const conflict = c.kind === "already-exists" || gcpErrorInfo(e)?.status === "ABORTED";
        if (!conflict || !(await this.getOrUndefined(() => this.d.clients.tpu.getQueuedResource({ name: n.qr }))))
          throw providerError(e, `create queued resource ${id} in ${zone}`);
      }
    try {
      const qr = await this.followToActive(n.qr);
      const state = stateName(qr?.state?.state);
      if (state !== "ACTIVE") {
        await this.deleteSlice(zone, id);
        const failed = qr?.state?.failedData?.error;
        const code =
          state === "FAILED"
            ? `TPU_QUEUED_RESOURCE_FAILED${failed?.code ? `_${failed.code}` : ""}`
            : state === "WAITING_FOR_RESOURCES"
              ? "TPU_WAIT_EXPIRED"
              : `TPU_${state}`;
        return {
          kind: "refused",
          refusal: "capacity",
          code,
          message: `TPU ${accel} in ${zone}: queued resource ended ${state}${failed?.message ? ` (${failed.message})` : ""}`,
        };
      }
      const [node] = await this.d.clients.tpu.getNode({ name: n.node });
      const instances = this.workers(zone, id, node, stateName(qr?.state?.state), req.spot);
      if (instances.length === 0)
        throw new ProviderError("gcp", "TPU_NO_WORKERS", `TPU node ${id} is ACTIVE but lists no network endpoints`, true);
      return { kind: "launched", instances };
    } catch (e) {
      await this.deleteSlice(zone, id).catch((err: unknown) =>
        this.d.logger.warn({ err, queuedResource: n.qr }, "cleanup after a failed TPU launch failed"),
      );
      throw e instanceof ProviderError ? e : providerError(e, `follow queued resource ${id}`);
    }
  }

  /** Poll until ACTIVE, FAILED, SUSPENDED, or the wait expires; reports each state change. */
  private async followToActive(name: string): Promise<QueuedResource | undefined> {
    const until = this.d.clock.now() + this.d.waitMs;
    let last = "";
    for (;;) {
      const [qr] = await this.d.clients.tpu.getQueuedResource({ name });
      const state = stateName(qr.state?.state);
      if (state !== last) {
        last = state;
        this.d.logger.info({ queuedResource: name, state }, "queued resource state");
        this.d.onProgress?.({ queuedResource: name, state, at: this.d.clock.now() });
      }
      if (QR_DONE.has(state) || this.d.clock.now() >= until) return qr;
      await this.d.clock.sleep(this.d.pollMs);
    }
  }

  private workers(zone: string, id: string, node: Node, qrState: string, spot: boolean): InstanceInfo[] {
    const endpoints = node.networkEndpoints ?? [];
    const nodeState = stateName(node.state);
    const interrupted = NODE_GONE.has(nodeState) || QR_INTERRUPTED.has(qrState);
    const now = this.d.clock.now();
    const tags = tagsOf(node);
    const isSpot = spot || Boolean(node.schedulingConfig?.spot || node.schedulingConfig?.preemptible);
    // The ledger sums instances, and a slice is one instance per worker: each carries its share.
    const slicePrice = this.d.price(node.acceleratorType ?? "", regionOf(zone), isSpot);
    const price = slicePrice ? perWorker(slicePrice, endpoints.length) : undefined;
    return endpoints.map((ep, k) => ({
      id: formatGcpId({ kind: "tpu", zone, queuedResource: id, worker: k }),
      provider: "gcp" as const,
      instanceType: node.acceleratorType ?? "",
      zone,
      region: regionOf(zone),
      spot: isSpot,
      status: nodeStatus(nodeState, interrupted),
      pricePerHour: price?.pricePerHour ?? 0,
      onDemandPricePerHour: price?.onDemandPricePerHour ?? 0,
      launchedAt: createdAt(node.createTime) ?? now,
      tags: {
        ...tags,
        [TPU_TAG.worker]: String(k),
        [TPU_TAG.workers]: String(endpoints.length),
        ...(ep.ipAddress ? { [TPU_TAG.internalIp]: ep.ipAddress } : {}),
      },
      ...(ep.accessConfig?.externalIp || ep.ipAddress
        ? { address: ep.accessConfig?.externalIp || (ep.ipAddress as string) }
        : {}),
      ...(ep.ipAddress ? { privateAddress: ep.ipAddress } : {}),
      ...(interrupted
        ? {
            interrupted: {
              reason: NODE_GONE.has(nodeState)
                ? `tpu-node-${nodeState.toLowerCase()}`
                : `tpu-queued-resource-${qrState.toLowerCase()}`,
              at: now,
            },
          }
        : {}),
    }));
  }

  /** Current state of the given workers; a slice that no longer exists reads as terminated. */
  async describe(refs: Extract<GcpRef, { kind: "tpu" }>[]): Promise<InstanceInfo[]> {
    const bySlice = new Map<string, Extract<GcpRef, { kind: "tpu" }>[]>();
    for (const r of refs)
      bySlice.set(`${r.zone}/${r.queuedResource}`, [...(bySlice.get(`${r.zone}/${r.queuedResource}`) ?? []), r]);
    const out: InstanceInfo[] = [];
    for (const group of bySlice.values()) {
      const { zone, queuedResource: id } = group[0] as Extract<GcpRef, { kind: "tpu" }>;
      const n = await this.names(zone, id);
      const qr = await this.getOrUndefined(() => this.d.clients.tpu.getQueuedResource({ name: n.qr }));
      const node = await this.getOrUndefined(() => this.d.clients.tpu.getNode({ name: n.node }));
      const workers = node ? this.workers(zone, id, node, stateName(qr?.state?.state), false) : [];
      for (const r of group) {
        const w = workers[r.worker];
        if (w) out.push(w);
        else out.push(goneWorker(r, this.d.clock.now(), qr ? stateName(qr.state?.state) : undefined));
      }
    }
    return out;
  }

  /**
   * Every worker of every slice whose node carries all the labels (across zones: `locations/-`).
   * The queued resources' states come from one listing per zone that has such a slice, not one
   * get per slice: a pass costs the same calls for one job or a hundred.
   */
  async list(tags: Record<string, string>): Promise<InstanceInfo[]> {
    const want = toLabels(tags);
    const project = await this.d.project();
    const matched: { node: Node; zone: string; id: string; qrName: string }[] = [];
    for await (const node of this.d.clients.tpu.listNodesAsync({ parent: `projects/${project}/locations/-` }, NO_AUTOPAGE)) {
      const labels = node.labels ?? {};
      if (!Object.entries(want).every(([k, v]) => labels[k] === v)) continue;
      const parts = (node.name ?? "").split("/");
      const zone = parts[3] ?? "";
      const id = parts[5] ?? "";
      matched.push({
        node,
        zone,
        id,
        qrName: node.queuedResource || `projects/${parts[1]}/locations/${zone}/queuedResources/${id}`,
      });
    }
    const queued = new Map<string, QueuedResource>();
    for (const zone of new Set(matched.map((m) => m.zone)))
      for await (const qr of this.d.clients.tpu.listQueuedResourcesAsync(
        { parent: `projects/${project}/locations/${zone}` },
        NO_AUTOPAGE,
      ))
        if (qr.name) queued.set(qr.name, qr);
    return matched.flatMap((m) => this.workers(m.zone, m.id, m.node, stateName(queued.get(m.qrName)?.state?.state), false));
  }

  /** Delete the node, then the queued resource (SpotJAX's order); either may already be gone. */
  async deleteSlice(zone: string, id: string): Promise<void> {
    const n = await this.names(zone, id);
    await this.ignoreNotFound(async () => {
      const [op] = await this.d.clients.tpu.deleteNode({ name: n.node });
      await op.promise();
    });
    // The queued resource refuses deletion while its node still exists; the node's delete may
    // still be settling, so retry that precondition for a bounded time.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.ignoreNotFound(async () => {
          const [op] = await this.d.clients.tpu.deleteQueuedResource({ name: n.qr });
          await op.promise();
        });
        return;
      } catch (e) {
        if (gcpErrorInfo(e)?.status !== "FAILED_PRECONDITION" || attempt >= 30)
          throw providerError(e, `delete queued resource ${id}`);
        await this.d.clock.sleep(Math.min(10_000, this.d.pollMs * 2 ** Math.min(attempt, 6)));
      }
    }
  }

  private async getOrUndefined<T>(f: () => Promise<[T, ...unknown[]]>): Promise<T | undefined> {
    try {
      return (await f())[0];
    } catch (e) {
      if (classifyError(e).kind === "not-found") return undefined;
      throw providerError(e, "read TPU state");
    }
  }

  private async ignoreNotFound(f: () => Promise<void>): Promise<void> {
    try {
      await f();
    } catch (e) {
      if (classifyError(e).kind !== "not-found") throw e;
    }
  }
}

function nodeStatus(state: string, interrupted: boolean): InstanceStatus {
  if (interrupted) return state === "PREEMPTED" || state === "TERMINATED" ? "terminated" : "stopping";
  switch (state) {
    case "READY":
    case "REPAIRING":
      return "running";
    case "STOPPING":
    case "DELETING":
      return "stopping";
    case "STOPPED":
      return "stopped";
    default:
      return "pending";
  }
}

function goneWorker(r: Extract<GcpRef, { kind: "tpu" }>, now: number, qrState: string | undefined): InstanceInfo {
  const interrupted = qrState !== undefined && QR_INTERRUPTED.has(qrState);
  return {
    id: formatGcpId(r),
    provider: "gcp",
    instanceType: "",
    zone: r.zone,
    region: regionOf(r.zone),
    spot: true,
    status: "terminated",
    pricePerHour: 0,
    onDemandPricePerHour: 0,
    launchedAt: now,
    endedAt: now,
    tags: {},
    ...(interrupted ? { interrupted: { reason: `tpu-queued-resource-${qrState?.toLowerCase()}`, at: now } } : {}),
  };
}

function tagsOf(node: Node): Record<string, string> {
  const raw = node.metadata?.[TAGS_METADATA_KEY];
  if (raw) {
    try {
      const t = JSON.parse(raw) as unknown;
      if (t && typeof t === "object") return t as Record<string, string>;
    } catch {
      // fall back to the labels
    }
  }
  return fromLabels(node.labels);
}

function createdAt(t: protos.google.protobuf.ITimestamp | null | undefined): number | undefined {
  if (!t?.seconds) return undefined;
  return Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

/** A Google error as one line, typed by its code; retryable when Google says so. */
export function providerError(e: unknown, what: string): ProviderError {
  if (e instanceof ProviderError) return e;
  const c = classifyError(e);
  const code = "code" in c ? c.code : c.kind === "not-found" ? "NOT_FOUND" : "ALREADY_EXISTS";
  const info = gcpErrorInfo(e);
  const detail = info
    ? [info.httpStatus, info.status, ...info.reasons].filter(Boolean).join(" ")
    : e instanceof Error
      ? e.message.split("\n")[0]
      : String(e);
  return new ProviderError("gcp", code, `${what} failed: ${detail}`, c.kind === "retryable", { cause: e });
}
