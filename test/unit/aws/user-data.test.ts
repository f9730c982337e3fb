import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { type SpotConfig, userDataScript } from "../../../src/providers/aws/user-data.js";

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

test("the user data is valid bash (bash -n)", async () => {
  const path = join(dir, "syntax.sh");
  await writeFile(path, userDataScript({ config: CONFIG, spotrunVersion: "0.1.0" }));
  const { stderr } = await run("bash", ["-n", path]);
  assert.equal(stderr, "");
});

test("a version spec that could inject shell is refused", () => {
  assert.throws(() => userDataScript({ config: CONFIG, spotrunVersion: "1.0.0; rm -rf /" }));
});

/**
 * Runs the script for real against a scratch root, with the package manager, npm, node and
 * systemctl replaced by recorders on PATH: what it writes and what it asks them to do is observed.
 */
async function bootstrap(nodeMajorBefore: number, checkpointScriptBody?: string): Promise<{ root: string; log: string }> {
  const root = await mkdtemp(join(dir, "root-"));
  const bin = join(root, "stub-bin");
  const log = join(root, "calls.log");
  await run("mkdir", ["-p", bin]);
  const stub = async (name: string, body: string) => {
    await writeFile(join(bin, name), `#!/bin/bash\n${body}\n`);
    await chmod(join(bin, name), 0o755);
  };
  await stub("node", `if [ -f "${bin}/.node20" ]; then echo 20; else echo ${nodeMajorBefore}; fi`);
  await stub(
    "npm",
    `echo "npm $*" >> "${log}"
for a in "$@"; do
  case "$a" in
    node@20) touch "${bin}/.node20" ;;
    spotrun@*) printf '#!/bin/bash\\n' > "${bin}/spotrun"; chmod +x "${bin}/spotrun" ;;
  esac
done`,
  );
  await stub("systemctl", `echo "systemctl $*" >> "${log}"`);
  await stub("apt-get", `echo "apt-get $*" >> "${log}"`);
  const script = join(root, "user-data.sh");
  await writeFile(script, userDataScript({ config: CONFIG, spotrunVersion: "0.1.0", checkpointScriptBody }));
  await run("bash", [script], { env: { PATH: `${bin}:/usr/bin:/bin`, SPOTRUN_ROOT: root } });
  return { root, log: await readFile(log, "utf8") };
}

test("run against a scratch root: installs spotrun, writes spot.json and the unit, starts the agent", async () => {
  const { root, log } = await bootstrap(20);
  const config = JSON.parse(await readFile(join(root, "etc/spotrun/spot.json"), "utf8"));
  assert.deepEqual(config, CONFIG, "the JSON survives the heredoc byte for byte (quotes and $() stay literal)");
  const unit = await readFile(join(root, "etc/systemd/system/spotrun-agent.service"), "utf8");
  assert.match(
    unit,
    new RegExp(`^ExecStart=${root}/stub-bin/spotrun agent guard --provider aws --config /etc/spotrun/spot.json$`, "m"),
  );
  assert.match(unit, /^WantedBy=multi-user\.target$/m);
  assert.match(unit, /^Restart=always$/m);
  const calls = log.trim().split("\n");
  assert.deepEqual(calls, [
    "npm install -g --no-fund --no-audit spotrun@0.1.0",
    "systemctl daemon-reload",
    "systemctl enable --now spotrun-agent.service",
  ]);
  assert.match(await readFile(join(root, "var/log/spotrun-bootstrap.log"), "utf8"), /agent started/);
});

test("an image whose Node is older than 20 gets the distro packages, then Node 20 from the npm registry", async () => {
  const { log } = await bootstrap(18);
  const calls = log.trim().split("\n");
  assert.deepEqual(calls.slice(0, 4), [
    "apt-get update -q",
    "apt-get install -y -q nodejs npm",
    "npm install -g --no-fund --no-audit node@20",
    "npm install -g --no-fund --no-audit spotrun@0.1.0",
  ]);
});

test("a local checkpoint script is written byte for byte, even if it contains the heredoc delimiter", async () => {
  const body = "#!/bin/bash\necho \"$HOME\" '$(x)' `y`\nSPOTRUN_CHECKPOINT_EOF\nexit 0\n";
  const { root } = await bootstrap(20, body);
  assert.equal(await readFile(join(root, "etc/spotrun/checkpoint.sh"), "utf8"), body);
  const config = JSON.parse(await readFile(join(root, "etc/spotrun/spot.json"), "utf8"));
  assert.equal(config.checkpoint_script, "/etc/spotrun/checkpoint.sh");
});

test("the agent command waits for cloud-init, then runs spotrun with the controller's arguments", async () => {
  const { AwsProvider } = await import("../../../src/providers/aws/aws-provider.js");
  const { silentLogger } = await import("../../../src/base/logger.js");
  const bin = await mkdtemp(join(dir, "agent-cmd-"));
  const log = join(bin, "calls.log");
  const stub = async (name: string, body: string) => {
    await writeFile(join(bin, name), `#!/bin/bash\n${body}\n`);
    await chmod(join(bin, name), 0o755);
  };
  await stub("cloud-init", `echo "cloud-init $*" >> "${log}"`);
  await stub("spotrun", `echo "spotrun $*" >> "${log}"`);
  const cmd = new AwsProvider({ home: dir, logger: silentLogger }).agentCommand();
  await run("bash", ["-c", `${cmd} agent run --config '.spotrun/agent dir/agent.json'`], {
    env: { PATH: `${bin}:/usr/bin:/bin` },
  });
  assert.deepEqual((await readFile(log, "utf8")).trim().split("\n"), [
    "cloud-init status --wait",
    "spotrun agent run --config .spotrun/agent dir/agent.json",
  ]);
});
