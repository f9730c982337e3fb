import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ChildCounts, FromChild } from "./ec2-server-child.js";

/** The parent's handle on the EC2 server process: its URL, its counts on demand, and its end. */
export class Ec2Child {
  private waiting: ((c: ChildCounts) => void)[] = [];

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {
    child.on("message", (m: FromChild) => {
      if (m.kind === "counts") this.waiting.shift()?.(m);
    });
  }

  static async start(accessKeyId: string, secretAccessKey: string, throttle: boolean): Promise<Ec2Child> {
    const script = join(dirname(fileURLToPath(import.meta.url)), "ec2-server-child.js");
    const child = fork(script, [accessKeyId, secretAccessKey, throttle ? "throttle" : "no-throttle"], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const ready = new Promise<string>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code) => reject(new Error(`the EC2 server process exited (${code}) before it was ready`)));
      child.on("message", (m: FromChild) => {
        if (m.kind === "ready") resolve(m.url);
      });
    });
    return new Ec2Child(child, await ready);
  }

  /** Requests per action since the server started, with its CPU and memory. */
  counts(): Promise<ChildCounts> {
    return new Promise((resolve, reject) => {
      if (!this.child.connected) return reject(new Error("the EC2 server process is gone"));
      this.waiting.push(resolve);
      this.child.send({ kind: "counts" });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, "exit");
    if (this.child.connected) this.child.disconnect();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
}
