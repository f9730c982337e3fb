import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type InstanceId, JobId } from "../../src/base/ids.js";
import { silentLogger } from "../../src/base/logger.js";
import { pendingJobRow } from "../../src/core/submit.js";
import type { InstanceInfo, LaunchRequest, LaunchResult, Offer, Provider } from "../../src/providers/provider.js";
import { ProviderCache } from "../../src/providers/registry.js";
import { parseTask } from "../../src/spec/load-task.js";
import type { ProviderKind, Resources, Task } from "../../src/spec/task-schema.js";
import { openSqlite } from "../../src/state/open-sqlite.js";
import { type JobRow, StateStore } from "../../src/state/state-store.js";
import type { ExecResult, StreamHandle, Transport, TransportStats } from "../../src/transport/transport.js";

export interface Call {
  method: "offers" | "launch" | "describe" | "list" | "listUnsettled" | "terminate" | "transport";
  args: unknown;
}

/**
 * A provider whose answers a test sets and whose calls it reads: instances live in a map the
 * test can change (reclaim, terminate, hide), launches answer from a queue of results.
 */
export class FakeProvider implements Provider {
  readonly kind: ProviderKind = "local";
  readonly noticeSource = "aws-imds" as const;
  readonly pollIntervalMs: number;
  readonly calls: Call[] = [];
  readonly instances = new Map<string, InstanceInfo>();
  /** Ids the provider knows but leaves out of listings (tags not visible yet). */
  readonly unlisted = new Set<string>();
  /** What the next launches answer; when empty, a launch succeeds. */
  readonly launchAnswers: (LaunchResult | Error)[] = [];
  /** Thrown by the next list/describe calls. */
  failNext: Error | undefined;
  private seq = 0;

  constructor(
    private readonly now: () => number,
    opts: { pollIntervalMs?: number; unsettledListing?: boolean } = {},
  ) {
    this.pollIntervalMs = opts.pollIntervalMs ?? 10_000;
    if (opts.unsettledListing)
      this.listUnsettled = async (tags) => {
        this.calls.push({ method: "listUnsettled", args: tags });
        return this.listed(tags).filter((i) => i.status !== "running");
      };
  }

  count(method: Call["method"]): number {
    return this.calls.filter((c) => c.method === method).length;
  }

  async offers(resources: Resources): Promise<Offer[]> {
    this.calls.push({ method: "offers", args: resources });
    return [];
  }

  async launch(req: LaunchRequest): Promise<LaunchResult> {
    this.calls.push({ method: "launch", args: req });
    const next = this.launchAnswers.shift();
    if (next instanceof Error) throw next;
    if (next) return next;
    const existing = [...this.instances.values()].filter((i) => i.tags.token === req.token);
    if (existing.length > 0) return { kind: "launched", instances: existing };
    const instances = Array.from({ length: req.count }, () => {
      const info: InstanceInfo = {
        id: `i-${++this.seq}` as InstanceId,
        provider: this.kind,
        instanceType: req.instanceTypes[0] ?? "fake.small",
        spot: req.spot,
        status: "running",
        pricePerHour: req.spot ? 0.1 : 0.3,
        onDemandPricePerHour: 0.3,
        launchedAt: this.now(),
        tags: { ...req.tags, token: req.token },
        address: "127.0.0.1:22",
      };
      this.instances.set(info.id, info);
      return info;
    });
    return { kind: "launched", instances };
  }

  async describe(ids: InstanceId[]): Promise<InstanceInfo[]> {
    this.calls.push({ method: "describe", args: ids });
    this.maybeFail();
    return ids.flatMap((id) => {
      const i = this.instances.get(id);
      return i ? [{ ...i }] : [];
    });
  }

  async list(tags: Record<string, string>): Promise<InstanceInfo[]> {
    this.calls.push({ method: "list", args: tags });
    return this.listed(tags);
  }

  /** Only with `unsettledListing`: the listing of what is not running. */
  listUnsettled?: (tags: Record<string, string>) => Promise<InstanceInfo[]>;

  private listed(tags: Record<string, string>): InstanceInfo[] {
    this.maybeFail();
    return [...this.instances.values()]
      .filter((i) => !this.unlisted.has(i.id) && Object.entries(tags).every(([k, v]) => i.tags[k] === v))
      .map((i) => ({ ...i }));
  }

  async terminate(ids: InstanceId[]): Promise<void> {
    this.calls.push({ method: "terminate", args: ids });
    for (const id of ids) {
      const i = this.instances.get(id);
      if (i) this.instances.set(id, { ...i, status: "terminated", endedAt: this.now() });
    }
  }

  async transport(instance: InstanceInfo): Promise<Transport> {
    this.calls.push({ method: "transport", args: instance.id });
    return new FakeTransport(instance.id);
  }

  agentEnv(): Record<string, string> {
    return {};
  }

  private maybeFail(): void {
    const e = this.failNext;
    this.failNext = undefined;
    if (e) throw e;
  }
}

/** An instance's files in memory; every exec and read is counted. */
export class FakeTransport implements Transport {
  readonly home = "/home/fake";
  readonly files = new Map<string, Buffer>();
  execs = 0;
  reads = 0;
  constructor(readonly label: string) {}
  async exec(): Promise<ExecResult> {
    this.execs++;
    return { exitCode: 0, signal: null, stdout: "", stderr: "" };
  }
  async readFile(path: string, offset = 0): Promise<Buffer | undefined> {
    this.reads++;
    return this.files.get(path)?.subarray(offset);
  }
  async writeFile(path: string, data: string | Uint8Array): Promise<void> {
    this.files.set(path, Buffer.from(data));
  }
  async upload(): Promise<void> {}
  async download(): Promise<void> {}
  async close(): Promise<void> {}
  stream(): StreamHandle {
    const done = Promise.resolve({ exitCode: 127, signal: null, error: new Error("the fake instance runs no commands") });
    return { done, close: () => done };
  }
  stats(): TransportStats {
    return { execs: this.execs + this.reads, streams: 0, openStreams: 0 };
  }
}

/** The controller's provider cache, answering with one provider. */
export class OneProvider extends ProviderCache {
  constructor(
    private readonly p: Provider,
    private readonly failWith?: () => Error | undefined,
  ) {
    super({ home: "", logger: silentLogger });
  }
  override get(_kind: ProviderKind): Promise<Provider> {
    const e = this.failWith?.();
    return e ? Promise.reject(e) : Promise.resolve(this.p);
  }
}

/** A migrated SQLite store in a temp home, removed by `close`. */
export async function tempStore(): Promise<{ home: string; store: StateStore; close(): Promise<void> }> {
  const home = await mkdtemp(join(tmpdir(), "spotrun-unit-"));
  const store = new StateStore(await openSqlite(home));
  return {
    home,
    store,
    close: async () => {
      await store.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}

/** One running spot instance as a provider reports it, with the fields a test sets. */
export const fakeInstanceInfo = (patch: Partial<InstanceInfo> = {}): InstanceInfo => ({
  id: "i-1" as InstanceId,
  provider: "local",
  instanceType: "t",
  spot: true,
  status: "running",
  pricePerHour: 0.1,
  onDemandPricePerHour: 0.3,
  launchedAt: 0,
  tags: {},
  ...patch,
});

/** A parsed task from YAML-ish fields, as `spotrun run` would store it. */
export function fakeTask(fields: Record<string, unknown> = {}): Task {
  return parseTask({ name: "t", run: "true", resources: { provider: "local" }, ...fields }, "task.yaml");
}

/** A job row as submit writes it, in PENDING. */
export function jobRow(id: string, task: Task, now: number, patch: Partial<JobRow> = {}): JobRow {
  return {
    ...pendingJobRow({ id: JobId(id), task, baseDir: "/tmp", now, storeUrl: "file:///tmp/spotrun-unit-store" }),
    ...patch,
  };
}
