import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SpotrunError } from "../../../src/base/errors.js";
import { connectSsh } from "../../../src/transport/ssh/connect.js";
import { RECONNECT_BACKOFF_MS, SSH_UNREACHABLE } from "../../../src/transport/ssh/ssh-session.js";
import { InstantClock } from "../../support/clocks.js";

describe("connection retries", () => {
  let server: Server;
  let port = 0;
  let accepted = 0;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "spotrun-backoff-"));
    // A port that accepts and hangs up at once, like a host whose sshd is still starting.
    server = createServer((s) => {
      accepted++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it("tries five times, waiting 2, 4, 8 and 16 s on the injected clock, then fails with the cause", async () => {
    const clock = new InstantClock();
    await assert.rejects(
      connectSsh({ host: "127.0.0.1", port, user: "root", knownHostsPath: join(dir, "known_hosts"), label: "flaky" }, { clock }),
      (e: unknown) => {
        assert.ok(e instanceof SpotrunError);
        assert.equal(e.code, SSH_UNREACHABLE);
        assert.match(e.oneLine(), /^cannot reach flaky after 5 attempts: .+ — /);
        assert.ok(e.cause instanceof Error);
        return true;
      },
    );
    assert.deepEqual(clock.sleeps, [2000, 4000, 8000, 16000]);
    assert.deepEqual(clock.sleeps, [...RECONNECT_BACKOFF_MS]);
    assert.equal(accepted, 5);
  });
});
