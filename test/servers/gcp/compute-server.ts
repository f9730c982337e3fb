import type { ServerResponse } from "node:http";
import { googleError, handleToken, type Received, RecordingServer, sendJson } from "./http-kit.js";

/**
 * Compute Engine v1 REST, the subset spotrun uses: instances (insert/get/list/aggregatedList/
 * delete/attachDisk/detachDisk), zone and global operations (get/wait), disks (insert/get/delete/
 * resize/createSnapshot), snapshots and regions. Shapes follow the Compute REST reference:
 * mutations answer an Operation that is RUNNING until polled, then DONE (with `error.errors[]`
 * carrying a `code` such as ZONE_RESOURCE_POOL_EXHAUSTED when the zone refused).
 */

export const TOKEN = "compute-test-token";

type Json = Record<string, unknown>;

export interface ZoneFailure {
  code: string;
  /** `operation`: the insert is accepted and its operation ends in error (how stockouts show);
   * `http`: the insert itself answers 4xx with `errors[].reason` (how request quotas show). */
  via: "operation" | "http";
  httpStatus?: number;
}

interface Operation extends Json {
  name: string;
  status: "PENDING" | "RUNNING" | "DONE";
}

interface Instance extends Json {
  name: string;
  zone: string;
  status: string;
  labels?: Record<string, string>;
  disks: Json[];
}

interface Disk extends Json {
  name: string;
  zone: string;
  sizeGb: string;
  users?: string[];
}

const BASE = "https://www.googleapis.com/compute/v1";

export class ComputeServer {
  readonly http: RecordingServer;
  readonly project: string;
  /** region → zones, for regions.get. */
  readonly regions = new Map<string, string[]>();
  readonly instances = new Map<string, Instance>();
  readonly disks = new Map<string, Disk>();
  readonly snapshots = new Map<string, Json>();
  readonly operations = new Map<string, Operation>();
  /** Insert refusals by zone (or `zone/machineType`). */
  readonly failures = new Map<string, ZoneFailure>();
  /** How many polls an operation stays RUNNING before DONE. */
  opPolls = 1;
  /** Address handed out as the external IP of new instances. */
  natIP = "127.0.0.1";
  private opSeq = 0;
  private ipSeq = 2;
  private throttles = 0;
  private readonly opPending = new Map<string, { polls: number; finish: () => Json | undefined }>();

  constructor(opts: { project: string; regions?: Record<string, string[]> }) {
    this.project = opts.project;
    for (const [r, zs] of Object.entries(opts.regions ?? { "us-central1": ["us-central1-a", "us-central1-b", "us-central1-c"] }))
      this.regions.set(r, zs);
    this.http = new RecordingServer((req, res) => this.route(req, res));
  }

  async start(): Promise<this> {
    await this.http.start();
    return this;
  }
  close(): Promise<void> {
    return this.http.close();
  }

  /** The API requests (token refreshes left out). */
  get apiCalls(): Received[] {
    return this.http.received.filter((r) => r.path.startsWith("/compute/"));
  }

  /** The next `n` Compute requests exceed the project's rate quota: 403 with reason rateLimitExceeded, as Compute answers. */
  throttle(n: number): void {
    this.throttles = n;
  }

  /** Reclaim a spot VM the way GCE does: it stops (STOP) or goes away (DELETE), and a `preempted` operation is logged. */
  preempt(zone: string, name: string): void {
    const key = `${zone}/${name}`;
    const inst = this.instances.get(key);
    if (!inst) throw new Error(`no instance ${key}`);
    const action = (inst.scheduling as Json | undefined)?.instanceTerminationAction;
    if (action === "DELETE") this.instances.delete(key);
    else inst.status = "TERMINATED";
    this.newOp(
      zone,
      "compute.instances.preempted",
      `${BASE}/projects/${this.project}/zones/${zone}/instances/${name}`,
      () => undefined,
      true,
    );
  }

  private route(req: Received, res: ServerResponse): undefined {
    if (handleToken(req, res, TOKEN)) return;
    if (req.headers.authorization !== `Bearer ${TOKEN}`)
      return sendJson(
        res,
        401,
        googleError(401, "Request had invalid authentication credentials.", "authError", "UNAUTHENTICATED"),
      );
    if (req.path.startsWith("/v2/")) return sendJson(res, 403, serviceDisabled(this.project, "tpu.googleapis.com"));
    if (this.throttles > 0) {
      this.throttles--;
      return sendJson(
        res,
        403,
        googleError(403, "Rate Limit Exceeded: read requests per minute per project.", "rateLimitExceeded", "PERMISSION_DENIED"),
      );
    }
    const prefix = `/compute/v1/projects/${this.project}/`;
    if (!req.path.startsWith(prefix)) return notFound(res, req.path);
    const parts = req.path.slice(prefix.length).split("/").map(decodeURIComponent);
    const [scope, scopeName, coll, id, verb] = parts;
    if (scope === "regions" && parts.length === 1)
      return sendJson(res, 200, {
        kind: "compute#regionList",
        items: [...this.regions.keys()].map((name) => ({ kind: "compute#region", name, status: "UP" })),
      });
    if (scope === "regions" && parts.length === 2) {
      const zones = this.regions.get(scopeName as string);
      if (!zones) return notFound(res, req.path);
      return sendJson(res, 200, {
        kind: "compute#region",
        name: scopeName,
        status: "UP",
        zones: zones.map((z) => `${BASE}/projects/${this.project}/zones/${z}`),
      });
    }
    if (scope === "aggregated" && scopeName === "instances") return this.aggregated(req, res);
    if (scope === "aggregated" && scopeName === "disks") {
      const items: Record<string, Json> = {};
      for (const zones of this.regions.values())
        for (const z of zones) {
          const inZone = [...this.disks.values()].filter(
            (d) => d.zone.endsWith(`/zones/${z}`) && fieldsMatch(d, req.query.get("filter")),
          );
          items[`zones/${z}`] = inZone.length
            ? { disks: inZone }
            : { warning: { code: "NO_RESULTS_ON_PAGE", message: "There are no results for scope" } };
        }
      return sendJson(res, 200, { kind: "compute#diskAggregatedList", items });
    }
    if (scope === "global" && scopeName === "operations") return this.operation(req, res, `global/${coll}`, id === "wait");
    if (scope === "global" && scopeName === "snapshots") return this.snapshot(req, res, coll as string);
    if (scope !== "zones" || !scopeName) return notFound(res, req.path);
    const zone = scopeName;
    if (coll === "operations" && !id && req.method === "GET") {
      const items = [...this.operations.entries()]
        .filter(([k, op]) => k.startsWith(`${zone}/`) && fieldsMatch(op, req.query.get("filter")))
        .map(([, op]) => op);
      return sendJson(res, 200, { kind: "compute#operationList", items });
    }
    if (coll === "operations") return this.operation(req, res, `${zone}/${id}`, verb === "wait");
    if (coll === "instances") return this.instance(req, res, zone, id, verb);
    if (coll === "disks") return this.disk(req, res, zone, id, verb);
    return notFound(res, req.path);
  }

  private instance(
    req: Received,
    res: ServerResponse,
    zone: string,
    name: string | undefined,
    verb: string | undefined,
  ): undefined {
    const key = `${zone}/${name}`;
    if (req.method === "POST" && !name) return this.insertInstance(req, res, zone);
    if (req.method === "GET" && !name) {
      const items = [...this.instances.values()].filter(
        (i) => i.zone.endsWith(`/zones/${zone}`) && matches(i, req.query.get("filter")),
      );
      return sendJson(res, 200, { kind: "compute#instanceList", items });
    }
    const inst = this.instances.get(key);
    if (!inst) return notFound(res, `instance ${key}`);
    const link = inst.selfLink as string;
    if (req.method === "GET" && !verb) return sendJson(res, 200, inst);
    if (req.method === "DELETE" && !verb) {
      inst.status = "STOPPING";
      return this.respondOp(res, zone, "delete", link, () => {
        this.instances.delete(key);
        for (const d of this.disks.values()) d.users = (d.users ?? []).filter((u) => u !== link);
        return undefined;
      });
    }
    if (req.method === "POST" && verb === "attachDisk") {
      const body = req.json as Json;
      const source = String(body.source ?? "");
      const disk =
        [...this.disks.values()].find((d) => d.selfLink === source) ?? this.disks.get(`${zone}/${source.split("/").pop()}`);
      if (!disk || !String(disk.zone).endsWith(`/zones/${zone}`)) return notFound(res, `disk ${source} in ${zone}`);
      if ((disk.users ?? []).length > 0 && body.mode !== "READ_ONLY")
        return sendJson(
          res,
          400,
          googleError(
            400,
            `The disk resource '${disk.selfLink}' is already being used by '${disk.users?.[0]}'`,
            "resourceInUseByAnotherResource",
            "FAILED_PRECONDITION",
          ),
        );
      return this.respondOp(res, zone, "attachDisk", link, () => {
        const deviceName = String(body.deviceName ?? disk.name);
        inst.disks.push({
          kind: "compute#attachedDisk",
          source: disk.selfLink,
          deviceName,
          mode: body.mode ?? "READ_WRITE",
          boot: false,
          autoDelete: body.autoDelete ?? false,
          index: inst.disks.length,
          type: "PERSISTENT",
        });
        disk.users = [...(disk.users ?? []), link];
        return undefined;
      });
    }
    if (req.method === "POST" && verb === "detachDisk") {
      const deviceName = req.query.get("deviceName");
      const att = inst.disks.find((d) => d.deviceName === deviceName);
      if (!att)
        return sendJson(
          res,
          400,
          googleError(400, `No attached disk found with device name '${deviceName}'`, "invalid", "INVALID_ARGUMENT"),
        );
      return this.respondOp(res, zone, "detachDisk", link, () => {
        inst.disks = inst.disks.filter((d) => d !== att);
        for (const d of this.disks.values()) if (d.selfLink === att.source) d.users = (d.users ?? []).filter((u) => u !== link);
        return undefined;
      });
    }
    return notFound(res, req.path);
  }

  private insertInstance(req: Received, res: ServerResponse, zone: string): undefined {
    const body = req.json as Json;
    const name = String(body.name ?? "");
    if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name))
      return sendJson(
        res,
        400,
        googleError(400, `Invalid value for field 'resource.name': '${name}'.`, "invalid", "INVALID_ARGUMENT"),
      );
    for (const [k, v] of Object.entries((body.labels as Record<string, string>) ?? {}))
      if (!/^[a-z][a-z0-9_-]{0,62}$/.test(k) || !/^[a-z0-9_-]{0,63}$/.test(v))
        return sendJson(
          res,
          400,
          googleError(400, `Invalid value for field 'resource.labels': '${k}=${v}'.`, "invalid", "INVALID_ARGUMENT"),
        );
    const key = `${zone}/${name}`;
    if (this.instances.has(key))
      return sendJson(
        res,
        409,
        googleError(
          409,
          `The resource 'projects/${this.project}/zones/${zone}/instances/${name}' already exists`,
          "alreadyExists",
          "ALREADY_EXISTS",
        ),
      );
    const machineType =
      String(body.machineType ?? "")
        .split("/")
        .pop() ?? "";
    const failure = this.failures.get(`${zone}/${machineType}`) ?? this.failures.get(zone);
    if (failure?.via === "http") {
      const status = failure.httpStatus ?? 403;
      return sendJson(
        res,
        status,
        googleError(
          status,
          `Quota exceeded in ${zone}.`,
          failure.code,
          status === 429 ? "RESOURCE_EXHAUSTED" : "PERMISSION_DENIED",
        ),
      );
    }
    const link = `${BASE}/projects/${this.project}/zones/${zone}/instances/${name}`;
    if (failure) {
      const op = this.newOp(zone, "insert", link, () => ({
        errors: [
          {
            code: failure.code,
            message: `The zone 'projects/${this.project}/zones/${zone}' does not have enough resources available to fulfill the request.`,
          },
        ],
      }));
      return sendJson(res, 200, op);
    }
    for (const d of (body.disks as Json[]) ?? []) {
      if (!d.source) continue;
      const src = this.disks.get(`${zone}/${String(d.source).split("/").pop()}`);
      if (!src) return notFound(res, `disk ${d.source} in ${zone}`);
      if ((src.users ?? []).length > 0)
        return sendJson(
          res,
          400,
          googleError(
            400,
            `The disk resource '${src.selfLink}' is already being used by '${src.users?.[0]}'`,
            "resourceInUseByAnotherResource",
            "FAILED_PRECONDITION",
          ),
        );
    }
    const n = this.ipSeq++;
    const disks: Json[] = ((body.disks as Json[]) ?? []).map((d, i) => ({
      ...d,
      index: i,
      deviceName: d.deviceName ?? (i === 0 ? "persistent-disk-0" : `disk-${i}`),
    }));
    const inst: Instance = {
      ...body,
      kind: "compute#instance",
      id: String(1000 + n),
      name,
      zone: `${BASE}/projects/${this.project}/zones/${zone}`,
      machineType: `${BASE}/projects/${this.project}/zones/${zone}/machineTypes/${machineType}`,
      status: "PROVISIONING",
      selfLink: link,
      creationTimestamp: new Date().toISOString(),
      disks,
      networkInterfaces: [
        {
          name: "nic0",
          networkIP: `10.128.0.${n}`,
          accessConfigs: [{ type: "ONE_TO_ONE_NAT", name: "External NAT", natIP: this.natIP }],
        },
      ],
    };
    this.instances.set(key, inst);
    for (const d of disks) {
      const src = this.disks.get(
        `${zone}/${String(d.source ?? "")
          .split("/")
          .pop()}`,
      );
      if (src) src.users = [...(src.users ?? []), link];
    }
    this.respondOp(res, zone, "insert", link, () => {
      inst.status = "RUNNING";
      return undefined;
    });
  }

  private aggregated(req: Received, res: ServerResponse): undefined {
    const items: Record<string, Json> = {};
    for (const zones of this.regions.values())
      for (const z of zones) {
        const inZone = [...this.instances.values()].filter(
          (i) => i.zone.endsWith(`/zones/${z}`) && matches(i, req.query.get("filter")),
        );
        items[`zones/${z}`] = inZone.length
          ? { instances: inZone }
          : { warning: { code: "NO_RESULTS_ON_PAGE", message: "There are no results for scope" } };
      }
    sendJson(res, 200, { kind: "compute#instanceAggregatedList", items });
  }

  private disk(req: Received, res: ServerResponse, zone: string, name: string | undefined, verb: string | undefined): undefined {
    if (req.method === "POST" && !name) {
      const body = req.json as Json;
      const dname = String(body.name ?? "");
      const key = `${zone}/${dname}`;
      if (this.disks.has(key))
        return sendJson(
          res,
          409,
          googleError(
            409,
            `The resource 'projects/${this.project}/zones/${zone}/disks/${dname}' already exists`,
            "alreadyExists",
            "ALREADY_EXISTS",
          ),
        );
      const link = `${BASE}/projects/${this.project}/zones/${zone}/disks/${dname}`;
      let sizeGb = String(body.sizeGb ?? "10");
      if (body.sourceSnapshot) {
        const snap = this.snapshots.get(String(body.sourceSnapshot).split("/").pop() as string);
        if (!snap) return notFound(res, `snapshot ${body.sourceSnapshot}`);
        if (!body.sizeGb) sizeGb = String(snap.diskSizeGb);
      }
      const disk: Disk = {
        ...body,
        kind: "compute#disk",
        name: dname,
        zone: `${BASE}/projects/${this.project}/zones/${zone}`,
        sizeGb,
        status: "CREATING",
        selfLink: link,
        users: [],
      };
      this.disks.set(key, disk);
      return this.respondOp(res, zone, "insert", link, () => {
        disk.status = "READY";
        return undefined;
      });
    }
    const key = `${zone}/${name}`;
    const disk = this.disks.get(key);
    if (!disk) return notFound(res, `disk ${key}`);
    const link = disk.selfLink as string;
    if (req.method === "GET" && !verb) return sendJson(res, 200, disk);
    if (req.method === "DELETE" && !verb) {
      if ((disk.users ?? []).length > 0)
        return sendJson(
          res,
          400,
          googleError(
            400,
            `The disk resource '${link}' is already being used by '${disk.users?.[0]}'`,
            "resourceInUseByAnotherResource",
            "FAILED_PRECONDITION",
          ),
        );
      return this.respondOp(res, zone, "delete", link, () => {
        this.disks.delete(key);
        return undefined;
      });
    }
    if (req.method === "POST" && verb === "resize") {
      const size = Number((req.json as Json).sizeGb);
      if (!(size > Number(disk.sizeGb)))
        return sendJson(
          res,
          400,
          googleError(
            400,
            `Invalid value for field 'sizeGb': '${size}'. New disk size must be larger than existing size '${disk.sizeGb}'.`,
            "invalid",
            "INVALID_ARGUMENT",
          ),
        );
      return this.respondOp(res, zone, "resize", link, () => {
        disk.sizeGb = String(size);
        return undefined;
      });
    }
    if (req.method === "POST" && verb === "createSnapshot") {
      const body = req.json as Json;
      const sname = String(body.name ?? "");
      const slink = `${BASE}/projects/${this.project}/global/snapshots/${sname}`;
      return this.respondOp(res, zone, "createSnapshot", link, () => {
        this.snapshots.set(sname, {
          ...body,
          kind: "compute#snapshot",
          name: sname,
          sourceDisk: link,
          diskSizeGb: disk.sizeGb,
          status: "READY",
          selfLink: slink,
        });
        return undefined;
      });
    }
    return notFound(res, req.path);
  }

  private snapshot(req: Received, res: ServerResponse, name: string): undefined {
    const snap = this.snapshots.get(name);
    if (!snap) return notFound(res, `snapshot ${name}`);
    if (req.method === "GET") return sendJson(res, 200, snap);
    if (req.method === "DELETE") {
      const op = this.newOp(undefined, "delete", snap.selfLink as string, () => {
        this.snapshots.delete(name);
        return undefined;
      });
      return sendJson(res, 200, op);
    }
    return notFound(res, req.path);
  }

  private operation(req: Received, res: ServerResponse, key: string, wait: boolean): undefined {
    const op = this.operations.get(key);
    if (!op) return notFound(res, `operation ${key}`);
    if ((req.method === "GET" && !wait) || (req.method === "POST" && wait)) {
      this.poll(key, op);
      return sendJson(res, 200, op);
    }
    return notFound(res, req.path);
  }

  private poll(key: string, op: Operation): void {
    const pending = this.opPending.get(key);
    if (!pending) return;
    if (pending.polls-- > 0) return;
    this.opPending.delete(key);
    const error = pending.finish();
    op.status = "DONE";
    op.progress = 100;
    op.endTime = new Date().toISOString();
    if (error) {
      op.error = error;
      op.httpErrorStatusCode = 503;
      op.httpErrorMessage = "SERVICE UNAVAILABLE";
    }
  }

  private respondOp(res: ServerResponse, zone: string, type: string, target: string, finish: () => Json | undefined): undefined {
    sendJson(res, 200, this.newOp(zone, type, target, finish));
  }

  private newOp(zone: string | undefined, type: string, target: string, finish: () => Json | undefined, done = false): Operation {
    const name = `operation-${Date.now()}-${++this.opSeq}`;
    const scopeLink = zone ? `${BASE}/projects/${this.project}/zones/${zone}` : `${BASE}/projects/${this.project}/global`;
    const op: Operation = {
      kind: "compute#operation",
      id: String(this.opSeq),
      name,
      operationType: type,
      targetLink: target,
      status: done ? "DONE" : "RUNNING",
      progress: done ? 100 : 0,
      insertTime: new Date().toISOString(),
      selfLink: `${scopeLink}/operations/${name}`,
      ...(zone ? { zone: scopeLink } : {}),
    };
    const key = zone ? `${zone}/${name}` : `global/${name}`;
    this.operations.set(key, op);
    if (!done) this.opPending.set(key, { polls: this.opPolls, finish });
    return op;
  }
}

/** What Google answers for an API not enabled in the project (AIP-193 ErrorInfo reason SERVICE_DISABLED). */
export function serviceDisabled(project: string, service: string) {
  return {
    error: {
      code: 403,
      message: `${service} has not been used in project ${project} before or it is disabled.`,
      status: "PERMISSION_DENIED",
      details: [
        {
          "@type": "type.googleapis.com/google.rpc.ErrorInfo",
          reason: "SERVICE_DISABLED",
          domain: "googleapis.com",
          metadata: { service, consumer: `projects/${project}` },
        },
      ],
    },
  };
}

function notFound(res: ServerResponse, what: string): undefined {
  sendJson(res, 404, googleError(404, `The resource '${what}' was not found`, "notFound", "NOT_FOUND"));
}

/** The label filter syntax spotrun sends: `labels.k = "v" AND labels.k2 = "v2"` (Compute list filter). */
function matches(inst: Instance, filter: string | null): boolean {
  if (!filter) return true;
  const labels = inst.labels ?? {};
  for (const clause of filter.split(/\s+AND\s+/)) {
    const m = /^\(?\s*labels\.([a-z0-9_-]+)\s*=\s*"?([^"()]*)"?\s*\)?$/.exec(clause.trim());
    if (!m) throw new Error(`filter clause not understood: ${clause}`);
    if (labels[m[1] as string] !== m[2]) return false;
  }
  return true;
}

/** `field = "value" AND …` against top-level string fields (the operations list filter). */
function fieldsMatch(obj: Json, filter: string | null): boolean {
  if (!filter) return true;
  for (const clause of filter.split(/\s+AND\s+/)) {
    const m = /^\(?\s*([A-Za-z]+)\s*=\s*"?([^"()]*)"?\s*\)?$/.exec(clause.trim());
    if (!m) throw new Error(`filter clause not understood: ${clause}`);
    if (obj[m[1] as string] !== m[2]) return false;
  }
  return true;
}
