import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { SpotrunError } from "../base/errors.js";
import type { NotifyTarget } from "../spec/notify-schema.js";

/** A target as queued: the entry of `notify:`, and where its relative command path resolves. */
export type QueuedTarget = NotifyTarget & { cwd: string };

export interface Delivery {
  id: string;
  kind: string;
  /** The JSON document the receiver gets. */
  body: string;
  /** One line for a person (Slack's text). */
  text: string;
}

/** The HMAC-SHA256 of the body with the target's secret: `sha256=<hex>`, as GitHub signs its webhooks. */
export const signature = (secret: string, body: string): string =>
  `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

function secretOf(t: QueuedTarget): string | undefined {
  if (t.secret_env) {
    const v = process.env[t.secret_env];
    if (!v)
      throw new SpotrunError(
        "usage",
        `notify: the webhook's secret_env ${t.secret_env} is not set in the controller's environment`,
      );
    return v;
  }
  if (t.secret_file) {
    // A secret others can read is not a secret: refuse it rather than sign with it.
    if ((statSync(t.secret_file).mode & 0o077) !== 0)
      throw new SpotrunError("usage", `notify: secret_file ${t.secret_file} is readable by others`, {
        fix: `chmod 600 ${t.secret_file}`,
      });
    return readFileSync(t.secret_file, "utf8").trim();
  }
  return undefined;
}

async function post(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<void> {
  const res = await fetch(url, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", "user-agent": "spotrun-notify", ...headers },
    signal: AbortSignal.timeout(timeoutMs),
  });
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) throw new Error(`HTTP ${res.status} from ${new URL(url).host}`);
}

function runCommand(t: QueuedTarget & { command: string }, d: Delivery): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("/bin/sh", ["-c", t.command], {
      cwd: t.cwd,
      stdio: ["pipe", "ignore", "pipe"],
      env: { ...process.env, SPOTRUN_DELIVERY_ID: d.id, SPOTRUN_EVENT_KIND: d.kind, SPOTRUN_MESSAGE: d.text },
    });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => {
      stderr = (stderr + b.toString()).slice(-300);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), t.timeout);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`command exited ${signal ?? code}${stderr.trim() ? `: ${stderr.trim().split("\n").at(-1)}` : ""}`));
    });
    child.stdin.on("error", () => {});
    child.stdin.end(d.body);
  });
}

/** Deliver once; throws when the receiver did not take it (the notifier retries). */
export async function deliver(t: QueuedTarget, d: Delivery): Promise<void> {
  if (t.webhook) {
    const secret = secretOf(t);
    await post(
      t.webhook,
      d.body,
      {
        "x-spotrun-delivery": d.id,
        "x-spotrun-event": d.kind,
        ...(secret ? { "x-spotrun-signature-256": signature(secret, d.body) } : {}),
      },
      t.timeout,
    );
  } else if (t.slack) {
    await post(t.slack, JSON.stringify({ text: `spotrun: ${d.text}` }), {}, t.timeout);
  } else if (t.command) {
    await runCommand(t as QueuedTarget & { command: string }, d);
  }
}
