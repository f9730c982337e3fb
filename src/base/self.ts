import { fileURLToPath } from "node:url";
import { shellQuote } from "./shell-quote.js";

/** How to start this very installation of spotrun again (for the local provider's hosts and agents). */
export function spotrunBin(): string {
  // dist/src/base/self.js → <package root>/bin/spotrun.js
  return fileURLToPath(new URL("../../../bin/spotrun.js", import.meta.url));
}

export function spotrunCommand(): string {
  return `${shellQuote(process.execPath)} ${shellQuote(spotrunBin())}`;
}

export function distFile(relativeToDistSrc: string): string {
  return fileURLToPath(new URL(`../${relativeToDistSrc}`, import.meta.url));
}
