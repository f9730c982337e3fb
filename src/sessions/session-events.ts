import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * Steps of a save or a restore, appended to the agent's own event file (`$HOME/.spotrun/events.jsonl`),
 * which the controller already reads and maps to job events. Synchronous, so a step is on disk
 * before the next begins — the reclaim may come at any moment.
 */
export class SessionEvents {
  constructor(private readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
  }

  static forHome(home: string): SessionEvents {
    return new SessionEvents(join(home, ".spotrun", "events.jsonl"));
  }

  step(step: string, ms: number, detail?: string): void {
    this.append({ kind: "session_step", step, ms: Math.round(ms), ...(detail ? { detail } : {}) });
  }

  warning(message: string): void {
    this.append({ kind: "warning", message });
  }

  /** Times `fn` and records it as one step; `detail` may describe the result. */
  async timed<T>(step: string, fn: () => Promise<T>, detail?: (r: T) => string | undefined): Promise<T> {
    const t0 = Date.now();
    const r = await fn();
    this.step(step, Date.now() - t0, detail?.(r));
    return r;
  }

  /**
   * The newest interruption notice the agent recorded on this instance: when it was seen and the
   * reclaim deadline. The agent writes it before it signals the supervisor.
   */
  lastNotice(): { seenAt: number; deadline: number } | undefined {
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch {
      return undefined;
    }
    let found: { seenAt: number; deadline: number } | undefined;
    for (const line of text.split("\n")) {
      if (!line.includes('"notice"')) continue;
      try {
        const e = JSON.parse(line) as { kind?: string; time?: number; seen_at?: number };
        if (e.kind === "notice" && typeof e.time === "number" && typeof e.seen_at === "number")
          found = { seenAt: e.seen_at, deadline: e.time };
      } catch {}
    }
    return found;
  }

  private append(e: Record<string, unknown>): void {
    appendFileSync(this.file, `${JSON.stringify({ at: Date.now(), ...e })}\n`);
  }
}
