#!/usr/bin/env node
// The package ships compiled JavaScript in dist/; `npm run build` makes it.
import("../dist/src/cli/main.js").then((m) => m.main(process.argv));
