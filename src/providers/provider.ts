import { ExternalError } from "../base/errors.js";
import { type InstanceId, JobId } from "../base/ids.js";
import type { ProviderKind, Resources } from "../spec/task-schema.js";
import type { SshTarget } from "../transport/ssh/ssh-target.js";
import type { Transport } from "../transport/transport.js";
import type { ApiCallCounts } from "./api-calls.js";

/**
 * The narrow interface every cloud sits behind (Karpenter's cloudprovider shape): offers,
 * launch, describe, list, terminate, and a way in. Core code never imports a vendor SDK.
 */

/** A priced, launchable choice. */
export interface Offer {
  provider: ProviderKind;
  /** Stable id of the offer within the provider (for Vast: the ask id). */
  id: string;
  instanceType: string;
  region?: string;
  zone?: string;
  spot: boolean;
  pricePerHour: number;
  onDemandPricePerHour: number;
  /** Probability of interruption per hour where the provider publishes or we measured it. */
  interruptionRiskPerHour?: number;
  detail?: Record<string, unknown>;
}

export interface LaunchRequest {
  /** Idempotency key (EC2 ClientToken, instance name, label): the same key never launches twice. */
  token: string;
  /** Ordered preference: the provider may try them in order or hand them all to a fleet call. */
  instanceTypes: string[];
  spot: boolean;
  maxPrice?: number;
  region?: string;
  zone?: string;
  /** Nodes placed together for one attempt. */
  count: number;
  /** Tags (labels) on every resource: `spotrun:job`, `spotrun:attempt`, …. */
  tags: Record<string, string>;
  resources: Resources;
  /** Which spot instance this is, in launch order, for markets that schedule by it. */
  spotSequence?: number;
  /** A concrete offer to use, when placement already picked one. */
  offer?: Offer;
}

export type InstanceStatus = "pending" | "running" | "stopping" | "stopped" | "terminated";

export interface InstanceInfo {
  id: InstanceId;
  provider: ProviderKind;
  instanceType: string;
  zone?: string;
  region?: string;
  spot: boolean;
  status: InstanceStatus;
  pricePerHour: number;
  onDemandPricePerHour: number;
  launchedAt: number;
  endedAt?: number;
  tags: Record<string, string>;
  /** Address the transport connects to (SSH host:port), if any. */
  address?: string;
  /** Where the job's other nodes reach this one, when that differs from `address` (a TPU slice's internal IP). */
  privateAddress?: string;
  /** A control-plane view of interruption (Vast outbid, TPU PREEMPTED), when the instance cannot say so itself. */
  interrupted?: { reason: string; at: number };
  /** A fault that another attempt on the same resources would hit again (a full disk): not a preemption. */
  failure?: { kind: "disk_full"; message: string };
}

/** Why a launch was refused: the classification decides fallback and failover. */
export type RefusalKind = "capacity" | "price" | "quota" | "unsupported";

export type LaunchResult =
  | { kind: "launched"; instances: InstanceInfo[] }
  | { kind: "refused"; refusal: RefusalKind; code: string; message: string };

/** Typed provider errors; `retryable` ones (throttling, 5xx) are retried with backoff by the caller. */
export class ProviderError extends ExternalError {
  /** What a person should do about it, in the provider's own terms (the CLI's one line shows it). */
  readonly fix: string | undefined;
  constructor(
    readonly provider: ProviderKind,
    code: string,
    message: string,
    retryable: boolean,
    options?: { cause?: unknown; fix?: string },
  ) {
    super(provider, code, message, retryable, options);
    this.name = "ProviderError";
    this.fix = options?.fix;
  }
}
export const isRetryable = (e: unknown): boolean => e instanceof ProviderError && e.retryable;

/**
 * A market that moves in whole ticks and says what it shows at each (a replayed availability
 * trace): the deadline policy then decides once per tick, as `spotrun simulate` does on the trace.
 */
export interface TickedMarket {
  /** Wall-clock time at which tick 0 began. */
  epochMs: number;
  /** One tick, wall-clock. */
  tickMs: number;
  /** One tick in the market's own time (the trace's `gap_seconds`): what the policy reasons in. */
  marketTickMs: number;
  /** The trace tick that wall-clock tick 0 replays (a replay may start into the trace). */
  firstTraceTick: number;
  spotAvailableAt(tick: number): boolean;
}

/** Where an agent on this provider learns of an interruption. */
export type NoticeSource = "aws-imds" | "gce-metadata" | "none";

/** Files a boot script writes when it is done or has failed, and where it logs. */
export interface BootMarkers {
  ready: string;
  failed: string;
  log: string;
  waitSeconds: number;
}

/** Where a catalog-priced provider has no price for what a task asks (see `Provider.unpriced`). */
export interface UnpricedOffers {
  missing: { type: string; region: string }[];
  /** What to do about it, for the one-line error or warning. */
  fix: string;
}

/** How `spotrun offers QUERY` asks a provider that has a query language. */
export interface OfferQuery {
  /** The provider's order syntax (Vast: `dph`, `-dph`, `num_gpus,-reliability`). */
  order?: string;
  limit?: number;
  type?: "on-demand" | "bid";
}

export interface Provider {
  readonly kind: ProviderKind;
  readonly noticeSource: NoticeSource;
  /**
   * How often a steady `list` of this provider's instances is worth doing (one call for every job):
   * a cloud's answer changes slowly and its calls are budgeted; local instances are processes.
   */
  readonly pollIntervalMs?: number;
  /** Totals of the API calls this provider has sent, by action and outcome (see api-calls.ts). */
  apiCalls?(): ApiCallCounts;
  /** `quick`: for an estimate, not a decision: the provider may retry less (a throttled lookup fails fast). */
  offers(resources: Resources, opts?: { quick?: boolean }): Promise<Offer[]>;
  launch(req: LaunchRequest): Promise<LaunchResult>;
  describe(ids: InstanceId[]): Promise<InstanceInfo[]>;
  /** Every instance carrying all the given tags, in any state but long gone. */
  list(tags: Record<string, string>): Promise<InstanceInfo[]>;
  /**
   * Those of `list` that are not running (starting, stopping, stopped, terminated): at steady state
   * a short answer (one page) however many instances run, so the steady listing's cost does not
   * grow with the jobs. A provider without it is listed in full every time.
   */
  listUnsettled?(tags: Record<string, string>): Promise<InstanceInfo[]>;
  terminate(ids: InstanceId[]): Promise<void>;
  /** How the controller reaches the instance (local exec or SSH). */
  transport(instance: InstanceInfo): Promise<Transport>;
  /** Environment the agent needs to find its notice source (e.g. AWS_EC2_METADATA_SERVICE_ENDPOINT on local). */
  agentEnv(instance: InstanceInfo): Record<string, string>;
  /** Reject what can never launch (an unknown instance type) before a job is recorded; throws a usage error. */
  validateResources?(resources: Resources): void;
  /**
   * For a provider whose prices come from a catalog: the types and regions this task may run in that
   * the catalog has no price for (they would be billed, and budgeted, as $0), and how to add one.
   * Undefined when every one is priced. No cloud call: asked at submit.
   */
  unpriced?(resources: Resources): Promise<UnpricedOffers | undefined>;
  /** Where a person's own `ssh` reaches the instance (`session attach`); undefined when it is not over SSH. */
  sshTarget?(instance: InstanceInfo): Promise<SshTarget | undefined>;
  /** The market's clock, when it moves in whole ticks (see TickedMarket); undefined for a real cloud. */
  tickedMarket?(resources: Resources): TickedMarket | undefined;
  /**
   * The boot script (user data, startup-script, onstart) the agent must wait for, when the
   * provider gives instances one: it mounts disks and writes the spot configuration before SSH.
   */
  bootMarkers?(instance: InstanceInfo): BootMarkers | undefined;
  /** Offers by the provider's own query language (`spotrun offers QUERY`), in the order it returned them. */
  searchOffers?(query: string, opts?: OfferQuery): Promise<Offer[]>;
  /** Chaos (`spotrun chaos interrupt`): a spot notice now, the reclaim after `noticeMs`; a market the provider plays itself. */
  interrupt?(id: InstanceId, noticeMs?: number): Promise<{ action: string; time: number }>;
  close?(): Promise<void>;
}

export const TAG = {
  job: "spotrun:job",
  attempt: "spotrun:attempt",
  node: "spotrun:node",
  spot: "spotrun:spot",
  maxPrice: "spotrun:spot-max-price",
  onInterruption: "spotrun:on-interruption",
  checkpointScript: "spotrun:checkpoint-script",
  managed: "spotrun:managed",
} as const;

/** The job an instance is tagged with, if any: the tag a managed launch wrote is its job's id. */
export const taggedJob = (tags: Readonly<Record<string, string>>): JobId | undefined => {
  const id = tags[TAG.job];
  return id === undefined ? undefined : JobId(id);
};
