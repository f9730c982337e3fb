/**
 * What each field of a task or session file means, for the JSON Schema `spotrun schema` prints
 * (and the MCP server's tools). Keyed by dotted path (`[]` for a list's items); a test checks that
 * every key is a field of the schema, so a renamed field cannot keep a stale description.
 */
const DURATION = "A duration: 90s, 60m, 48h, 1h30m, or seconds as a number.";

export const RESOURCE_DOCS: Record<string, string> = {
  resources: "Where the work runs: provider, instance type(s), spot or on-demand, price cap, region/zone.",
  "resources.provider": "local (built in, for rehearsal), aws, gcp or vast.",
  "resources.instance_type": "One instance type, e.g. local.small, m7i.large, n2-standard-8, RTX_4090.",
  "resources.instance_types": "Several instance types in order of preference (a fleet); not with instance_type.",
  "resources.spot": "Use spot / preemptible capacity (default true); false for on-demand.",
  "resources.max_price": "Highest spot price to pay, USD per hour.",
  "resources.fallback_on_demand": "Launch on-demand (and say so in an event) when spot capacity is refused.",
  "resources.region": "Cloud region, e.g. us-east-1 or europe-west4.",
  "resources.zone": "Cloud zone, e.g. us-east-1a or us-central2-b (TPUs need one).",
  "resources.accelerators": "GPUs as NAME:COUNT, e.g. RTX_4090:1 (Vast.ai, GCP).",
  "resources.tpu": "A GCP TPU slice type, e.g. v5litepod-8 (queued resources).",
  "resources.image": "Machine image (AMI id, GCE image, Docker image on Vast).",
  "resources.disk": "Boot disk size in GB.",
  "resources.min_reliability": "Vast.ai: the lowest host reliability accepted, 0..1.",
  "resources.key_name": "AWS: the EC2 key pair to log in with (default: one spotrun makes).",
  "resources.on_interruption": "What an interruption does: checkpoint (default), hibernate, stop or terminate.",
  "resources.market": "Local provider only: the simulated spot market (scheduled or random interruptions, a replayed trace).",
  "resources.market.interrupt_after":
    "Spot instance k is interrupted this long after it starts; past the list, never. Each a duration.",
  "resources.market.mtbi": `Mean time between random interruptions (with seed, replayable). ${DURATION}`,
  "resources.market.seed": "Seed of the random interruptions.",
  "resources.market.notice": `Time from the interruption notice to the reclaim (SIGKILL of the instance). ${DURATION}`,
  "resources.market.refuse_spot": "Refuse this many spot launches (as if capacity were short), to exercise fallback.",
  "resources.market.boot_failures":
    "The instances of this many first attempts never boot (they go straight to terminated), to exercise recovery.",
  "resources.market.provisioning_delay": `How long an instance takes to start. ${DURATION}`,
  "resources.market.rebalance_before": `A rebalance recommendation this long before each scheduled notice. ${DURATION}`,
  "resources.market.trace": "A spot availability trace to replay (path relative to the task file).",
  "resources.market.time_scale": "Trace seconds per real second when replaying a trace.",
  "resources.market.trace_start": `Start the replay this far into the trace. ${DURATION}`,
  "resources.market.ssh": "Reach local instances over SSH: netns (own network namespace, root) or loopback.",
  "resources.aws": "AWS only: security groups, subnet, instance profile, SSH user and CIDR.",
  "resources.aws.security_group_ids": "Security groups, e.g. [sg-0abc123] (default: a spotrun-ssh group).",
  "resources.aws.subnet_id": "Subnet, e.g. subnet-0def456 (default: the default VPC's).",
  "resources.aws.instance_profile": "Instance profile name that lets the agent write checkpoints to S3.",
  "resources.aws.ssh_user": "Login user of a custom image (default ubuntu).",
  "resources.aws.ssh_cidr": "Who may reach port 22 of the spotrun-ssh group, e.g. 203.0.113.0/24.",
  "resources.volumes": "GCP: named persistent disks that follow the job to its replacement VM.",
  "resources.volumes.[].name": "Disk name: lower-case letters, digits and '-'.",
  "resources.volumes.[].size": "Disk size in GB.",
  "resources.volumes.[].mount": "Where the disk is mounted on the VM.",
  "resources.volumes.[].type": "Disk type, e.g. pd-balanced.",
  workdir: "A local directory uploaded to every node (honours .gitignore); the run starts in it. Relative to the task file.",
  setup: "Shell command run once per instance before run, e.g. pip install -r requirements.txt.",
  envs: "Environment of setup and run: NAME: value (names are letters, digits and _).",
};

export const TASK_DOCS: Record<string, string> = {
  ...RESOURCE_DOCS,
  name: "Job name (letters, digits, '.', '_', '-'; at most 63). Commands accept it in place of the job id.",
  num_nodes: "Nodes placed together; each gets SPOT_WORKER_ID, and multi-node jobs MASTER_ADDR/JAX_COORDINATOR_ADDRESS.",
  run: "Required. The shell command to run. It gets SIGTERM on an interruption notice and is restarted on new capacity, where it should resume from $SPOT_CHECKPOINT_DIR.",
  checkpoint: "Where checkpoints are written, where they go, and the hook run on a notice.",
  "checkpoint.dir":
    "Directory the run writes checkpoints to ($SPOT_CHECKPOINT_DIR), relative to the workdir; default checkpoints.",
  "checkpoint.store":
    "Where checkpoint generations are kept: file:///path, s3://bucket/prefix or gs://bucket/prefix; default a file store under the spotrun home.",
  "checkpoint.create_bucket":
    "Create the store's s3/gs bucket at submit if it does not exist (default false: a missing bucket is refused at submit).",
  "checkpoint.hook":
    "A command or script run on an interruption notice, within the notice (INTERRUPTION_TIME, INTERRUPTION_ACTION set).",
  "checkpoint.hook_timeout": `The most the hook may take (also bounded by the notice). ${DURATION}`,
  "checkpoint.stall_warning": `Warn when no new checkpoint appeared for this long. ${DURATION}`,
  "checkpoint.resume_arg": "On a restart, append `<resume_arg> <checkpoint dir>` to run (e.g. --resume).",
  "checkpoint.keep": "Generations kept in the store.",
  "checkpoint.resume_from":
    "Start from this checkpoint until the job has its own: a job id or name (its newest checkpoint), a checkpoint store URL (its newest generation), a URL ending in a generation (g-…), or a generation name of an earlier job of this home.",
  recovery: "What happens after an interruption or a failure: restarts, strategy, deadline.",
  "recovery.max_restarts": "Recoveries from preemption before the job fails.",
  "recovery.max_restarts_on_errors": "Retries when the run itself exits non-zero (default 0).",
  "recovery.max_launch_failures":
    "Launches refused (no capacity, price too high) or failed in a row before the job fails, on every attempt including the first; each retry waits longer (2 s doubling to 60 s). A quota or an unsupported type fails at once (default 10).",
  "recovery.strategy":
    "same (same offer), failover (next best offer, blocking the pool that preempted), on_demand_after (on-demand after N preemptions in a window), deadline (keep a deadline).",
  "recovery.on_demand_after": "strategy on_demand_after: preemptions within window before going on-demand.",
  "recovery.window": `strategy on_demand_after: the window preemptions are counted in. ${DURATION}`,
  "recovery.deadline": "strategy deadline: when the work must be done, an RFC 3339 time or a duration from submit.",
  "recovery.work": `strategy deadline: how much compute the job needs. ${DURATION}`,
  "recovery.deadline_policy": "strategy deadline: uniform-progress (default) or greedy.",
  "recovery.restart_overhead": `strategy deadline: restart time assumed until one is measured. ${DURATION}`,
  "recovery.prelaunch_on_rebalance": "On a rebalance recommendation, launch the replacement at once.",
  "recovery.partial":
    "Multi-node: when some nodes are reclaimed, keep the others and launch only the lost ones; the run restarts on all from the newest checkpoint.",
  "recovery.replace_on_notice":
    "On an interruption notice, launch the replacement and run setup on it while the old instance keeps working; the old trainer stops when the replacement is ready or the notice's deadline less the checkpoint budget comes (default: true for spot with strategy same or on_demand_after, unless resources.volumes must move to the replacement).",
  "recovery.decision_interval": `strategy deadline: how often the market is reconsidered. ${DURATION}`,
  "recovery.block_zone_for": `strategy failover: how long a pool that preempted the job is avoided. ${DURATION}`,
  "recovery.setup_timeout": `How long an attempt may take from launch to a running agent (instance up, SSH, Node, agent) before it ends as a setup failure. ${DURATION}`,
  budget: "Money limits.",
  "budget.max_cost": "Stop the job (with a final checkpoint) once it has cost this many USD; a warning at 80 %.",
  "budget.max_hourly": "Refuse capacity that costs more than this many USD per hour.",
  array: "A job array: one job per member, each with SPOT_ARRAY_INDEX and SPOT_ARRAY_SIZE.",
  "array.count": "Members of the array (at most 10,000).",
  "array.spot_count": "Members on spot; the rest run on-demand.",
  notify:
    "Where to tell of a job's events: each entry one of webhook (JSON POST), slack (incoming-webhook URL) or command, optionally only for the kinds in on.",
  "notify.[].webhook": "An http(s) URL that gets each notification as a JSON POST (HMAC-SHA256 signed with a secret).",
  "notify.[].slack": "A Slack incoming-webhook URL.",
  "notify.[].command": "A command run with the notification as JSON on stdin.",
  "notify.[].secret_env": "The environment variable holding the webhook's signing secret (never the secret itself).",
  "notify.[].secret_file": "A file holding the webhook's signing secret.",
  "notify.[].on": "Only these kinds of notification (default every kind).",
  "notify.[].timeout": `The most one delivery may take. ${DURATION}`,
  notify_every: `How often a running job sends a cost_report notification. ${DURATION}`,
};
