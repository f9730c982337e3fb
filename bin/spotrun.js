#!/usr/bin/env node
// The package ships compiled JavaScript in dist/; `npm run build` makes it.
// A closed pipe (`spotrun status | head`) ends output quietly, as other CLIs do.
process.stdout.on("error", (e) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});
// The AWS SDK warns on every command under Node 20, which we support; the warning is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const argv = process.argv.slice(2);
const config = argv[0] === "agent" && argv[1] === "run" ? argv.indexOf("--config") : -1;
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
  // Asked before every call by scripts and agents: answered from package.json, no command table.
  const { readFileSync } = await import("node:fs");
  process.stdout.write(`${JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version}\n`);
} else if (config > 0 && argv[config + 1] && !argv.includes("--help")) {
  // The on-instance agent skips the command table: its start-up time is recovery time.
  import("../dist/src/agent/agent-main.js")
    .then((m) => m.runAgent(argv[config + 1]))
    .then((code) => process.exit(code))
    .catch((e) => {
      process.stderr.write(`spotrun agent: ${e?.stack ?? e}\n`);
      process.exit(1);
    });
} else {
  const { statSync } = await import("node:fs");
  const mtime = (f) => {
    try {
      return statSync(new URL(f, import.meta.url)).mtimeMs;
    } catch {
      return -1;
    }
  };
  // The bundle (scripts/build-cli.mjs) while it is built from the current tsc output; dist/src otherwise.
  const bundled = mtime("../dist/cli/main.js") >= mtime("../dist/src/cli/main.js");
  import(bundled ? "../dist/cli/main.js" : "../dist/src/cli/main.js").then((m) => m.main(process.argv));
}
