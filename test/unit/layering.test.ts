import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, posix, relative, resolve, sep } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

/**
 * Imports point down. Every top folder of src/ has a rank; a file may import its own folder and
 * folders of a lower rank, never one of its own rank or above. Folders of one rank are peers that
 * know nothing of each other. A provider implementation (src/providers/<kind>/…) is reached only
 * through src/providers/ (the registry and the Provider interface), so core, sessions and the CLI
 * hold no provider-specific knowledge.
 */
const LAYERS: readonly (readonly string[])[] = [
  ["base"],
  ["spec"],
  ["state", "config"],
  ["transport", "checkpoints", "cost"],
  ["agent"],
  ["providers"],
  // placement ranks offers (providers' Offer type); bootstrap ships the agent to a provider's instance.
  ["placement", "bootstrap"],
  ["core"],
  ["sessions", "notify", "metrics"],
  ["api"],
  // Front ends over the library API; the CLI starts both (`spotrun dashboard`, `spotrun mcp`).
  ["dashboard", "mcp"],
  ["cli", "index.ts"],
];

/**
 * Imports that break the rules today. Each names why it cannot move yet. The test fails when one
 * of these disappears, so the list only shrinks: delete the entry with the import.
 */
const ALLOWED: readonly { from: string; to: string; why: string }[] = [
  {
    from: "cli/commands/index.ts",
    to: "providers/vast/cli/vast-commands.ts",
    why: "the `spotrun vast …` commands live with the vast provider; wants a provider-contributed command list",
  },
  ...["vast-actions.ts", "vast-commands.ts"].map((f) => ({
    from: `providers/vast/cli/${f}`,
    to: "cli/command.ts",
    why: "the vast commands are CommandSpecs; the CommandSpec contract lives in cli/ (moving it touches every command)",
  })),
  {
    from: "providers/vast/cli/vast-actions.ts",
    to: "cli/output.ts",
    why: "the vast commands draw tables with the CLI's table(); goes with the CommandSpec move",
  },
  ...["command-tool.ts", "mcp-server.ts"].map((f) => ({
    from: `mcp/${f}`,
    to: "cli/command.ts",
    why: "mcp serves the CLI's own CommandSpecs (passed in by cli/commands/mcp.ts); only their types cross",
  })),
];

const srcDir = resolve(fileURLToPath(new URL("../../../src/", import.meta.url)));

interface Import {
  file: string;
  line: number;
  specifier: string;
}

/** Comments out, strings kept (a `//` in a URL is not a comment), line breaks kept for line numbers. */
function withoutComments(text: string): string {
  return text.replace(/("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)|\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (m, str) =>
    str !== undefined ? m : m.replace(/[^\n]/g, ""),
  );
}

/** Every module specifier a file names: `import … from`, `export … from`, `import "…"`, `import("…")`, `import type`. */
function importsOf(file: string, text: string): Import[] {
  const code = withoutComments(text);
  const found: Import[] = [];
  const patterns = [
    /(?:^|[;\s}])(?:import|export)\s+(?:type\s+)?(?:[\w$*\s{},]+?\s+from\s+)?(["'])([^"'\n]+)\1/g,
    /\bimport\(\s*(["'])([^"'\n]+)\1\s*\)/g,
  ];
  for (const re of patterns) {
    for (const m of code.matchAll(re)) {
      const specifier = m[2]!;
      const at = m.index + m[0].lastIndexOf(specifier);
      found.push({ file, line: code.slice(0, at).split("\n").length, specifier });
    }
  }
  return found.sort((a, b) => a.line - b.line);
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      // The dashboard's browser code is its own program (own tsconfig, bundled by esbuild).
      if (relative(srcDir, p) !== join("dashboard", "ui")) out.push(...sourceFiles(p));
    } else if (e.name.endsWith(".ts")) out.push(p);
  }
  return out;
}

const toPosix = (p: string) => p.split(sep).join(posix.sep);
const folderOf = (rel: string) => (rel.includes("/") ? rel.slice(0, rel.indexOf("/")) : rel);
const rankOf = new Map(LAYERS.flatMap((names, rank) => names.map((n) => [n, rank] as const)));
const isProviderImplementation = (rel: string) => /^providers\/[^/]+\//.test(rel);

interface Violation {
  from: string;
  to: string;
  line: number;
  rule: string;
}

/** What a file importing another breaks, if anything (paths relative to src/, posix). */
function ruleBroken(from: string, to: string): string | undefined {
  const a = folderOf(from);
  const b = folderOf(to);
  if (isProviderImplementation(to) && a !== "providers") {
    return a === "core"
      ? "core imports a provider implementation (go through providers/registry.ts and the Provider interface)"
      : `${a} imports a provider implementation (only src/providers/ may: make it a Provider capability)`;
  }
  if (a === b) return undefined;
  const ra = rankOf.get(a);
  const rb = rankOf.get(b);
  if (ra === undefined || rb === undefined) return `${ra === undefined ? a : b} has no rank in LAYERS`;
  if (rb === ra) return `${a} imports its peer ${b} (same rank)`;
  if (rb > ra) return `${a} imports ${b}, a higher layer`;
  return undefined;
}

function violations(): Violation[] {
  const out: Violation[] = [];
  for (const path of sourceFiles(srcDir)) {
    const from = toPosix(relative(srcDir, path));
    for (const imp of importsOf(from, readFileSync(path, "utf8"))) {
      if (!imp.specifier.startsWith(".")) continue;
      const target = toPosix(relative(srcDir, resolve(dirname(path), imp.specifier))).replace(/\.js$/, ".ts");
      if (target.startsWith("../")) continue; // outside src/ (package.json)
      const rule = ruleBroken(from, target);
      if (rule) out.push({ from, to: target, line: imp.line, rule });
    }
  }
  return out;
}

test("the import scanner sees every form of import and skips comments", () => {
  const text = [
    'import { a } from "./a.js";',
    'import type { B, type C } from "../b.js";',
    "import {",
    "  d,",
    "  e,",
    '} from "../d.js";',
    'export { f } from "./f.js";',
    'export * from "./g.js";',
    'import "./side-effect.js";',
    'const { h } = await import("../h.js");',
    'let x: import("../i.js").I;',
    '// import { no } from "./commented.js";',
    '/* import("./block.js") */ const url = "http://example.com/x"; // import "./tail.js"',
    'import def, * as ns from "./j.js";',
  ].join("\n");
  assert.deepEqual(
    importsOf("x.ts", text).map((i) => `${i.line}:${i.specifier}`),
    ["1:./a.js", "2:../b.js", "6:../d.js", "7:./f.js", "8:./g.js", "9:./side-effect.js", "10:../h.js", "11:../i.js", "14:./j.js"],
  );
});

test("the rules: down is allowed; up, sideways and into a provider implementation are not", () => {
  assert.equal(ruleBroken("core/controller.ts", "state/state-store.ts"), undefined);
  assert.equal(ruleBroken("core/controller.ts", "providers/registry.ts"), undefined);
  assert.equal(ruleBroken("providers/aws/aws-provider.ts", "providers/provider.ts"), undefined);
  assert.equal(ruleBroken("providers/registry.ts", "providers/aws/aws-provider.ts"), undefined);
  assert.equal(ruleBroken("cli/main.ts", "index.ts"), "cli imports its peer index.ts (same rank)");
  assert.match(ruleBroken("state/state-store.ts", "core/events.ts") ?? "", /higher layer/);
  assert.match(ruleBroken("core/controller.ts", "cli/output.ts") ?? "", /higher layer/);
  assert.match(ruleBroken("core/controller.ts", "providers/gcp/tpu.ts") ?? "", /core imports a provider implementation/);
  assert.match(ruleBroken("cli/commands/x.ts", "providers/aws/aws-error.ts") ?? "", /provider implementation/);
  assert.match(ruleBroken("newfolder/x.ts", "base/clock.ts") ?? "", /no rank/);
});

test("every folder under src/ has a rank", () => {
  const folders = readdirSync(srcDir, { withFileTypes: true })
    .filter((e) => (e.isDirectory() ? true : e.name.endsWith(".ts")))
    .map((e) => e.name);
  assert.deepEqual(
    folders.filter((f) => !rankOf.has(f)),
    [],
    "add the new folder to LAYERS where its imports say it belongs",
  );
});

test("imports point down: no file imports a higher or peer folder, nor a provider implementation from outside providers/", () => {
  const found = violations();
  const allowed = new Set(ALLOWED.map((a) => `${a.from} -> ${a.to}`));
  const offending = found.filter((v) => !allowed.has(`${v.from} -> ${v.to}`));
  assert.deepEqual(
    offending.map((v) => `src/${v.from}:${v.line} imports src/${v.to}: ${v.rule}`),
    [],
    "move the module to the layer it belongs in, or pass the dependency in",
  );
  const still = new Set(found.map((v) => `${v.from} -> ${v.to}`));
  assert.deepEqual(
    ALLOWED.filter((a) => !still.has(`${a.from} -> ${a.to}`)).map((a) => `${a.from} -> ${a.to}`),
    [],
    "these allowlisted imports are gone: delete their entries from ALLOWED",
  );
  for (const a of ALLOWED) assert.ok(a.why.length > 0, `${a.from} -> ${a.to} needs a reason`);
});
