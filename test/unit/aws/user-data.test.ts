import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { BOOT_READY, type SpotConfig, userDataScript } from "../../../src/providers/aws/user-data.js";

const run = promisify(execFile);

const CONFIG: SpotConfig = {
  provider: "aws",
  spot: true,
  on_interruption: "checkpoint",
  checkpoint_script: "s3://bucket/it's $(not) expanded.sh",
  checkpoint_timeout_s: 90,
  max_price_usd: 0.05,
  job_id: "j-1",
  attempt_id: "j-1-a0",
};

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "spotrun-userdata-"));
});
after(async () => rm(dir, { recursive: true, force: true }));

test("the user data is valid POSIX sh, installs nothing by name, and refuses a user name that could inject shell", async () => {
  const path = join(dir, "syntax.sh");
  const text = userDataScript({ config: CONFIG, sshUser: "ubuntu" });
  await writeFile(path, text);
  const { stderr } = await run("sh", ["-n", path]);
  assert.equal(stderr, "");
  assert.doesNotMatch(text, /npm|apt-get|dnf|yum|curl|wget/);
  assert.throws(() => userDataScript({ config: CONFIG, sshUser: "ubuntu; rm -rf /" }));
});

/** Runs the script for real against a scratch root, with systemctl and getent replaced by recorders on PATH. */
async function boot(checkpointScriptBody?: string): Promise<{ root: string; log: string }> {
  const root = await mkdtemp(join(dir, "root-"));
  const bin = join(root, "stub-bin");
  const log = join(root, "calls.log");
  await mkdir(bin, { recursive: true });
  await writeFile(join(bin, "getent"), `#!/bin/sh\necho "ubuntu:x:1000:1000::/home/ubuntu:/bin/sh"\n`);
  await chmod(join(bin, "getent"), 0o755);
  const script = join(root, "user-data.sh");
  await writeFile(
    script,
    userDataScript({ config: CONFIG, sshUser: "ubuntu", ...(checkpointScriptBody ? { checkpointScriptBody } : {}) }),
  );
  await writeFile(log, "");
  await run("sh", [script], { env: { PATH: `${bin}:/usr/bin:/bin`, SPOTRUN_ROOT: root } });
  return { root, log: await readFile(log, "utf8") };
}

test("run against a scratch root: writes spot.json and a guard unit that waits for the shipped agent, then the ready marker", async () => {
  const { root } = await boot();
  const config = JSON.parse(await readFile(join(root, "etc/spotrun/spot.json"), "utf8"));
  assert.deepEqual(config, CONFIG, "the JSON survives the heredoc byte for byte (quotes and $() stay literal)");
  const unit = await readFile(join(root, "etc/systemd/system/spotrun-agent.service"), "utf8");
  assert.match(
    unit,
    /^ExecStart=\/home\/ubuntu\/\.spotrun\/bin\/spotrun agent guard --provider aws --config \/etc\/spotrun\/spot\.json$/m,
  );
  assert.match(
    unit,
    /^ExecStartPre=\/bin\/sh -c 'while \[ ! -x "\/home\/ubuntu\/\.spotrun\/bin\/spotrun" \]; do sleep 2; done'$/m,
  );
  assert.match(unit, /^WantedBy=multi-user\.target$/m);
  await readFile(join(root, BOOT_READY));
  assert.match(await readFile(join(root, "var/log/spotrun-boot.log"), "utf8"), /ready/);
});

test("a local checkpoint script is written byte for byte, even if it contains the heredoc delimiter", async () => {
  const body = "#!/bin/bash\necho \"$HOME\" '$(x)' `y`\nSPOTRUN_CHECKPOINT_EOF\nexit 0\n";
  const { root } = await boot(body);
  assert.equal(await readFile(join(root, "etc/spotrun/checkpoint.sh"), "utf8"), body);
  const config = JSON.parse(await readFile(join(root, "etc/spotrun/spot.json"), "utf8"));
  assert.equal(config.checkpoint_script, "/etc/spotrun/checkpoint.sh");
});
