import { join } from "node:path";
import { packageRoot } from "./package-root.js";
import { shellQuote } from "./shell-quote.js";

/** How to start this very installation of spotrun again (for the local provider's hosts and agents). */
export function spotrunBin(): string {
  return join(packageRoot(), "bin", "spotrun.js");
}

export function spotrunCommand(): string {
  return `${shellQuote(process.execPath)} ${shellQuote(spotrunBin())}`;
}

export function distFile(relativeToDistSrc: string): string {
  // tsc's output, also when the CLI runs bundled: a child process (a local instance's host) starts from it.
  return join(packageRoot(), "dist", "src", relativeToDistSrc);
}
