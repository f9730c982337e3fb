import type { Command, Option } from "commander";
import type { Shell } from "./completion-shells.js";

/**
 * Shell completion generated from the command definitions (commander's tree), so it cannot drift
 * from the CLI: every visible command and group, its subcommands, its options with their short
 * forms, the values of options and arguments that have fixed choices, and the global options
 * everywhere. Hidden commands (those spotrun runs on instances itself) are left out.
 */

export interface CompletionNode {
  /** The words after `spotrun`, e.g. `session start`; "" for spotrun itself. */
  path: string;
  summary: string;
  subcommands: string[];
  /** The command's own options and the global ones; `values` is absent for a flag that takes none, null for a free value. */
  options: { long?: string; short?: string; values?: string[] | null }[];
  /** Every flag spelling (`--all`, `-a`). */
  flags: string[];
  /** Flags that take a value, and the values when they are fixed (commander `.choices()`). */
  valued: Record<string, string[] | null>;
  /** The choices of the first positional argument, when it has fixed ones. */
  argChoices: string[] | null;
}

const spellings = (o: Option): string[] => [o.long, o.short].filter((f): f is string => Boolean(f));

/** The tree flattened, one node per command path, parents before children. */
export function completionModel(program: Command): CompletionNode[] {
  // --version is the program's alone; --json, --debug, --home and --help go anywhere.
  const globals = [...program.options.filter((o) => !o.hidden && o.long !== "--version"), ...helpOptions()];
  const version = program.options.filter((o) => o.long === "--version");
  const out: CompletionNode[] = [];
  const walk = (cmd: Command, path: string[]) => {
    const subs = cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
    const own = cmd === program ? version : cmd.options.filter((o) => !o.hidden);
    const options = [...own, ...globals];
    const valued: Record<string, string[] | null> = {};
    for (const o of options)
      if (o.required || o.optional) for (const f of spellings(o)) valued[f] = o.argChoices ? [...o.argChoices] : null;
    const first = cmd.registeredArguments[0];
    out.push({
      path: path.join(" "),
      summary: cmd.description(),
      subcommands: subs.map((c) => c.name()),
      options: options.map((o) => ({
        ...(o.long ? { long: o.long } : {}),
        ...(o.short ? { short: o.short } : {}),
        ...(o.required || o.optional ? { values: o.argChoices ? [...o.argChoices] : null } : {}),
      })),
      flags: [...new Set(options.flatMap(spellings))],
      valued,
      argChoices: first?.argChoices ? [...first.argChoices] : null,
    });
    for (const c of subs) walk(c, [...path, c.name()]);
  };
  walk(program, []);
  return out;
}

/** Commander adds --help to every command without listing it among the options. */
function helpOptions(): Option[] {
  return [{ long: "--help", short: "-h", hidden: false, required: false, optional: false } as unknown as Option];
}

export function completionScript(shell: Shell, program: Command): string {
  const model = completionModel(program);
  if (shell === "bash") return bashScript(model);
  if (shell === "zsh") return zshScript(model);
  return fishScript(model);
}

/** Single-quoted for a POSIX shell (and fish, which reads '…' the same way for these words). */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const words = (xs: readonly string[]) => q(xs.join(" "));

/**
 * One function for bash (and for zsh through bashcompinit): walk the words typed so far down the
 * tree, then offer the value of the option before the cursor, the flags (after a `-`), or the
 * subcommands and argument choices (and files where a command takes a path).
 */
function bashBody(model: CompletionNode[]): string {
  const cases = (pick: (n: CompletionNode) => string | null) =>
    model
      .map((n) => [n, pick(n)] as const)
      .filter(([, v]) => v !== null)
      .map(([n, v]) => `    ${q(n.path)}) ${v} ;;`)
      .join("\n");
  const valuedCases = model
    .map((n) => {
      const lines = Object.entries(n.valued).map(
        ([flag, choices]) =>
          `      ${q(flag)}) ${choices ? `COMPREPLY=($(compgen -W ${words(choices)} -- "$cur"))` : `COMPREPLY=($(compgen -f -- "$cur"))`}; return ;;`,
      );
      return lines.length ? `    ${q(n.path)})\n      case "$prev" in\n${lines.join("\n")}\n      esac ;;` : null;
    })
    .filter(Boolean)
    .join("\n");
  return `_spotrun() {
  local cur prev cmdpath="" i w
  # \${COMP_WORDS[@]:i:1} counts from 0 in bash and in zsh (whose arrays otherwise count from 1).
  cur="\${COMP_WORDS[@]:$COMP_CWORD:1}"
  prev=""; [ "$COMP_CWORD" -gt 0 ] && prev="\${COMP_WORDS[@]:$((COMP_CWORD - 1)):1}"
  COMPREPLY=()
  # The command path: the words before the cursor that name a subcommand of the path so far.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[@]:$i:1}"
    case " $(_spotrun_subcommands "$cmdpath") " in
      *" $w "*) cmdpath="\${cmdpath:+$cmdpath }$w" ;;
    esac
  done
  case "$cmdpath" in
${valuedCases}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(_spotrun_flags "$cmdpath")" -- "$cur"))
    return
  fi
  local subs choices
  subs="$(_spotrun_subcommands "$cmdpath")"
  choices="$(_spotrun_arg_choices "$cmdpath")"
  if [ -n "$subs$choices" ]; then
    COMPREPLY=($(compgen -W "$subs $choices" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
_spotrun_subcommands() {
  case "$1" in
${cases((n) => (n.subcommands.length ? `echo ${words(n.subcommands)}` : null))}
  esac
}
_spotrun_flags() {
  case "$1" in
${cases((n) => `echo ${words(n.flags)}`)}
  esac
}
_spotrun_arg_choices() {
  case "$1" in
${cases((n) => (n.argChoices ? `echo ${words(n.argChoices)}` : null))}
  esac
}`;
}

function bashScript(model: CompletionNode[]): string {
  return `# spotrun completion for bash, generated by \`spotrun completion bash\` from the command definitions.
# Load it with:  source <(spotrun completion bash)   (or save it under ~/.local/share/bash-completion/completions/spotrun)
${bashBody(model)}
complete -o default -F _spotrun spotrun
`;
}

function zshScript(model: CompletionNode[]): string {
  return `#compdef spotrun
# spotrun completion for zsh, generated by \`spotrun completion zsh\` from the command definitions.
# Load it with:  source <(spotrun completion zsh)   (or save it as _spotrun in a directory on $fpath)
# zsh runs the same completion function as bash, through its bash compatibility layer.
autoload -U +X bashcompinit && bashcompinit
${bashBody(model)}
complete -o default -F _spotrun spotrun
`;
}

/** fish's single quotes take \' and \\ as escapes (the POSIX '\'' does not apply). */
const fq = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
const fwords = (xs: readonly string[]) => fq(xs.join(" "));

function fishScript(model: CompletionNode[]): string {
  const lines: string[] = [
    "# spotrun completion for fish, generated by `spotrun completion fish` from the command definitions.",
    "# Load it with:  spotrun completion fish | source   (or save it as ~/.config/fish/completions/spotrun.fish)",
    "complete -c spotrun -f",
    // The command path typed so far, walked down the same tree as the bash function.
    "function __spotrun_path",
    "    set -l p ''",
    "    for w in (commandline -opc)[2..-1]",
    "        if contains -- $w (__spotrun_subcommands $p)",
    '            set p (string trim -- "$p $w")',
    "        end",
    "    end",
    "    echo $p",
    "end",
    "function __spotrun_subcommands",
    '    switch "$argv"',
    ...model
      .filter((n) => n.subcommands.length)
      .flatMap((n) => [`        case ${fq(n.path)}`, `            printf '%s\\n' ${n.subcommands.join(" ")}`]),
    "    end",
    "end",
    "function __spotrun_at",
    "    set -l p (__spotrun_path)",
    '    test "$p" = "$argv"',
    "end",
  ];
  const esc = (s: string) => fq(s.replace(/\s+/g, " ").slice(0, 120));
  for (const n of model) {
    const at = `-n "__spotrun_at '${n.path}'"`;
    const children = model.filter(
      (c) =>
        c.path !== n.path &&
        c.path.startsWith(n.path ? `${n.path} ` : "") &&
        c.path.split(" ").length === (n.path ? n.path.split(" ").length + 1 : 1),
    );
    for (const c of children)
      lines.push(`complete -c spotrun ${at} -a ${fq(c.path.split(" ").at(-1) as string)} -d ${esc(c.summary)}`);
    if (n.argChoices) lines.push(`complete -c spotrun ${at} -a ${fwords(n.argChoices)}`);
    for (const o of n.options) {
      const value = o.values === undefined ? "" : o.values ? ` -x -a ${fwords(o.values)}` : " -r -F";
      const names = `${o.long ? ` -l ${o.long.slice(2)}` : ""}${o.short ? ` -s ${o.short.slice(1)}` : ""}`;
      lines.push(`complete -c spotrun ${at}${names}${value}`);
    }
    if (!n.subcommands.length && !n.argChoices) lines.push(`complete -c spotrun ${at} -F`);
  }
  return `${lines.join("\n")}\n`;
}
