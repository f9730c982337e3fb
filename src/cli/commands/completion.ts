import { Argument } from "commander";
import { type CommandSpec, lazyRun } from "../command.js";
import { SHELLS } from "../completion-shells.js";

export const completionCommand: CommandSpec = {
  name: "completion",
  summary: "Print a shell completion script for bash, zsh or fish (commands, subcommands, options and their values)",
  examples: [
    "source <(spotrun completion bash)                 # in ~/.bashrc",
    "source <(spotrun completion zsh)                  # in ~/.zshrc",
    "spotrun completion fish > ~/.config/fish/completions/spotrun.fish",
  ],
  options: (cmd) => cmd.addArgument(new Argument("<shell>", "which shell").choices([...SHELLS])),
  run: lazyRun(
    () => import("./completion-actions.js"),
    (m) => m.completion,
  ),
};
