import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { setupChecks } from "../../../src/providers/vast/setup-checks.js";
import { API_KEY, type Harness, harness } from "./fixtures.js";

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(() => h.close());

const run = async (env: NodeJS.ProcessEnv) => {
  const out = [];
  for (const c of setupChecks({ home: h.home, env })) out.push({ id: c.id, outcome: await c.run() });
  return out;
};

test("a key from the environment that the API accepts: both checks pass with one authenticated call", async () => {
  const [key, reach] = await run({ VAST_API_KEY: API_KEY, VAST_API_URL: h.server.url, XDG_CONFIG_HOME: join(h.home, "xdg") });
  assert.deepEqual(key, { id: "vast.api-key", outcome: { ok: true, detail: "from env:VAST_API_KEY" } });
  assert.deepEqual(reach, { id: "vast.api-reachable", outcome: { ok: true, detail: h.server.url } });
  const [call] = h.server.requests;
  assert.equal(call?.path, "/api/v0/users/current/");
  assert.equal(call?.auth, "bearer");
});

test("a key in <home>/config/vast_api_key is found; a rejected key fails without showing it", async () => {
  await mkdir(join(h.home, "config"), { recursive: true });
  await writeFile(join(h.home, "config", "vast_api_key"), "not-the-key\n");
  const [key, reach] = await run({ VAST_API_URL: h.server.url, XDG_CONFIG_HOME: join(h.home, "xdg") });
  assert.equal(key?.outcome.ok, true);
  assert.match(key?.outcome.ok ? (key.outcome.detail ?? "") : "", /config\/vast_api_key$/);
  assert.equal(reach?.outcome.ok, false);
  const text = JSON.stringify(reach);
  assert.match(text, /rejected the API key \(HTTP 401\)/);
  assert.ok(!text.includes("not-the-key"));
});

test("no key anywhere, or an unreachable API: each says what to do", async () => {
  const [key, reach] = await run({ VAST_API_URL: h.server.url, XDG_CONFIG_HOME: join(h.home, "xdg"), HOME: h.home });
  assert.equal(key?.outcome.ok, false);
  assert.match(key?.outcome.ok ? "" : (key?.outcome.fix ?? ""), /VAST_API_KEY/);
  assert.equal(reach?.outcome.ok, false);
  const [, down] = await run({ VAST_API_KEY: API_KEY, VAST_API_URL: "http://127.0.0.1:9", XDG_CONFIG_HOME: join(h.home, "xdg") });
  assert.equal(down?.outcome.ok, false);
  assert.match(down?.outcome.ok ? "" : (down?.outcome.problem ?? ""), /cannot reach http:\/\/127\.0\.0\.1:9\/api\/v0/);
  assert.ok(!JSON.stringify(down).includes(API_KEY));
});
