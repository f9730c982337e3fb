/**
 * The task file's names and bounds that the CLI's flag definitions need too. They live apart from
 * the schema so that `spotrun --help` can list the flags without loading zod.
 */

/** What a process environment can carry as a name, in every shell. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The most members a job array may have, and the most scheduled interruptions a local market may list. */
export const MAX_ARRAY_COUNT = 10_000;
export const MAX_INTERRUPTIONS = 1_000;
/** Bounds no real run comes near: nodes of one job. */
export const MAX_NODES = 1_024;

export const PROVIDERS = ["local", "aws", "gcp", "vast"] as const;
export type ProviderKind = (typeof PROVIDERS)[number];
