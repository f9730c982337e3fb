import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { silentLogger } from "../../../../src/base/logger.js";
import type { CommandContext } from "../../../../src/cli/command.js";
import { setupCommand } from "../../../../src/cli/commands/setup.js";
import { coreSetupChecks, sshKeyPath } from "../../../../src/cli/setup/core-setup-checks.js";
import { renderSetupReport } from "../../../../src/cli/setup/render-setup-report.js";
import { runSetupChecks } from "../../../../src/cli/setup/run-setup-checks.js";
import { providerSetupChecks } from "../../../../src/providers/provider-setup-checks.js";
import { PROVIDERS } from "../../../../src/spec/task-schema.js";

describe("spotrun setup", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "spotrun-setup-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("finds tools on PATH and says how to install the missing ones", async () => {
    const bin = join(dir, "bin");
    await mkdir(bin);
    await symlink("/usr/bin/ssh", join(bin, "ssh"));
    const checks = coreSetupChecks({ home: join(dir, "h1"), env: { PATH: bin } });
    const reports = await runSetupChecks([{ source: "spotrun", checks }], { fix: false });
    const by = Object.fromEntries(reports.map((r) => [r.id, r]));
    assert.equal(by["tool.ssh"]!.ok, true);
    assert.equal(by["tool.ssh"]!.detail, join(bin, "ssh"));
    assert.equal(by["tool.rsync"]!.ok, false);
    assert.equal(by["tool.rsync"]!.problem, "rsync is not on PATH");
    assert.match(by["tool.rsync"]!.fix!, /apt-get install -y rsync|brew install rsync/);
    assert.match(by["tool.tmux"]!.fix!, /install -y tmux|brew install tmux/);
    assert.equal(by["ssh.key"]!.ok, false);
    const text = await renderSetupReport(reports);
    assert.match(text, /✓ +spotrun +ssh on PATH/);
    assert.match(text, /✗ +spotrun +rsync on PATH/);
    assert.match(text, /3 of 4 checks failed/);
  });

  it("--fix generates an ed25519 key that OpenSSH accepts, private to the user", async () => {
    const home = join(dir, "h2");
    const reports = await runSetupChecks([{ source: "spotrun", checks: coreSetupChecks({ home }) }], { fix: true });
    const key = reports.find((r) => r.id === "ssh.key")!;
    assert.equal(key.ok, true);
    assert.equal(key.fixed, true);
    const path = sshKeyPath(home);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const derived = execFileSync("ssh-keygen", ["-y", "-f", path], { encoding: "utf8" }).trim().split(" ").slice(0, 2).join(" ");
    const pub = (await readFile(`${path}.pub`, "utf8")).trim().split(" ").slice(0, 2).join(" ");
    assert.equal(pub, derived);
    assert.match(pub, /^ssh-ed25519 /);
    // A second run finds it and changes nothing.
    const again = await runSetupChecks([{ source: "spotrun", checks: coreSetupChecks({ home }) }], { fix: true });
    assert.equal(again.find((r) => r.id === "ssh.key")!.fixed, false);
  });

  it("loads the checks of every provider that has a setup-checks module and skips the others", async () => {
    const groups = await providerSetupChecks(PROVIDERS, join(dir, "h3"));
    const expected = PROVIDERS.filter((k) =>
      existsSync(new URL(`../../../../src/providers/${k}/setup-checks.js`, import.meta.url)),
    );
    assert.deepEqual(
      groups.map((g) => g.kind),
      expected,
    );
    const local = groups.find((g) => g.kind === "local");
    assert.deepEqual(
      local?.checks.map((c) => c.id),
      ["local.sshd", "local.netns"],
    );
  });

  it("exits 1 with a JSON report while a check fails, 0 once --fix has fixed it", async () => {
    const ctx: CommandContext = {
      home: join(dir, "h4"),
      json: true,
      debug: false,
      out: { json: true, info: () => {}, warn: () => {}, line: () => {} },
      logger: silentLogger,
      signal: new AbortController().signal,
    };
    const before = await setupCommand.run(ctx, [], { provider: "local" });
    assert.equal(before.exitCode, 1);
    const data = before.data as { ok: boolean; checks: { id: string; ok: boolean; fix: string | null }[] };
    assert.equal(data.ok, false);
    assert.equal(data.checks.find((c) => c.id === "ssh.key")?.ok, false);
    const fixed = await setupCommand.run(ctx, [], { provider: "local", fix: true });
    const after = fixed.data as { ok: boolean; checks: { id: string; ok: boolean }[] };
    assert.equal(after.checks.find((c) => c.id === "ssh.key")?.ok, true);
    assert.equal(fixed.exitCode, after.ok ? 0 : 1);
    await assert.rejects(setupCommand.run(ctx, [], { provider: "azure" }), /unknown provider "azure"/);
  });
});
