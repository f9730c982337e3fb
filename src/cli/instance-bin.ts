import { instanceMain } from "./instance-main.js";

// The agent artifact's entry point (see instance-main.ts). A closed pipe ends output quietly.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
instanceMain(process.argv).catch((e) => {
  process.stderr.write(`spotrun: ${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
});
