import { z } from "zod";
import { parseDuration } from "../base/duration.js";
import { notifyListSchema } from "../spec/notify-schema.js";
import { PROVIDERS } from "../spec/task-schema.js";

/**
 * `~/.spotrun/config.yaml` (or `$SPOTRUN_CONFIG`): a person's defaults. The fields are named as
 * in a task file, so what a task says wins over what the config says, and a flag over both.
 */
export const userConfigSchema = z
  .object({
    resources: z
      .object({
        provider: z.enum(PROVIDERS).optional(),
        region: z.string().min(1).optional(),
        spot: z.boolean().optional(),
        max_price: z.number().positive().optional(),
      })
      .strict()
      .optional(),
    checkpoint: z
      .object({
        store: z
          .string()
          .regex(/^(file|s3|gs):\/\/\S+$/, "a file://, s3:// or gs:// URL")
          .optional(),
      })
      .strict()
      .optional(),
    /** Told about every job, beside the task's own `notify`. */
    notify: notifyListSchema.optional(),
    /** How often each running job's cost is reported (cost_report); default never. */
    notify_every: z
      .union([z.string(), z.number()])
      .refine((v) => parseDuration(v) !== undefined, "expected a duration such as 6h")
      .transform((v) => parseDuration(v) as number)
      .optional(),
    dashboard: z
      .object({ port: z.number().int().min(0).max(65535).optional() })
      .strict()
      .optional(),
  })
  .strict();

export type UserConfig = z.output<typeof userConfigSchema>;
