import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ImdsServer } from "../../../src/providers/local/imds-server.js";

/**
 * The `spotrun launch` guard as systemd runs it on an instance: the real CLI against an IMDSv2
 * endpoint with a notice standing, a checkpoint script served over HTTP, and a restart while the
 * same notice stands.
 */
const BIN = join(process.cwd(), "bin", "spotrun.js");
let root: string;
let imds: ImdsServer;
let imdsUrl: string;
let web: Server;
let webUrl: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), "spotrun-guard-"));
  imds = new ImdsServer({
    identity: { instanceId: "i-0guard", instanceType: "m7i.large", availabilityZone: "us-east-1a", lifecycle: "spot" },
  });
  imdsUrl = `http://127.0.0.1:${await imds.listen()}`;
  const counter = join(root, "runs");
  const script = `#!/bin/bash\necho "saving for $INTERRUPTION_ACTION at $INTERRUPTION_TIME"\necho run >> ${counter}\necho "to stderr" >&2\n`;
  web = createServer((req, res) => {
    if (req.url === "/save.sh") {
      res.writeHead(200, { "content-type": "text/x-shellscript" });
      res.end(script);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => web.listen(0, "127.0.0.1", r));
  webUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
});
after(async () => {
  await imds.close();
  await new Promise<void>((r) => web.close(() => r()));
  await rm(root, { recursive: true, force: true });
});

function guard(config: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [
        BIN,
        "agent",
        "guard",
        "--provider",
        "aws",
        "--config",
        config,
        "--log-file",
        join(root, "checkpoint.log"),
        "--state-dir",
        join(root, "state"),
      ],
      { env: { ...process.env, AWS_EC2_METADATA_SERVICE_ENDPOINT: imdsUrl }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const events = (stdout: string) =>
  stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test("on --on-interruption terminate, an http(s) script runs once per notice, its output kept; a restart does not run it again", async () => {
  const config = join(root, "spot.json");
  await writeFile(
    config,
    JSON.stringify({
      provider: "aws",
      spot: true,
      on_interruption: "terminate",
      checkpoint_script: `${webUrl}/save.sh`,
      checkpoint_timeout_s: 30,
    }),
  );
  const deadline = Date.now() + 120_000;
  imds.setNotice("terminate", deadline);

  const first = await guard(config);
  assert.equal(first.code, 0, first.stderr);
  const ran = events(first.stdout).find((e) => e.kind === "hook_ran");
  assert.ok(ran, first.stdout);
  assert.equal(ran.outcome, "ok");
  assert.equal(ran.action, "terminate");
  assert.match(String(ran.output_tail), /^saving for terminate at \d{4}-\d\d-\d\dT/);
  assert.match(String(ran.output_tail), /to stderr/);
  assert.match(await readFile(join(root, "checkpoint.log"), "utf8"), /saving for terminate/);

  // systemd restarts the guard (it crashed, or was restarted) while the same notice stands.
  const again = await guard(config);
  assert.equal(again.code, 0, again.stderr);
  assert.ok(
    events(again.stdout).some((e) => e.kind === "hook_skipped"),
    again.stdout,
  );
  assert.equal(await readFile(join(root, "runs"), "utf8"), "run\n", "the script ran once");
});
