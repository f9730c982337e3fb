/**
 * `spotrun vast …`: each step of the Vast flow on its own (provision, wait, ssh-url, logs,
 * stop/start/reboot, change bid, destroy, list), for people and scripts that drive the steps
 * themselves. Finding offers is `spotrun offers QUERY --provider vast`. These definitions live
 * beside the provider until the CLI registers them (src/cli/commands/vast.ts is their intended
 * home); what they do is in vast-actions.ts, imported when one runs.
 */
import { type CommandSpec, lazyRun } from "../../../cli/command.js";

export const vastInstancesCommand: CommandSpec = {
  name: "vast instances",
  summary: "List your Vast.ai instances (vastai show instances): status, outbid marker, price, SSH address",
  examples: ["spotrun vast instances", "spotrun vast instances --json"],
  run: lazyRun(
    () => import("./vast-actions.js"),
    (m) => m.vastInstances,
  ),
};

export const vastCreateCommand: CommandSpec = {
  name: "vast create <offer>",
  summary: "Rent an offer (vastai create instance): on-demand, or interruptible with --bid",
  examples: [
    "spotrun vast create 12345678 --image pytorch/pytorch --disk 50",
    "spotrun vast create 12345678 --bid 0.18 --label exp-1 --env WANDB_MODE=offline --json",
  ],
  options: (cmd) =>
    cmd
      .option("--image <image>", "Docker image", "pytorch/pytorch:latest")
      .option("--disk <gb>", "disk size in GB", "10")
      .option("--bid <usd>", "make it interruptible at this $/h bid")
      .option("--label <label>", "instance label")
      .option("--onstart-cmd <script>", "command run when the container starts")
      .option("--env <KEY=VALUE...>", "environment (repeatable)")
      .option("--no-direct", "SSH through Vast's proxy only"),
  run: lazyRun(
    () => import("./vast-actions.js"),
    (m) => m.vastCreate,
  ),
};

export const vastWaitCommand: CommandSpec = {
  name: "vast wait <instance>",
  summary: "Wait until an instance runs, with backoff and a time limit (exit 1 on timeout or full disk)",
  examples: ["spotrun vast wait 7835610", "spotrun vast wait 7835610 --timeout 20m --destroy-on-timeout"],
  options: (cmd) =>
    cmd
      .option("--timeout <duration>", "give up after this long", "10m")
      .option("--destroy-on-timeout", "destroy the instance if it never starts"),
  run: lazyRun(
    () => import("./vast-actions.js"),
    (m) => m.vastWait,
  ),
};

export const vastSshUrlCommand: CommandSpec = {
  name: "vast ssh-url <instance>",
  summary: "Print the SSH address of an instance (vastai ssh-url): direct port if mapped, else the proxy",
  examples: ["spotrun vast ssh-url 7835610", "ssh $(spotrun vast ssh-url 7835610)"],
  run: lazyRun(
    () => import("./vast-actions.js"),
    (m) => m.vastSshUrl,
  ),
};

export const vastLogsCommand: CommandSpec = {
  name: "vast logs <instance>",
  summary: "Print an instance's container logs (vastai logs)",
  examples: ["spotrun vast logs 7835610", "spotrun vast logs 7835610 --tail 100 --json"],
  options: (cmd) =>
    cmd.option("--tail <lines>", "only the last N lines", "1000").option("--daemon-logs", "the host daemon's logs instead"),
  run: lazyRun(
    () => import("./vast-actions.js"),
    (m) => m.vastLogs,
  ),
};

export const vastBidCommand: CommandSpec = {
  name: "vast bid <instance> [price]",
  summary: "Change an interruptible instance's bid (vastai change bid); without a price, a winning one",
  examples: ["spotrun vast bid 7835610 0.30", "spotrun vast bid 7835610"],
  run: lazyRun(
    () => import("./vast-actions.js"),
    (m) => m.vastBid,
  ),
};

export const vastDestroyCommand: CommandSpec = {
  name: "vast destroy <instances...>",
  summary: "Destroy instances for good (vastai destroy instance): data on them is lost",
  examples: ["spotrun vast destroy 7835610", "spotrun vast destroy 7835610 7835611 --json"],
  run: lazyRun(
    () => import("./vast-actions.js"),
    (m) => m.vastDestroy,
  ),
};

const stateCommand = (verb: "stop" | "start" | "reboot", summary: string): CommandSpec => ({
  name: `vast ${verb} <instance>`,
  summary,
  examples: [`spotrun vast ${verb} 7835610`],
  run: lazyRun(
    () => import("./vast-actions.js"),
    (m) => (ctx, args) => m.vastSetState(verb, ctx, args),
  ),
});
export const vastStopCommand = stateCommand("stop", "Stop an instance, keeping its disk (billing for storage continues)");
export const vastStartCommand = stateCommand("start", "Start a stopped instance again");
export const vastRebootCommand = stateCommand("reboot", "Restart an instance's container without losing its disk");

export const vastCommands: CommandSpec[] = [
  vastInstancesCommand,
  vastCreateCommand,
  vastWaitCommand,
  vastSshUrlCommand,
  vastLogsCommand,
  vastStopCommand,
  vastStartCommand,
  vastRebootCommand,
  vastBidCommand,
  vastDestroyCommand,
];
