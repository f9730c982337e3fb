import { Ec2Server } from "../../test/servers/ec2/ec2-server.js";

/**
 * The in-repo EC2 server in its own process for bench/controller-scale, so its CPU (SigV4 checks,
 * XML, filtering thousands of instances) is not charged to the controller being measured. It
 * verifies signatures with the key the parent is given, throttles as EC2 does (unless told
 * `no-throttle`), keeps spot prices for the bench's type,
 * and over IPC answers `counts`: requests per action (and per error code) since it started, its
 * CPU time and RSS. It folds its request log into those counts every second so its memory stays
 * bounded, and exits when the parent goes.
 */
export interface ChildCounts {
  byAction: Record<string, number>;
  errors: Record<string, number>;
  /** DescribeInstances by what it asked for (one id, a batch of ids, by tag…). */
  describeShapes: Record<string, number>;
  cpuMicros: number;
  rss: number;
  instances: number;
}

export type ToChild = { kind: "counts" };
export type FromChild = { kind: "ready"; url: string } | ({ kind: "counts" } & ChildCounts);

const [accessKeyId, secretAccessKey, throttle] = process.argv.slice(2);
if (!accessKeyId || !secretAccessKey || !process.send) {
  process.stderr.write("usage: (forked by controller-scale) ec2-server-child.js ACCESS_KEY SECRET [throttle|no-throttle]\n");
  process.exit(2);
}

const server = new Ec2Server({ secrets: { [accessKeyId]: secretAccessKey } });
// EC2's documented bucket for non-mutating actions (100 tokens, 20 a second), here per action.
if (throttle !== "no-throttle") server.rateLimit({ capacity: 100, refillPerSec: 20 });
const url = await server.start();
const now = Date.now();
server.setSpotPrices(
  ["us-east-1a", "us-east-1b", "us-east-1c"].map((zone, i) => ({
    instanceType: "m7i.large",
    zone,
    price: 0.03 + i * 0.002,
    timestamp: now - 600_000,
  })),
);

const byAction: Record<string, number> = {};
const errors: Record<string, number> = {};
const describeShapes: Record<string, number> = {};

/** What a DescribeInstances asked for: its filters, with how many ids (1, ≤10, ≤200), and whether it was a next page. */
function describeShape(p: Record<string, string>): string {
  const parts: string[] = [];
  for (let i = 1; p[`Filter.${i}.Name`] !== undefined; i++) {
    const name = p[`Filter.${i}.Name`] as string;
    let n = 0;
    while (p[`Filter.${i}.Value.${n + 1}`] !== undefined) n++;
    parts.push(name === "instance-id" ? `instance-id×${n === 1 ? "1" : n <= 10 ? "≤10" : "≤200"}` : name);
  }
  if (Object.keys(p).some((k) => k.startsWith("InstanceId."))) parts.push("InstanceIds");
  if (p.NextToken) parts.push("next page");
  return parts.join(" + ") || "all";
}

function fold(): void {
  for (const r of server.requests) {
    byAction[r.action] = (byAction[r.action] ?? 0) + 1;
    if (r.action === "DescribeInstances") {
      const k = describeShape(r.params);
      describeShapes[k] = (describeShapes[k] ?? 0) + 1;
    }
    if (r.status !== 200)
      errors[`${r.action}:${r.errorCode ?? r.status}`] = (errors[`${r.action}:${r.errorCode ?? r.status}`] ?? 0) + 1;
  }
  server.requests.length = 0;
}
setInterval(fold, 1000).unref();

process.on("message", (m: ToChild) => {
  if (m.kind !== "counts") return;
  fold();
  const cpu = process.cpuUsage();
  const reply: FromChild = {
    kind: "counts",
    byAction: { ...byAction },
    errors: { ...errors },
    describeShapes: { ...describeShapes },
    cpuMicros: cpu.user + cpu.system,
    rss: process.memoryUsage().rss,
    instances: server.world.instances.size,
  };
  process.send?.(reply);
});
process.on("disconnect", () => {
  void server.close().finally(() => process.exit(0));
});
process.send({ kind: "ready", url } satisfies FromChild);
