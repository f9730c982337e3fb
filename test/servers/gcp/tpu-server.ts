import type { ServerResponse } from "node:http";
import { googleError, handleToken, type Received, RecordingServer, sendJson } from "./http-kit.js";

/**
 * Cloud TPU v2 REST (tpu.googleapis.com), the subset of queued resources and nodes spotrun uses.
 * A queued resource walks the states of a plan, one per GET (WAITING_FOR_RESOURCES →
 * PROVISIONING → ACTIVE by default, or ending FAILED); on ACTIVE its node appears READY with one
 * network endpoint per worker. `preempt` turns the node PREEMPTED and the queued resource
 * SUSPENDING, then SUSPENDED. Mutations answer long-running operations that are already done.
 */
export const TPU_TOKEN = "tpu-test-token";

type Json = Record<string, unknown>;

export interface QrPlan {
  /** States the queued resource reports on successive GETs; the last one sticks. */
  states: string[];
  workers: number;
}

interface Qr {
  body: Json;
  name: string;
  zone: string;
  id: string;
  plan: QrPlan;
  step: number;
  state: string;
  nodeSpec: Json;
}

const OP_META = "type.googleapis.com/google.cloud.tpu.v2.OperationMetadata";

export class TpuServer {
  readonly http: RecordingServer;
  readonly queued = new Map<string, Qr>();
  readonly nodes = new Map<string, Json>();
  /** Plan for the next queued resources created (per accelerator type, else `default`). */
  readonly plans = new Map<string, QrPlan>([
    ["default", { states: ["WAITING_FOR_RESOURCES", "WAITING_FOR_RESOURCES", "PROVISIONING", "ACTIVE"], workers: 1 }],
  ]);
  private opSeq = 0;

  constructor(readonly project: string) {
    this.http = new RecordingServer((req, res) => this.route(req, res));
  }

  async start(): Promise<this> {
    await this.http.start();
    return this;
  }
  close(): Promise<void> {
    return this.http.close();
  }

  get apiCalls(): Received[] {
    return this.http.received.filter((r) => r.path.startsWith("/v2/"));
  }

  /** Reclaim a spot slice: node PREEMPTED, queued resource SUSPENDING (then SUSPENDED on the next read). */
  preempt(id: string): void {
    const qr = [...this.queued.values()].find((q) => q.id === id);
    if (!qr) throw new Error(`no queued resource ${id}`);
    const node = this.nodes.get(this.nodeName(qr));
    if (node) node.state = "PREEMPTED";
    qr.state = "SUSPENDING";
    qr.plan = { ...qr.plan, states: ["SUSPENDING", "SUSPENDED"] };
    qr.step = 0;
  }

  private nodeName(qr: Qr): string {
    return `projects/${this.project}/locations/${qr.zone}/nodes/${String(qr.nodeSpec.nodeId)}`;
  }

  private route(req: Received, res: ServerResponse): undefined {
    if (handleToken(req, res, TPU_TOKEN)) return;
    if (req.headers.authorization !== `Bearer ${TPU_TOKEN}`)
      return sendJson(
        res,
        401,
        googleError(401, "Request had invalid authentication credentials.", "authError", "UNAUTHENTICATED"),
      );
    // This project never enabled Compute Engine (a TPU-only project), as Compute answers then.
    if (req.path.startsWith("/compute/"))
      return sendJson(res, 403, {
        error: {
          code: 403,
          message: `Compute Engine API has not been used in project ${this.project} before or it is disabled.`,
          errors: [{ message: "Access Not Configured.", domain: "usageLimits", reason: "accessNotConfigured" }],
          status: "PERMISSION_DENIED",
        },
      });
    const m = /^\/v2\/projects\/([^/]+)\/locations\/([^/]+)\/([A-Za-z]+)(?:\/([^/:]+))?$/.exec(req.path);
    if (!m || m[1] !== this.project) return notFound(res, req.path);
    const [, , zone, coll, id] = m as unknown as [string, string, string, string, string | undefined];
    if (coll === "operations" && id && req.method === "GET") return notFound(res, `operation ${id}`);
    if (coll === "queuedResources") {
      if (req.method === "POST" && !id) return this.createQr(req, res, zone);
      if (req.method === "GET" && !id)
        return sendJson(res, 200, {
          queuedResources: [...this.queued.values()].filter((q) => zone === "-" || q.zone === zone).map((q) => this.qrView(q)),
        });
      const qr = this.queued.get(`${zone}/${id}`);
      if (!qr) return notFound(res, `queued resource ${id}`);
      if (req.method === "GET") {
        this.advance(qr);
        return sendJson(res, 200, this.qrView(qr));
      }
      if (req.method === "DELETE") {
        if (this.nodes.has(this.nodeName(qr)) && req.query.get("force") !== "true")
          return sendJson(
            res,
            400,
            googleError(
              400,
              `Queued resource ${qr.name} still has a node; delete the node first or use force.`,
              "failedPrecondition",
              "FAILED_PRECONDITION",
            ),
          );
        this.queued.delete(`${zone}/${id}`);
        this.nodes.delete(this.nodeName(qr));
        return sendJson(res, 200, this.doneOp(zone, { "@type": "type.googleapis.com/google.protobuf.Empty" }));
      }
    }
    if (coll === "nodes") {
      if (req.method === "GET" && !id)
        return sendJson(res, 200, {
          nodes: [...this.nodes.values()].filter((n) => zone === "-" || String(n.name).split("/")[3] === zone),
        });
      const name = `projects/${this.project}/locations/${zone}/nodes/${id}`;
      const node = this.nodes.get(name);
      if (!node) return notFound(res, `node ${id}`);
      if (req.method === "GET") return sendJson(res, 200, node);
      if (req.method === "DELETE") {
        this.nodes.delete(name);
        const qr = [...this.queued.values()].find((q) => this.nodeName(q) === name);
        if (qr) {
          qr.state = "SUSPENDED";
          qr.plan = { ...qr.plan, states: ["SUSPENDED"] };
          qr.step = 0;
        }
        return sendJson(res, 200, this.doneOp(zone, { "@type": "type.googleapis.com/google.protobuf.Empty" }));
      }
    }
    return notFound(res, req.path);
  }

  private createQr(req: Received, res: ServerResponse, zone: string): undefined {
    const id = req.query.get("queuedResourceId") ?? "";
    const key = `${zone}/${id}`;
    if (this.queued.has(key))
      return sendJson(
        res,
        409,
        googleError(
          409,
          `Resource 'projects/${this.project}/locations/${zone}/queuedResources/${id}' already exists`,
          "alreadyExists",
          "ALREADY_EXISTS",
        ),
      );
    const body = req.json as Json;
    const nodeSpec = ((body.tpu as Json | undefined)?.nodeSpec as Json[] | undefined)?.[0];
    if (!nodeSpec?.nodeId || !(nodeSpec.node as Json | undefined)?.acceleratorType)
      return sendJson(
        res,
        400,
        googleError(400, "tpu.nodeSpec[0] with nodeId and node.acceleratorType is required", "badRequest", "INVALID_ARGUMENT"),
      );
    const accel = String((nodeSpec.node as Json).acceleratorType);
    const plan = this.plans.get(accel) ?? (this.plans.get("default") as QrPlan);
    const qr: Qr = {
      body,
      name: `projects/${this.project}/locations/${zone}/queuedResources/${id}`,
      zone,
      id,
      plan,
      step: 0,
      state: "ACCEPTED",
      nodeSpec,
    };
    this.queued.set(key, qr);
    return sendJson(
      res,
      200,
      this.doneOp(zone, { "@type": "type.googleapis.com/google.cloud.tpu.v2.QueuedResource", ...this.qrView(qr) }),
    );
  }

  private advance(qr: Qr): void {
    const next = qr.plan.states[Math.min(qr.step, qr.plan.states.length - 1)];
    qr.step++;
    if (!next || next === qr.state) return;
    qr.state = next;
    if (next === "ACTIVE") this.createNode(qr);
  }

  private createNode(qr: Qr): void {
    const spec = qr.nodeSpec.node as Json;
    const name = this.nodeName(qr);
    this.nodes.set(name, {
      ...spec,
      name,
      state: "READY",
      health: "HEALTHY",
      apiVersion: "V2",
      queuedResource: qr.name,
      createTime: new Date().toISOString(),
      networkEndpoints: Array.from({ length: qr.plan.workers }, (_, k) => ({
        ipAddress: `10.130.0.${k + 2}`,
        port: 8470,
        accessConfig: { externalIp: `127.0.1.${k + 1}` },
      })),
    });
  }

  private qrView(qr: Qr): Json {
    const { queuedResourceId: _ignored, ...body } = qr.body;
    const state: Json = { state: qr.state, stateInitiator: qr.state.startsWith("SUSPEND") ? "SERVICE" : "USER" };
    if (qr.state === "FAILED") state.failedData = { error: { code: 8, message: "There is no more capacity in the zone" } };
    return { ...body, name: qr.name, createTime: new Date().toISOString(), state };
  }

  private doneOp(zone: string, response: Json): Json {
    const name = `projects/${this.project}/locations/${zone}/operations/operation-${++this.opSeq}`;
    return { name, metadata: { "@type": OP_META, createTime: new Date().toISOString(), apiVersion: "v2" }, done: true, response };
  }
}

function notFound(res: ServerResponse, what: string): undefined {
  return sendJson(res, 404, googleError(404, `Resource '${what}' was not found`, "notFound", "NOT_FOUND"));
}
