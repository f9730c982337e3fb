import assert from "node:assert/strict";
import { test } from "node:test";
import stringWidth from "string-width";
import { paintState, table } from "../../../src/cli/output.js";
import { formatPct, formatUsd } from "../../../src/cost/ledger.js";

test("table columns are measured in terminal columns: the ⚡ marker and colour codes do not misalign rows", async () => {
  const out = (
    await table(
      ["ID", "MARKET", "STATE"],
      [
        ["i-1", "spot ⚡", paintState("RUNNING", true)],
        ["i-2", "on-demand", paintState("FAILED", true)],
      ],
    )
  ).split("\n");
  // Every row's STATE column starts at the same terminal column.
  const ESC = String.fromCharCode(27);
  const stateCol = (line: string) => stringWidth(line.slice(0, line.indexOf(line.includes(ESC) ? ESC : "STATE")));
  assert.deepEqual(out.map(stateCol), [stateCol(out[0] as string), stateCol(out[0] as string), stateCol(out[0] as string)]);
  assert.equal(out[1], `i-1  spot ⚡    ${ESC}[32mRUNNING${ESC}[0m`);
  assert.equal(paintState("RUNNING", false), "RUNNING");
});

test("one money format and one percent format", () => {
  assert.equal(formatUsd(0.0123), "$0.0123");
  assert.equal(formatUsd(12.3), "$12.3000");
  assert.equal(formatUsd(-0.5), "-$0.5000");
  assert.equal(formatPct(70), "70.0%");
  assert.equal(formatPct(12.345), "12.3%");
});
