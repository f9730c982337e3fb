/**
 * What a notice watcher reports. One union, tagged with `kind`; each provider's watcher parses its
 * own wire format into it, and anything it does not understand is dropped, never a crash.
 */
export type Notice =
  /** The instance will be reclaimed at `deadline` (ms since epoch); `action` as the provider says it. */
  | { kind: "interruption"; action: string; deadline: number; source: string; seenAt: number }
  /** Capacity is at elevated risk (AWS rebalance recommendation): checkpoint early. */
  | { kind: "rebalance"; at: number; source: string; seenAt: number }
  /** Host maintenance that will stop the instance (GCE TERMINATE_ON_HOST_MAINTENANCE, AWS scheduled events). */
  | { kind: "maintenance"; code: string; deadline?: number; source: string; seenAt: number };

export interface NoticeWatcher {
  /** Begin watching; `onNotice` is called once per distinct notice, as soon as it is seen. */
  start(onNotice: (n: Notice) => void): void;
  /** Stop watching; resolves when no request is in flight. */
  stop(): Promise<void>;
}
