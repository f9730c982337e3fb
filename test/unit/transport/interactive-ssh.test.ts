import assert from "node:assert/strict";
import { test } from "node:test";
import { interactiveSshArgs } from "../../../src/transport/ssh/interactive-ssh.js";

test("a person's ssh: forced tty, only the pinned host key, the key file, one quoted remote command", () => {
  const args = interactiveSshArgs(
    { host: "10.0.0.5", port: 2222, user: "ubuntu", privateKeyPath: "/k/id", knownHostsPath: "/h/known hosts" },
    ["tmux", "-L", "spotrun-work", "attach-session", "-t", "work:coder's"],
  );
  assert.deepEqual(args, [
    "-tt",
    "-p",
    "2222",
    "-o",
    'UserKnownHostsFile="/h/known hosts"',
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "LogLevel=ERROR",
    "-i",
    "/k/id",
    "-o",
    "IdentitiesOnly=yes",
    "ubuntu@10.0.0.5",
    `tmux -L spotrun-work attach-session -t 'work:coder'\\''s'`,
  ]);
  const agent = interactiveSshArgs({ host: "h", port: 22, user: "root", knownHostsPath: "/kh" }, ["true"]);
  assert.ok(!agent.includes("-i"), "no key file: the SSH agent is asked");
});
