import type { VastInstance } from "./wire.js";

export interface SshEndpoint {
  host: string;
  port: number;
}

/**
 * `vastai ssh-url`: a direct port mapping (`ports["22/tcp"]`) wins, reached at the machine's
 * public address; otherwise the proxy `ssh_host:ssh_port`, one port higher when the image runs
 * Jupyter (the proxy's first port is Jupyter's then).
 */
export function sshEndpoint(inst: VastInstance): SshEndpoint | undefined {
  const direct = inst.ports?.["22/tcp"]?.[0]?.HostPort;
  if (direct && inst.public_ipaddr) return { host: inst.public_ipaddr.trim(), port: Number(direct) };
  if (inst.ssh_host && inst.ssh_port) {
    const jupyter = (inst.image_runtype ?? "").includes("jupyter");
    return { host: inst.ssh_host, port: inst.ssh_port + (jupyter ? 1 : 0) };
  }
  return undefined;
}

export const sshUrl = (e: SshEndpoint, user = "root") => `ssh://${user}@${e.host}:${e.port}`;
