import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { SetupCheck } from "../../providers/setup-check.js";
import { findOnPath, installHint } from "./find-on-path.js";

export const sshKeyPath = (home: string): string => join(home, "keys", "id_ed25519");

/**
 * What spotrun itself needs whatever the provider: its SSH key, and the tools that move code
 * (rsync, ssh) and keep named sessions alive (tmux).
 */
export function coreSetupChecks(opts: { home: string; env?: NodeJS.ProcessEnv }): SetupCheck[] {
  const path = (opts.env ?? process.env).PATH ?? "";
  return [
    sshKeyCheck(opts.home),
    tool("rsync", "rsync", "copies code to instances"),
    tool("ssh", "openssh-client", "reaches instances"),
    tool("tmux", "tmux", "keeps named sessions alive"),
  ];

  function tool(name: string, pkg: string, why: string): SetupCheck {
    return {
      id: `tool.${name}`,
      title: `${name} on PATH (${why})`,
      async run() {
        const at = await findOnPath(name, path);
        if (at) return { ok: true, detail: at };
        return { ok: false, problem: `${name} is not on PATH`, fix: installHint(pkg) };
      },
    };
  }
}

function sshKeyCheck(home: string): SetupCheck {
  const key = sshKeyPath(home);
  return {
    id: "ssh.key",
    title: "SSH key for instances",
    async run() {
      const { default: ssh2 } = await import("ssh2");
      const utils = ssh2.utils;
      const [priv, pub] = await Promise.all([
        readFile(key).catch(() => undefined),
        readFile(`${key}.pub`, "utf8").catch(() => undefined),
      ]);
      const autoFix = async () => {
        const pair = utils.generateKeyPairSync("ed25519", { comment: "spotrun" });
        await mkdir(dirname(key), { recursive: true, mode: 0o700 });
        await writeFile(key, pair.private, { mode: 0o600 });
        await chmod(key, 0o600);
        await writeFile(`${key}.pub`, `${pair.public}\n`);
      };
      if (!priv)
        return {
          ok: false,
          problem: `no SSH key at ${key}`,
          fix: "`spotrun setup --fix` generates one (ed25519, no passphrase)",
          autoFix,
        };
      const parsed = utils.parseKey(priv);
      if (parsed instanceof Error)
        return {
          ok: false,
          problem: `${key} is not a usable private key (${parsed.message})`,
          fix: `move it aside and run \`spotrun setup --fix\``,
        };
      if (!pub)
        return {
          ok: false,
          problem: `${key}.pub is missing`,
          fix: `\`spotrun setup --fix\` derives it from the private key`,
          autoFix: async () => writeFile(`${key}.pub`, `${parsed.type} ${parsed.getPublicSSH().toString("base64")} spotrun\n`),
        };
      return { ok: true, detail: `${key} (${parsed.type})` };
    },
  };
}
