import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SpotrunError } from "../../../src/base/errors.js";
import { describeFailures, parallelExec } from "../../../src/transport/ssh/parallel-exec.js";
import type { ExecOptions, ExecResult, Transport } from "../../../src/transport/transport.js";

/** A Transport whose commands answer with scripted chunks; records what it was asked. */
class ScriptedTransport implements Transport {
  readonly calls: { command: string; env: Record<string, string> | undefined }[] = [];
  readonly home = "/home/x";
  constructor(
    readonly label: string,
    private readonly answer: { chunks?: string[]; err?: string[]; exitCode?: number | null; signal?: string; throws?: Error },
  ) {}
  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.calls.push({ command, env: opts.env });
    for (const c of this.answer.chunks ?? []) {
      opts.onStdout?.(c);
      await new Promise((r) => setImmediate(r));
    }
    for (const c of this.answer.err ?? []) opts.onStderr?.(c);
    if (this.answer.throws) throw this.answer.throws;
    return {
      exitCode: this.answer.exitCode === undefined ? 0 : this.answer.exitCode,
      signal: this.answer.signal ?? null,
      stdout: (this.answer.chunks ?? []).join(""),
      stderr: (this.answer.err ?? []).join(""),
    };
  }
  readFile = async () => undefined;
  writeFile = async () => undefined;
  upload = async () => undefined;
  download = async () => undefined;
  close = async () => undefined;
  stream(): never {
    throw new Error("parallelExec never streams");
  }
  stats = () => ({ execs: this.calls.length, streams: 0, openStreams: 0 });
}

describe("parallelExec", () => {
  it("prefixes whole lines per host even when chunks split them, and aggregates every host's fate", async () => {
    const hosts = [
      {
        name: "node-1",
        transport: new ScriptedTransport("a", { chunks: ["ep", "och 1\nepoch", " 2\n", "tail without newline"] }),
      },
      { name: "node-2", transport: new ScriptedTransport("b", { err: ["boom\n"], exitCode: 3 }) },
      {
        name: "node-3",
        transport: new ScriptedTransport("c", { throws: new SpotrunError("failed", "lost node-3", { fix: "retry" }) }),
      },
      { name: "node-4", transport: new ScriptedTransport("d", { exitCode: null, signal: "SIGKILL" }) },
    ];
    const lines: string[] = [];
    const r = await parallelExec(hosts, "train", {
      env: { SPOT_NUM_WORKERS: "4" },
      envFor: (_n, i) => ({ SPOT_WORKER_ID: String(i) }),
      onLine: (l) => lines.push(l),
    });
    assert.deepEqual(
      lines.filter((l) => l.startsWith("[node-1]")),
      ["[node-1] epoch 1", "[node-1] epoch 2", "[node-1] tail without newline"],
    );
    assert.ok(lines.includes("[node-2] boom"));
    assert.equal(r.ok, false);
    assert.deepEqual(r.failed, ["node-2", "node-3", "node-4"]);
    assert.deepEqual(r.exitCodes, { "node-1": 0, "node-2": 3, "node-3": null, "node-4": null });
    assert.deepEqual(hosts[2]!.transport.calls[0]!.env, { SPOT_NUM_WORKERS: "4", SPOT_WORKER_ID: "2" });
    assert.equal(describeFailures(r), "node-2: exit 3; node-3: lost node-3 — retry; node-4: killed by SIGKILL");
  });

  it("is ok when every host exits 0", async () => {
    const r = await parallelExec([{ name: "n", transport: new ScriptedTransport("a", {}) }], "true");
    assert.equal(r.ok, true);
    assert.deepEqual(r.failed, []);
  });
});
