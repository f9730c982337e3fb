// Entry of a local instance's host process; kept free of the CLI so it starts in tens of milliseconds.
import { runInstanceHost } from "./instance-host.js";

const dir = process.argv[2];
if (!dir) {
  process.stderr.write("usage: instance-host-main DIR\n");
  process.exit(2);
}
runInstanceHost(dir).catch((e) => {
  process.stderr.write(`instance host failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
