import assert from "node:assert/strict";
import { test } from "node:test";
import { NODE_PINS } from "../../../src/bootstrap/node-pins.js";
import { planNode } from "../../../src/bootstrap/node-runtime.js";
import { parseProbe } from "../../../src/bootstrap/probe-instance.js";

const base = { minMajor: 20, pins: NODE_PINS, mirror: "https://mirror.example/dist", localArch: "x64", localLibc: "glibc" };

test("the probe's lines parse into facts; unknown lines are ignored", () => {
  const f = parseProbe(
    "machine=x86_64\nlibc=glibc 2.36\ntool=tar\ntool=gzip\nimage_node=/usr/bin/node v16.20.2\ncached_node=/root/.spotrun/node/a/bin/node v20.18.0\nagent=present\nfree_kb=2048\nsomething=else\n",
  );
  assert.equal(f.machine, "x86_64");
  assert.equal(f.libc, "glibc");
  assert.equal(f.libcVersion, "2.36");
  assert.deepEqual([...f.tools], ["tar", "gzip"]);
  assert.deepEqual(f.imageNode, { path: "/usr/bin/node", version: "v16.20.2" });
  assert.equal(f.cachedNodes[0]?.version, "v20.18.0");
  assert.equal(f.agentPresent, true);
  assert.equal(f.freeBytes, 2048 * 1024);
});

test("a Node 16 image is passed over: the pinned tarball when the instance can fetch and unpack it, else the controller's", () => {
  const facts = parseProbe(
    "machine=x86_64\nlibc=glibc 2.36\ntool=tar\ntool=gzip\ntool=xz\ntool=curl\nimage_node=/usr/bin/node v16.20.2\n",
  );
  const plan = planNode(facts, base);
  assert.deepEqual(
    plan.steps.map((s) => s.kind),
    ["download", "upload"],
  );
  const dl = plan.steps[0];
  assert.ok(dl?.kind === "download");
  assert.equal(dl.url, "https://mirror.example/dist/v20.18.0/node-v20.18.0-linux-x64.tar.xz");
  assert.equal(dl.pin.sha256, "4543670b589593f8fa5f106111fd5139081da42bb165a9239f05195e405f240a");
  assert.match(plan.passedOver.join(";"), /Node v16\.20\.2 is older than 20/);
  const noCurl = planNode(parseProbe("machine=aarch64\nlibc=glibc 2.36\ntool=xz\n"), { ...base, localArch: "x64" });
  assert.deepEqual(noCurl.steps, [], "arm64 without curl: nothing the controller can do");
  assert.match(noCurl.passedOver.join(";"), /no curl or wget/);
  assert.match(noCurl.passedOver.join(";"), /the controller's Node is linux-x64 glibc, the instance aarch64 glibc/);
});

test("a Node ≥ 20 already there is used: one left by an earlier bootstrap first, then the image's", () => {
  const cached = planNode(
    parseProbe("machine=x86_64\nimage_node=/usr/bin/node v22.1.0\ncached_node=/h/.spotrun/node/x/bin/node v20.18.0\n"),
    base,
  );
  assert.deepEqual(cached.steps, [{ kind: "use", source: "cached", binary: "/h/.spotrun/node/x/bin/node", version: "v20.18.0" }]);
  const image = planNode(parseProbe("machine=x86_64\nimage_node=/usr/bin/node v22.1.0\n"), base);
  assert.equal(image.steps[0]?.kind === "use" && image.steps[0].source, "image");
});
