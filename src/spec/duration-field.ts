import { z } from "zod";
import { parseDuration } from "../base/duration.js";

/** Longer than any job, session or timer means; past it a number is a typo, not a plan. */
export const MAX_DURATION_MS = 366 * 24 * 3_600_000;

/** A duration field: `90s`, `60m`, `48h` or seconds, at most a year; parsed to milliseconds. */
export const durationField = (examples = "90s, 60m or 48h") =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: `expected a duration such as ${examples}, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    if (ms > MAX_DURATION_MS) {
      ctx.addIssue({ code: "custom", message: `${JSON.stringify(v)} is longer than a year, the most a duration may be` });
      return z.NEVER;
    }
    return ms;
  });
