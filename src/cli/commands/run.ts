import { Option } from "commander";
import { type CommandSpec, lazyRun } from "../command.js";

export const runCommand: CommandSpec = {
  name: "run [task] [args...]",
  summary: "Run a task file, a script or a command as a managed job: launch, run, survive interruptions, resume, finish",
  examples: [
    "spotrun run examples/quickstart/task.yaml",
    "spotrun run task.yaml --detach --json",
    "spotrun run task.yaml --instance-type local.medium --max-cost 0.50 --env EPOCHS=10",
    "spotrun run task.yaml --interrupt-every 8s --interruptions 3 --notice 4s   # local provider chaos",
    "spotrun run train.py --tpu v5litepod-1 --zone us-central1-a -- --epochs 3   # a script: workdir ., args after --",
    "spotrun run --provider vast --gpus RTX_4090:1 --max-price 0.4 -- python train.py --lr 3e-4",
    "spotrun run train.py --resume-from j-lx2k9f3a1b2c   # start from that job's newest checkpoint",
    "spotrun run train.py --gpus A100:1 --print-task > task.yaml   # save the task the flags build",
  ],
  options: (cmd) =>
    cmd
      .option("-d, --detach", "hand the job to a background controller and return its id")
      .option("--name <name>", "job name")
      .option("--provider <kind>", "local | aws | gcp | vast")
      .option("--instance-type <type>", "instance type")
      .option("--instance-types <a,b,c>", "several instance types, in order of preference")
      .option("--spot", "use spot capacity")
      .option("--no-spot", "use on-demand capacity")
      .option("--max-price <usd>", "highest spot price per hour")
      .option("--fallback-on-demand", "launch on-demand when spot capacity is refused")
      .option("--region <region>", "region")
      .option("--num-nodes <n>", "nodes placed together")
      .option("--max-cost <usd>", "stop the job (with a final checkpoint) when it has cost this much")
      .option("--max-hourly <usd>", "refuse capacity that costs more per hour")
      .option("--max-restarts <n>", "recoveries from preemption before giving up")
      .option("--count <n>", "run a job array of N members")
      .option("--spot-count <k>", "in an array, K members on spot and the rest on-demand")
      .option("--env <KEY=VALUE...>", "environment for the run (repeatable)")
      .addOption(
        new Option("--interrupt-every <duration>", "local provider: interrupt each spot instance this long after it starts"),
      )
      .addOption(
        new Option("--interruptions <n>", "local provider: how many instances --interrupt-every applies to").default("3"),
      )
      .addOption(new Option("--notice <duration>", "local provider: notice length before the reclaim"))
      .option("--tpu <type>", "a GCP TPU slice type such as v5litepod-8 (a quick run then uses provider gcp)")
      .option("--zone <zone>", "zone, e.g. us-central1-a")
      .option("--gpus <NAME:COUNT>", "accelerators, e.g. RTX_4090:1 (Vast.ai, GCP)")
      .option("--store <url>", "checkpoint store: file:///path, s3://bucket/prefix or gs://bucket/prefix")
      .option("--create-bucket", "create the store's s3/gs bucket if it does not exist (otherwise submit refuses)")
      .option(
        "--setup <command>",
        "setup command (a quick run defaults to pip install -r requirements.txt when that file is here)",
      )
      .option(
        "--resume-from <ref>",
        "start from a checkpoint: a job id or name, JOB/GENERATION, a store URL or a URL ending in a generation",
      )
      .option("--print-task", "print the task these arguments build (YAML; JSON with --json) and submit nothing"),
  run: lazyRun(
    () => import("./run-actions.js"),
    (m) => m.runJob,
  ),
};
