import { z } from "zod";
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
    dashboard: z
      .object({ port: z.number().int().min(0).max(65535).optional() })
      .strict()
      .optional(),
  })
  .strict();

export type UserConfig = z.output<typeof userConfigSchema>;
