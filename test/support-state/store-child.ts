import { JobId } from "../../src/base/ids.js";
import { openStateStore } from "../../src/state/open-state-store.js";

/**
 * A second process on a state store, for tests of what several processes do to one store at
 * once: `open HOME [URL]` opens (and so migrates) it; `write HOME [URL] MS` also appends events
 * to a job as fast as it can for MS milliseconds. Prints "ok" (or the error's code and message) and
 * exits 0 (or 1).
 */
const [mode, home, url, ms] = process.argv.slice(2);
const WRITER = JobId("j-writer");
try {
  const store = await openStateStore(home as string, url || undefined);
  if (mode === "write") {
    const until = Date.now() + Number(ms);
    let n = 0;
    while (Date.now() < until) {
      // Commands write both ways: single statements, and transactions that read before they write.
      if (n % 5 === 0)
        await store.transaction(async (tx) => {
          await tx.events(WRITER, n);
          await tx.appendEvent(WRITER, Date.now(), { kind: "warning", message: `t${n++}` });
        });
      else await store.appendEvent(WRITER, Date.now(), { kind: "warning", message: `w${n++}` });
      if (n % 20 === 0) await new Promise((r) => setImmediate(r));
    }
  }
  await store.close();
  process.stdout.write("ok\n");
} catch (e) {
  const err = e as { code?: string; message?: string };
  process.stdout.write(`${err.code ?? "error"}: ${err.message}\n`);
  process.exitCode = 1;
}
