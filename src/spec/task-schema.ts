import { z } from "zod";
import { durationField } from "./duration-field.js";
import { notifyListSchema } from "./notify-schema.js";

import { ENV_NAME, MAX_ARRAY_COUNT, MAX_INTERRUPTIONS, MAX_NODES, PROVIDERS } from "./task-limits.js";

export { ENV_NAME, MAX_ARRAY_COUNT, MAX_INTERRUPTIONS, MAX_NODES, PROVIDERS, type ProviderKind } from "./task-limits.js";

/** Bounds no real run comes near: USD per hour, GB of disk, restarts, generations kept. */
const MAX_PRICE_PER_HOUR = 1_000;
const MAX_DISK_GB = 65_536;
const MAX_RESTARTS = 100_000;

/** The simulated spot market of the `local` provider; only valid with `provider: local`. */
export const localMarketSchema = z
  .object({
    /** Spot instance k (in launch order) is interrupted this long after it starts; past the list, never. */
    interrupt_after: z.array(durationField()).max(MAX_INTERRUPTIONS).default([]),
    /** Mean time between random interruptions; with `seed` for a replayable run. */
    mtbi: durationField().optional(),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .default(1),
    /** How long between the notice and the reclaim (SIGKILL of the instance). */
    notice: durationField().default(120_000),
    /** Refuse this many spot launches (capacity), to exercise fallback. */
    refuse_spot: z.number().int().min(0).max(MAX_RESTARTS).default(0),
    /** The instances of this many first attempts never boot (as a cloud machine that fails its start), to exercise recovery. */
    boot_failures: z.number().int().min(0).max(MAX_RESTARTS).default(0),
    provisioning_delay: durationField().default(0),
    /** A rebalance recommendation this long before each scheduled interruption notice. */
    rebalance_before: durationField().optional(),
    /** Replay an availability trace (`../shared/traces` format), `time_scale` trace seconds per real second. */
    trace: z.string().optional(),
    time_scale: z.number().positive().max(1_000_000).default(1),
    /** Start the replay this far into the trace (trace time), like `spotrun simulate --start-at`. */
    trace_start: durationField().default(0),
    /**
     * Reach instances over SSH like a cloud's: `netns` gives each its own network namespace, address
     * and sshd (root, iproute2); `loopback` an sshd on a 127.0.0.1 port; `bare` a namespace with its
     * own minimal Debian root (debootstrap, cached) and nothing else — no Node, no spotrun — as a
     * fresh cloud instance. Absent: plain processes.
     */
    ssh: z.enum(["netns", "loopback", "bare"]).optional(),
  })
  .strict();
export type LocalMarket = z.output<typeof localMarketSchema>;

export const resourcesSchema = z
  .object({
    provider: z.enum(PROVIDERS).default("local"),
    instance_type: z.string().optional(),
    instance_types: z.array(z.string()).min(1).optional(),
    spot: z.boolean().default(true),
    max_price: z.number().positive().max(MAX_PRICE_PER_HOUR).optional(),
    fallback_on_demand: z.boolean().default(false),
    region: z.string().optional(),
    zone: z.string().optional(),
    /** Vast.ai and GPU clouds: `RTX_4090:1`. */
    accelerators: z.string().optional(),
    /** GCP TPU slice type such as `v5litepod-8`. */
    tpu: z.string().optional(),
    image: z.string().optional(),
    disk: z.number().positive().max(MAX_DISK_GB).optional(),
    min_reliability: z.number().min(0).max(1).optional(),
    key_name: z.string().optional(),
    on_interruption: z.enum(["checkpoint", "hibernate", "stop", "terminate"]).default("checkpoint"),
    market: localMarketSchema.optional(),
    /** Where and as whom AWS instances run; default: the default VPC and a `spotrun-ssh` group made once per region. */
    aws: z
      .object({
        security_group_ids: z
          .array(z.string().regex(/^sg-[0-9a-f]+$/, "a security group id such as sg-0abc123"))
          .min(1)
          .optional(),
        subnet_id: z
          .string()
          .regex(/^subnet-[0-9a-f]+$/, "a subnet id such as subnet-0abc123")
          .optional(),
        /** The instance profile (by name) that lets the agent write checkpoints to S3. */
        instance_profile: z.string().min(1).optional(),
        /** Login user of a custom `image` (the default image's is ubuntu). */
        ssh_user: z.string().min(1).optional(),
        /** Who may reach the `spotrun-ssh` group's port 22. */
        ssh_cidr: z
          .string()
          .regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, "an IPv4 CIDR such as 203.0.113.0/24")
          .optional(),
      })
      .strict()
      .optional(),
    /** Named persistent disks that follow the job to its replacement VM (GCP). */
    volumes: z
      .array(
        z
          .object({
            name: z
              .string()
              .regex(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/, "lower-case letters, digits and '-', starting with a letter"),
            size: z.number().int().positive().max(MAX_DISK_GB),
            mount: z.string(),
            type: z.string().optional(),
          })
          .strict(),
      )
      .optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.instance_type && r.instance_types)
      ctx.addIssue({ code: "custom", path: ["instance_types"], message: "give instance_type or instance_types, not both" });
    if (r.market && r.provider !== "local")
      ctx.addIssue({ code: "custom", path: ["market"], message: "market is only valid with provider: local" });
    if (r.aws && r.provider !== "aws")
      ctx.addIssue({ code: "custom", path: ["aws"], message: "aws is only valid with provider: aws" });
  });

export const checkpointSchema = z
  .object({
    /** Where the trainer writes checkpoints on the instance; relative paths are under the workdir. */
    dir: z.string().default("checkpoints"),
    /** file:///path, s3://bucket/prefix or gs://bucket/prefix; default: file store under $SPOTRUN_HOME. */
    store: z.string().optional(),
    /** Create the s3/gs bucket at submit when it does not exist (otherwise a missing bucket is refused there). */
    create_bucket: z.boolean().default(false),
    hook: z.string().optional(),
    hook_timeout: durationField().default(90_000),
    stall_warning: durationField().default(3_600_000),
    resume_arg: z.string().optional(),
    /** Start from this checkpoint while the job's own store has none (resolved to a store URL and generation at submit). */
    resume_from: z.string().min(1).optional(),
    keep: z.number().int().min(1).max(1_000).default(3),
  })
  .strict();

export const RECOVERY_STRATEGIES = ["same", "failover", "on_demand_after", "deadline"] as const;

export const recoverySchema = z
  .object({
    max_restarts: z.number().int().min(0).max(MAX_RESTARTS).default(10),
    max_restarts_on_errors: z.number().int().min(0).max(MAX_RESTARTS).default(0),
    /** Launches refused or failed in a row (capacity, price) before the job fails; each waits longer. */
    max_launch_failures: z.number().int().min(0).max(MAX_RESTARTS).default(10),
    strategy: z.enum(RECOVERY_STRATEGIES).default("same"),
    on_demand_after: z.number().int().min(1).max(MAX_RESTARTS).optional(),
    window: durationField().optional(),
    deadline: z.string().optional(),
    /** strategy deadline: how much compute the job needs (its progress is measured against it). */
    work: durationField().optional(),
    /** strategy deadline: the policy that keeps it on time (see `spotrun simulate --policy all`). */
    deadline_policy: z.enum(["uniform-progress", "greedy", "ross", "adaptive"]).default("uniform-progress"),
    /** strategy deadline: the restart overhead assumed until one has been measured. */
    restart_overhead: durationField().default(180_000),
    /** On a rebalance recommendation, launch the replacement at once, so it is ready by the reclaim. */
    prelaunch_on_rebalance: z.boolean().default(false),
    /**
     * On an interruption notice, launch and set up the replacement at once while the old instance
     * keeps working; stop it when the replacement is ready (or the deadline less the checkpoint
     * budget comes). Default: on for spot with strategy same or on_demand_after (see replacesOnNotice).
     */
    replace_on_notice: z.boolean().optional(),
    /**
     * A multi-node job that loses some of its nodes keeps the others: only the lost nodes are
     * launched again, and the run restarts on all of them from the newest checkpoint. Default off
     * (the whole job moves, as one).
     */
    partial: z.boolean().default(false),
    /** strategy deadline: how often a running job's market is reconsidered. */
    decision_interval: durationField().default(30_000),
    block_zone_for: durationField().default(1_800_000),
    /** How long an attempt may take from launch to a running agent (instance up, SSH, Node, agent) before it ends as a setup failure. */
    setup_timeout: durationField().default(1_200_000),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.strategy === "deadline" && (!r.deadline || r.work === undefined))
      ctx.addIssue({
        code: "custom",
        path: ["deadline"],
        message:
          "strategy deadline needs recovery.deadline (a time or a duration) and recovery.work (how much compute the job needs)",
      });
    if (r.partial && (r.strategy === "failover" || r.strategy === "deadline"))
      ctx.addIssue({
        code: "custom",
        path: ["partial"],
        message: `recovery.partial keeps the surviving nodes where they are, and strategy ${r.strategy} chooses each attempt's market for the whole job: use strategy same or on_demand_after with it`,
      });
    if (r.partial && r.prelaunch_on_rebalance)
      ctx.addIssue({
        code: "custom",
        path: ["partial"],
        message:
          "recovery.partial replaces only the lost nodes after the reclaim; recovery.prelaunch_on_rebalance launches the whole job ahead of it: choose one",
      });
    if (r.partial && r.replace_on_notice)
      ctx.addIssue({
        code: "custom",
        path: ["partial"],
        message:
          "recovery.partial replaces only the lost nodes after the reclaim; recovery.replace_on_notice replaces the whole job on a notice: choose one",
      });
  });

export const budgetSchema = z
  .object({
    max_cost: z.number().positive().optional(),
    max_hourly: z.number().positive().optional(),
  })
  .strict();

export const arraySchema = z
  .object({ count: z.number().int().min(1).max(MAX_ARRAY_COUNT), spot_count: z.number().int().min(0).optional() })
  .strict();

export const taskSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/, "letters, digits, '.', '_' or '-', at most 63")
      .default("job"),
    resources: resourcesSchema.prefault({}),
    num_nodes: z.number().int().min(1).max(MAX_NODES).default(1),
    workdir: z.string().optional(),
    setup: z.string().optional(),
    run: z.string({ error: (i) => (i.input === undefined ? "required: the command to run" : "expected a string") }),
    envs: z
      .record(
        z.string().regex(ENV_NAME, "not an environment variable name (letters, digits and _, not starting with a digit)"),
        z.union([z.string(), z.number(), z.boolean()]).transform(String),
      )
      .prefault({}),
    checkpoint: checkpointSchema.prefault({}),
    recovery: recoverySchema.prefault({}),
    budget: budgetSchema.prefault({}),
    array: arraySchema.optional(),
    /** Who hears about preemptions, failures, budgets (see notify-schema.ts); the user config adds its own. */
    notify: notifyListSchema.optional(),
    /** How often a running job's cost is reported to its `notify` targets (cost_report); default never. */
    notify_every: durationField().optional(),
  })
  .strict();

export type TaskInput = z.input<typeof taskSchema>;
export type Task = z.output<typeof taskSchema>;
export type Resources = Task["resources"];
export type CheckpointSpec = Task["checkpoint"];
export type RecoverySpec = Task["recovery"];

/**
 * Does this task replace on the notice: its own word, else yes for spot unless the next attempt's
 * market is a per-attempt decision (deadline, failover), which a replacement launched at the notice
 * would pre-empt, or the job has volumes that move with it, or it replaces only its lost nodes. Pure.
 */
export function replacesOnNotice(task: Pick<Task, "recovery" | "resources">): boolean {
  const r = task.recovery;
  if (r.replace_on_notice !== undefined) return r.replace_on_notice;
  // Only the lost nodes are replaced, once they are gone (recovery.partial).
  if (r.partial) return false;
  // A persistent volume follows the job to the next instance, and attaches to one at a time: the
  // replacement can only be made once the old instance has let go of it (a session's disk).
  if ((task.resources.volumes?.length ?? 0) > 0) return false;
  return task.resources.spot && (r.strategy === "same" || r.strategy === "on_demand_after");
}
