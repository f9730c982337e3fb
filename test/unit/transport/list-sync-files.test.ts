import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { listSyncFiles } from "../../../src/transport/sync/list-sync-files.js";

describe("the upload file list", () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "spotrun-list-"));
    const files: Record<string, string> = {
      ".gitignore": "*.log\n/out/\nbuild/\n",
      "a.py": "",
      "a.log": "",
      "out/x": "",
      "src/out/kept-because-root-anchored": "",
      "src/build/gone": "",
      "src/.gitignore": "*.tmp\n!important.tmp\n",
      "src/x.tmp": "",
      "src/important.tmp": "",
      "other/y.tmp": "",
      "data/big.bin": "",
      "docs/readme.md": "",
    };
    for (const [p, c] of Object.entries(files)) {
      await mkdir(join(root, p, ".."), { recursive: true });
      await writeFile(join(root, p), c);
    }
    await mkdir(join(root, "empty"));
    await symlink("a.py", join(root, "link"));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it("applies root and nested .gitignore files the way git does, plus excludes", async () => {
    const list = await listSyncFiles(root, ["data/", "*.md"]);
    assert.deepEqual(list, [
      { path: ".gitignore", kind: "file" },
      { path: "a.py", kind: "file" },
      { path: "docs", kind: "dir" },
      { path: "empty", kind: "dir" },
      { path: "link", kind: "symlink" },
      { path: "other", kind: "dir" },
      { path: "other/y.tmp", kind: "file" },
      { path: "src", kind: "dir" },
      { path: "src/.gitignore", kind: "file" },
      { path: "src/important.tmp", kind: "file" },
      { path: "src/out", kind: "dir" },
      { path: "src/out/kept-because-root-anchored", kind: "file" },
    ]);
  });

  it("sends everything when nothing ignores it", async () => {
    const list = await listSyncFiles(join(root, "data"));
    assert.deepEqual(list, [{ path: "big.bin", kind: "file" }]);
  });
});
