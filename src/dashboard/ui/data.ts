import { useEffect, useState } from "preact/hooks";

/** One money format and one percent format, as the CLI prints them. */
export const usd = (x: number): string => `${x < 0 ? "-" : ""}$${Math.abs(x).toFixed(4)}`;
export const pct = (x: number): string => `${x.toFixed(1)}%`;
export const when = (iso: string | null): string => (iso ? iso.replace("T", " ").replace(/(\.\d+)?Z$/, "") : "-");
export function duration(s: number): string {
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${Math.round(s % 60) ? `${Math.round(s % 60)}s` : ""}`;
  return `${Math.floor(m / 60)}h${m % 60 ? `${m % 60}m` : ""}`;
}

/**
 * The event log's head, from the server's stream: it moves whenever anything happens, and every
 * page refetches its data when it does (one stream for the whole page).
 */
export function useLogHead(): { seq: number; live: boolean } {
  const [head, setHead] = useState({ seq: 0, live: false });
  useEffect(() => {
    const es = new EventSource("/api/stream");
    es.onmessage = (m) => setHead({ seq: (JSON.parse(m.data) as { seq: number }).seq, live: true });
    es.onerror = () => setHead((h) => ({ ...h, live: false }));
    return () => es.close();
  }, []);
  return head;
}

/** GET an API path again whenever `version` moves; the last good answer stays while the next loads. */
export function useApi<T>(path: string, version: number): { data: T | undefined; error: string | undefined } {
  const [state, setState] = useState<{ data: T | undefined; error: string | undefined }>({ data: undefined, error: undefined });
  useEffect(() => {
    let live = true;
    fetch(path)
      .then(async (r) => {
        const body = (await r.json()) as T & { error?: string };
        if (!live) return;
        if (r.ok) setState({ data: body, error: undefined });
        else setState((s) => ({ data: s.data, error: body.error ?? `HTTP ${r.status}` }));
      })
      .catch((e: Error) => live && setState((s) => ({ data: s.data, error: e.message })));
    return () => {
      live = false;
    };
  }, [path, version]);
  return state;
}
