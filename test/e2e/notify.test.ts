import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { lastJson, sandbox, spotrun, waitFor, writeTask } from "../support-cli/spotrun-cli.js";

let box: Awaited<ReturnType<typeof sandbox>>;
before(async () => {
  box = await sandbox("notify");
});
after(async () => box.cleanup());

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

/** A webhook receiver on loopback whose first `failFirst` requests to /hook get a 500. */
async function receiver(failFirst: number) {
  const got: Received[] = [];
  let hooks = 0;
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (b: Buffer) => {
      body += b.toString();
    });
    req.on("end", () => {
      const path = req.url ?? "";
      const status = path === "/hook" && ++hooks <= failFirst ? 500 : 200;
      got.push({ path, headers: req.headers, body, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { got, url, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test("notifications: a signed webhook that fails its first two deliveries gets every one at least once; Slack and a command too", async () => {
  const rx = await receiver(2);
  try {
    const secret = "s3cr3t-for-the-test";
    const config = join(box.work, "config.yaml");
    await writeFile(
      config,
      `notify:\n  - {webhook: ${rx.url}/hook, secret_env: SPOTRUN_TEST_HOOK_SECRET, on: [preempted, recovered, succeeded], timeout: 5s}\n`,
    );
    const task = await writeTask(
      box.work,
      `name: heard
resources: {provider: local, spot: true, market: {interrupt_after: [1500ms], notice: 1s}}
workdir: .
run: python3 trainer.py
envs: {TOTAL_STEPS: 80, CHECKPOINT_EVERY: 5, STEP_SECONDS: 0.05}
notify:
  - {slack: ${rx.url}/slack, on: [succeeded]}
  - {command: 'cat > "notified-$SPOTRUN_EVENT_KIND.json"', on: [preempted]}
`,
    );
    const env = { SPOTRUN_CONFIG: config, SPOTRUN_TEST_HOOK_SECRET: secret };
    const r = await spotrun(box.home, ["run", task, "--detach", "--json"], { env });
    assert.equal(r.code, 0, r.stderr);
    const job = lastJson<{ id: string }>(r.stdout);

    const delivered = () =>
      new Set(rx.got.filter((g) => g.path === "/hook" && g.status === 200).map((g) => g.headers["x-spotrun-delivery"]));
    await waitFor(
      async () => (delivered().size >= 3 && rx.got.some((g) => g.path === "/slack") ? true : undefined),
      90_000,
      "3 webhook deliveries and the Slack message",
    );

    const hooks = rx.got.filter((g) => g.path === "/hook");
    assert.deepEqual(
      hooks.slice(0, 2).map((h) => h.status),
      [500, 500],
    );
    const bodies = hooks.map(
      (h) => JSON.parse(h.body) as { delivery_id: string; kind: string; job: { id: string; state: string }; text: string },
    );
    assert.deepEqual([...new Set(bodies.map((b) => b.kind))].sort(), ["preempted", "recovered", "succeeded"]);
    assert.equal(delivered().size, 3, "one delivery id per notification");
    // A failed delivery is retried under its own id: each id that failed came back.
    for (const h of hooks.filter((x) => x.status === 500))
      assert.ok(
        hooks.some((x) => x.status === 200 && x.headers["x-spotrun-delivery"] === h.headers["x-spotrun-delivery"]),
        "retried with the same delivery id",
      );
    for (const [i, h] of hooks.entries()) {
      const expected = `sha256=${createHmac("sha256", secret).update(h.body).digest("hex")}`;
      assert.equal(h.headers["x-spotrun-signature-256"], expected, "signed with HMAC-SHA256 of the body");
      assert.equal(h.headers["x-spotrun-delivery"], bodies[i]?.delivery_id);
      assert.equal(h.headers["x-spotrun-event"], bodies[i]?.kind);
      assert.equal(bodies[i]?.job.id, job.id);
    }
    assert.ok(!hooks.some((h) => h.body.includes(secret)), "the secret never travels");

    const slack = JSON.parse(rx.got.find((g) => g.path === "/slack")?.body ?? "{}") as { text: string };
    assert.match(
      slack.text,
      new RegExp(`^spotrun: job heard \\(${job.id}\\) SUCCEEDED after 1 preemption\\(s\\); cost so far \\$0\\.\\d{4}`),
    );
    const files = (await readdir(box.work)).filter((f) => f.startsWith("notified-"));
    assert.deepEqual(files, ["notified-preempted.json"]);
    const fromCommand = JSON.parse(await readFile(join(box.work, files[0] as string), "utf8")) as {
      kind: string;
      job: { id: string };
    };
    assert.deepEqual([fromCommand.kind, fromCommand.job.id], ["preempted", job.id]);
  } finally {
    await rx.close();
  }
});
