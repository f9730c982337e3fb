import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { volumesOf } from "../../../src/providers/gcp/disks.js";
import { GCP_VOLUME_MOUNT, supervisorSpec } from "../../../src/sessions/session-lifecycle.js";
import { parseSessionText } from "../../../src/sessions/session-schema.js";
import { gcpDiskName, SESSION_CHECKPOINT_DIR, sessionTask } from "../../../src/sessions/session-task.js";
import { parseSupervisorSpec, SPEC_ENV, tmuxSocketArgs } from "../../../src/sessions/supervisor-spec.js";

const file = (provider: string) =>
  parseSessionText(
    `resources: {provider: ${provider}}\npersist: [~/.agent-state, /workspaces]\nagents: [{name: coder, command: c, resume_command: c --continue}]\nsave_budget: 20s\nvolume: {size: 2GB}\nenvs: {A: 1}\n`,
    "s.yaml",
  );

describe("a session as a managed job", () => {
  test("local: the volume is a directory under the home and tmux listens on a socket beside the session", () => {
    const spec = supervisorSpec("/h", "work", file("local"));
    assert.deepEqual(spec.volume, { kind: "dir", path: "/h/volumes/work", size_bytes: 2 * 1024 ** 3 });
    assert.deepEqual(tmuxSocketArgs(spec.tmux), ["-S", "/h/sessions/work/tmux.sock"]);
    assert.equal(spec.save_budget_ms, 20_000);
  });

  test("elsewhere: a named tmux socket and a volume on the instance, carried by snapshots", () => {
    const spec = supervisorSpec("/h", "work", file("gcp"));
    assert.deepEqual(tmuxSocketArgs(spec.tmux), ["-L", "spotrun-work"]);
    assert.equal(spec.volume.path, GCP_VOLUME_MOUNT);
    assert.equal(supervisorSpec("/h", "work", file("aws")).volume.path, "~/.spotrun-volume");
  });

  test("the job runs the supervisor with the spec in its environment and room for the save", () => {
    const f = file("local");
    const spec = supervisorSpec("/h", "work", f);
    const task = sessionTask("work", f, spec, "/usr/bin/node /x/bin/spotrun.js");
    assert.equal(task.name, "session-work");
    assert.equal(task.run, "/usr/bin/node /x/bin/spotrun.js session supervise");
    assert.equal(task.envs.A, "1");
    assert.deepEqual(parseSupervisorSpec(task.envs[SPEC_ENV] as string, "env"), spec);
    assert.equal(task.checkpoint.dir, SESSION_CHECKPOINT_DIR);
    assert.ok(task.checkpoint.hook_timeout > f.save_budget);
    assert.equal(task.recovery.max_restarts, 1000);
    assert.equal(task.resources.provider, "local");
  });

  test("a spec that is not one is refused with where it came from", () => {
    assert.throws(() => parseSupervisorSpec("{", "$X"), /\$X: the session spec is not JSON/);
    assert.throws(() => parseSupervisorSpec('{"version":2}', "$X"), /\$X: invalid session spec/);
  });
});

describe("a session's volume on GCP", () => {
  test("is a persistent disk the provider attaches and mounts where the supervisor looks", () => {
    const f = parseSessionText(
      "resources: {provider: gcp}\npersist: [~/.agent-state]\nagents: [{name: a, command: x}]\nvolume: {size: 1500MB}\n",
      "s.yaml",
    );
    const spec = supervisorSpec("/h", "My_Work", f);
    assert.deepEqual(spec.volume, { kind: "mount", path: GCP_VOLUME_MOUNT, size_bytes: 1500 * 1024 ** 2 });
    const task = sessionTask("My_Work", f, spec, "spotrun");
    assert.deepEqual(volumesOf(task.resources), [{ name: "spotrun-s-my-work", sizeGb: 2, mount: GCP_VOLUME_MOUNT }]);
    assert.equal(gcpDiskName(`${"x".repeat(60)}-`), `spotrun-s-${"x".repeat(52)}`);
  });
});

describe("the local tmux socket", () => {
  test("beside the session when the path fits a unix socket, else a name unique to the home", () => {
    const f = file("local");
    const deep = `/${"d".repeat(120)}`;
    const spec = supervisorSpec(deep, "work", f);
    assert.equal(spec.tmux.kind, "name");
    assert.match(tmuxSocketArgs(spec.tmux)[1] as string, /^spotrun-work-[0-9a-f]{8}$/);
    assert.deepEqual(supervisorSpec(deep, "work", f).tmux, spec.tmux, "stable for the same home");
    assert.notDeepEqual(supervisorSpec(`${deep}x`, "work", f).tmux, spec.tmux);
  });
});
