import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { Ajv } from "ajv";
import { bin, sandbox, waitFor } from "../support-cli/spotrun-cli.js";

const TOOLS = [
  "offers",
  "run",
  "status",
  "events",
  "logs",
  "cancel",
  "cost",
  "download",
  "simulate",
  "session_start",
  "session_status",
  "session_stop",
  "setup_check",
];

let box: Awaited<ReturnType<typeof sandbox>>;
let client: Client;
let stderr = "";

before(async () => {
  box = await sandbox("mcp");
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [bin, "--home", box.home, "mcp"],
    cwd: box.work,
    env: { ...(process.env as Record<string, string>), NO_COLOR: "1" },
    stderr: "pipe",
  });
  transport.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  client = new Client({ name: "spotrun-test", version: "1.0.0" });
  await client.connect(transport);
});
after(async () => {
  await client?.close();
  await box.cleanup();
});

/** A tool's JSON answer; fails the test on a tool error. */
async function call<T>(name: string, args: Record<string, unknown>): Promise<T> {
  const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
  const text = (r.content[0] as { text: string }).text;
  assert.ok(!r.isError, `${name}: ${text}\n${stderr}`);
  return JSON.parse(text) as T;
}

test("the tools, each with a JSON Schema that compiles, a description for a model, and destructive ones marked", async () => {
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), [...TOOLS].sort());
  // The SDK writes draft-07 schemas: each must be a valid one, and compile.
  const ajv = new Ajv({ strict: false });
  for (const t of tools) {
    assert.equal(t.inputSchema.type, "object", t.name);
    assert.ok(ajv.validateSchema(t.inputSchema), `${t.name}: ${ajv.errorsText(ajv.errors)}`);
    assert.doesNotThrow(() => ajv.compile(t.inputSchema), t.name);
    assert.ok((t.description ?? "").length > 80, `${t.name} has a description`);
    const destructive = t.name === "cancel" || t.name === "session_stop";
    assert.equal(t.annotations?.destructiveHint, destructive, `${t.name} destructiveHint`);
  }
  const status = tools.find((t) => t.name === "status");
  assert.equal(status?.annotations?.readOnlyHint, true);
});

test("run a local job with two injected interruptions, follow it through status and events to SUCCEEDED, read its cost and log", async () => {
  const started = await call<{ jobs: { id: string; state: string }[] }>("run", {
    task: {
      name: "mcp-job",
      resources: {
        provider: "local",
        instance_type: "local.small",
        spot: true,
        market: { interrupt_after: ["1500ms", "1500ms"], notice: "1s" },
      },
      workdir: ".",
      run: "python3 trainer.py",
      envs: { TOTAL_STEPS: 150, CHECKPOINT_EVERY: 10, STEP_SECONDS: 0.05 },
      checkpoint: { dir: "checkpoints" },
    },
    base_dir: box.work,
  });
  const id = started.jobs[0]?.id as string;
  assert.match(id, /^j-/);
  assert.equal(started.jobs[0]?.state, "PENDING", "returned at once");

  const done = await waitFor(
    async () => {
      const s = await call<{ state: string; preemptions: number }>("status", { job: id });
      if (["FAILED", "CANCELLED", "OVER_BUDGET"].includes(s.state)) assert.fail(`job ended ${s.state}`);
      if (s.state === "SUCCEEDED") return s;
      await new Promise((r) => setTimeout(r, 500));
      return undefined;
    },
    150_000,
    "the job to succeed",
  );
  assert.equal(done.preemptions, 2);

  const first = await call<{ events: { seq: number; kind: string }[]; next_seq: number }>("events", { job: id, limit: 5 });
  assert.equal(first.events.length, 5);
  const rest = await call<{ events: { seq: number; kind: string }[] }>("events", { job: id, after_seq: first.next_seq });
  const all = [...first.events, ...rest.events];
  assert.deepEqual(
    all.map((e) => e.seq),
    [...all.map((e) => e.seq)].sort((a, b) => a - b),
    "in order, none twice",
  );
  assert.equal(all.filter((e) => e.kind === "notice").length, 2);

  const cost = await call<{ total: { cost_usd: number; on_demand_baseline_usd: number } }>("cost", { job: id });
  assert.ok(cost.total.cost_usd > 0 && cost.total.cost_usd < cost.total.on_demand_baseline_usd);

  const log = await call<{ text: string; next_offset: number }>("logs", { job: id, tail: 1 });
  assert.match(log.text, /^done: 150 steps\n$/);
  const resource = await client.readResource({ uri: `spotrun://jobs/${id}/log` });
  const text = (resource.contents[0] as { text: string }).text;
  const steps = [...text.matchAll(/^step (\d+)$/gm)].map((m) => Number(m[1]));
  assert.deepEqual(
    steps,
    Array.from({ length: 150 }, (_, i) => i + 1),
    "every step once across three attempts",
  );
  const listed = await client.listResources();
  assert.ok(listed.resources.some((r) => r.uri === `spotrun://jobs/${id}/log`));
});

test("a bad task object is a tool error with the CLI's code, a message naming the field, and a fix", async () => {
  const r = (await client.callTool({
    name: "run",
    arguments: { task: { run: "true", resources: { provider: "local", spot: "maybe" } } },
  })) as CallToolResult;
  assert.equal(r.isError, true);
  const { error } = JSON.parse((r.content[0] as { text: string }).text) as {
    error: { code: string; message: string; fix: string; exit_code: number };
  };
  assert.equal(error.code, "usage");
  assert.equal(error.exit_code, 2);
  assert.match(error.message, /^task: resources\.spot: expected boolean, got string "maybe"$/);
  assert.ok(error.fix);
  const missing = (await client.callTool({ name: "status", arguments: { job: "j-nope" } })) as CallToolResult;
  assert.equal(missing.isError, true);
  assert.equal(JSON.parse((missing.content[0] as { text: string }).text).error.code, "not_found");
});
