/**
 * OpenSSH's sshd allows 10 sessions per connection by default (MaxSessions) and refuses the
 * 11th; commands beyond the limit wait here for a free slot instead. Two of the ten stay free
 * for the kill of a timed-out command, which must never queue behind the command it kills.
 */
export const MAX_CHANNELS = 8;

export class ChannelSlots {
  private used = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly max = MAX_CHANNELS) {}

  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.used >= this.max) {
      await new Promise<void>((resolve, reject) => {
        const go = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = () => {
          const i = this.waiting.indexOf(go);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(signal?.reason);
        };
        if (signal?.aborted) return reject(signal.reason);
        signal?.addEventListener("abort", onAbort, { once: true });
        this.waiting.push(go);
      });
    } else this.used++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter, so `used` stays as it is.
      if (next) next();
      else this.used--;
    };
  }

  get inUse(): number {
    return this.used;
  }
}
