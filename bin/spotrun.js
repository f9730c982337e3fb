#!/usr/bin/env node
// The package ships compiled JavaScript in dist/; `npm run build` makes it.
// A closed pipe (`spotrun status | head`) ends output quietly, as other CLIs do.
process.stdout.on("error", (e) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});
import("../dist/src/cli/main.js").then((m) => m.main(process.argv));
