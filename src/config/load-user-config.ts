import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseDocument } from "yaml";
import { SpotrunError, usageError } from "../base/errors.js";
import { describeZodError } from "../spec/load-task.js";
import { type UserConfig, userConfigSchema } from "./user-config-schema.js";

export interface LoadedUserConfig {
  config: UserConfig;
  /** The file read, or where one would be read from. */
  file: string;
  /** Whether the file exists. */
  found: boolean;
  /** `SPOTRUN_CONFIG` or the home's `config.yaml`. */
  from: "SPOTRUN_CONFIG" | "home";
}

/** `$SPOTRUN_CONFIG`, else `config.yaml` in the home (`--home`, `$SPOTRUN_HOME`, `~/.spotrun`). */
export function userConfigPath(
  home: string,
  env: NodeJS.ProcessEnv = process.env,
): { file: string; from: LoadedUserConfig["from"] } {
  return env.SPOTRUN_CONFIG
    ? { file: resolve(env.SPOTRUN_CONFIG), from: "SPOTRUN_CONFIG" }
    : { file: join(home, "config.yaml"), from: "home" };
}

/** Read and validate the user config; none is an empty config. Errors name the file and the field. */
export function loadUserConfig(home: string, env: NodeJS.ProcessEnv = process.env): LoadedUserConfig {
  const { file, from } = userConfigPath(home, env);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && from === "home") return { config: {}, file, found: false, from };
    throw new SpotrunError(
      "not_found",
      `cannot read the user config ${file} (from ${from === "home" ? "the home" : "$SPOTRUN_CONFIG"})`,
      {
        fix: from === "home" ? "check its permissions" : "point SPOTRUN_CONFIG at a readable file, or unset it",
        ...(code ? { code } : {}),
      },
    );
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) {
    const e = doc.errors[0];
    const where = e?.linePos?.[0] ? `:${e.linePos[0].line}:${e.linePos[0].col}` : "";
    throw usageError(`${file}${where}: invalid YAML: ${e?.message.split("\n")[0]?.replace(/:\s*$/, "")}`, "fix the YAML syntax");
  }
  const raw = doc.toJS() ?? {};
  const parsed = userConfigSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success)
    throw usageError(describeZodError(parsed.error, file), "fix the user config (see `spotrun config show --help`)");
  return { config: parsed.data, file, found: true, from };
}
