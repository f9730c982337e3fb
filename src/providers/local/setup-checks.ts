import { access, constants } from "node:fs/promises";
import type { SetupCheck } from "../setup-check.js";
import { runTool } from "./ssh-hosts/run-tool.js";
import { SSHD } from "./ssh-hosts/sshd-process.js";

/**
 * `spotrun setup` for the local provider: its SSH mode needs a real sshd, and separate network
 * hosts need iproute2 and the right to make namespaces; without that right it uses loopback hosts.
 */
export function setupChecks(_opts: { home: string }): SetupCheck[] {
  return [
    {
      id: "local.sshd",
      title: "OpenSSH server binary (local SSH hosts)",
      async run() {
        try {
          await access(SSHD, constants.X_OK);
          return { ok: true, detail: SSHD };
        } catch {
          return { ok: false, problem: `${SSHD} is missing`, fix: "sudo apt-get install -y openssh-server" };
        }
      },
    },
    {
      id: "local.netns",
      title: "network namespaces (each local SSH host its own network host)",
      async run() {
        const listed = await runTool("ip", ["netns", "list"], { allowFail: true }).catch(() => undefined);
        if (!listed)
          return { ok: false, problem: "the `ip` tool (iproute2) is not installed", fix: "sudo apt-get install -y iproute2" };
        if (listed.code !== 0)
          return {
            ok: false,
            problem: "`ip netns list` failed",
            fix: "install a kernel with network namespace support, or use loopback SSH hosts",
          };
        if (process.getuid?.() !== 0)
          return { ok: true, detail: "not root: SSH hosts run as loopback sshds instead of in namespaces" };
        return { ok: true, detail: "available (running as root)" };
      },
    },
  ];
}
