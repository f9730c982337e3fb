export { createBareSshHost } from "./create-bare-ssh-host.js";
export { createLoopbackSshHost } from "./create-loopback-ssh-host.js";
export { createSshHost, subnetOf } from "./create-ssh-host.js";
export type { BareSshHost, CreateSshHostOptions, LoopbackSshHost, NetnsSshHost, SshHost } from "./ssh-host.js";
export { sweepSshHosts } from "./sweep-ssh-hosts.js";
