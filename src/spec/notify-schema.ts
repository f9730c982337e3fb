import { z } from "zod";
import { parseDuration } from "../base/duration.js";

/** What a notification can be about; `cost_report` comes every `notify_every` while a job runs. */
export const NOTIFY_KINDS = [
  "preempted",
  "recovered",
  "failed",
  "succeeded",
  "budget_warning",
  "over_budget",
  "checkpoint_stalled",
  "cost_report",
] as const;
export type NotifyKind = (typeof NOTIFY_KINDS)[number];

const timeout = z
  .union([z.string(), z.number()])
  .transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({ code: "custom", message: `expected a duration such as 10s, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return ms;
  })
  .default(10_000);

const url = z.string().regex(/^https?:\/\/\S+$/, "an http:// or https:// URL");
const on = z.array(z.enum(NOTIFY_KINDS)).min(1).optional();

/**
 * One place to tell: a webhook (JSON POST, signed with HMAC-SHA256 when a secret is given), a
 * Slack incoming webhook, or a command that gets the event as JSON on stdin. `on` picks the
 * kinds (default: every kind). Secrets are named, never written here: `secret_env` is an
 * environment variable of the controller, `secret_file` a file only its owner can read.
 */
export const notifyTargetSchema = z
  .object({
    webhook: url.optional(),
    slack: url.optional(),
    command: z.string().min(1).optional(),
    secret_env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name")
      .optional(),
    secret_file: z.string().min(1).optional(),
    on,
    timeout,
  })
  .strict()
  .superRefine((t, ctx) => {
    const given = (["webhook", "slack", "command"] as const).filter((k) => t[k] !== undefined);
    if (given.length !== 1)
      ctx.addIssue({
        code: "custom",
        message: given.length
          ? `give one of webhook, slack or command, not ${given.join(" and ")}`
          : "give one of webhook, slack or command",
      });
    if ((t.secret_env || t.secret_file) && !t.webhook)
      ctx.addIssue({ code: "custom", path: ["secret_env"], message: "a secret signs webhook deliveries only" });
  });
export type NotifyTarget = z.output<typeof notifyTargetSchema>;

export const notifyListSchema = z.array(notifyTargetSchema);
