import { type Clock, systemClock } from "../../src/base/clock.js";

/**
 * Real time divided by `factor`, remembering what was asked for: integration tests against a
 * real sshd keep the production backoff (2, 4, 8, 16 s) and still finish in a second or two.
 */
export class ScaledClock implements Clock {
  readonly sleeps: number[] = [];
  constructor(private readonly factor: number) {}
  now(): number {
    return Date.now();
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    return systemClock.sleep(ms / this.factor, signal);
  }
}

/** Every sleep returns at once and is remembered: for unit tests of retry schedules. */
export class InstantClock implements Clock {
  readonly sleeps: number[] = [];
  private t = Date.UTC(2026, 0, 1);
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.t += ms;
  }
}
