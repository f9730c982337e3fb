import { useEffect, useRef, useState } from "preact/hooks";
import { CostChart } from "./cost-chart.js";
import { duration, pct, usd, useApi, when } from "./data.js";
import type { Attempt, CostDoc, Instance, Job, JobDetail, Session } from "./types.js";

const STATES = [
  "",
  "PENDING",
  "PROVISIONING",
  "SETTING_UP",
  "RUNNING",
  "RECOVERING",
  "SUCCEEDED",
  "FAILED",
  "CANCELLED",
  "OVER_BUDGET",
];

const State = (p: { s: string }) => (
  <span class={`state ${p.s}`} data-testid="state">
    {p.s}
  </span>
);

const go = (hash: string) => {
  location.hash = hash;
};

export function JobsPage(props: { version: number; array: string }) {
  const [state, setState] = useState("");
  const [name, setName] = useState("");
  const [all, setAll] = useState(false);
  const q = new URLSearchParams({
    ...(state ? { state } : {}),
    ...(name ? { name } : {}),
    ...(all ? { all: "1" } : {}),
    ...(props.array ? { array: props.array } : {}),
  });
  const { data, error } = useApi<{
    jobs: Job[];
    arrays: { id: string; members: number; states: Record<string, number>; cost_usd: number }[];
  }>(`/api/jobs?${q}`, props.version);
  return (
    <section>
      <h2>Jobs</h2>
      <div class="filters">
        <select value={state} onChange={(e) => setState((e.target as HTMLSelectElement).value)} aria-label="state">
          {STATES.map((s) => (
            <option key={s} value={s}>
              {s || "any state"}
            </option>
          ))}
        </select>
        <input
          placeholder="name contains…"
          value={name}
          onInput={(e) => setName((e.target as HTMLInputElement).value)}
          aria-label="name"
        />
        <label>
          <input type="checkbox" checked={all} onChange={(e) => setAll((e.target as HTMLInputElement).checked)} /> older than 24 h
          too
        </label>
        {props.array && (
          <span>
            array {props.array} <a href="#/jobs">(all jobs)</a>
          </span>
        )}
        {error && <span class="muted">{error}</span>}
      </div>
      {data && data.jobs.length === 0 && <div class="empty">no jobs — start one with spotrun run task.yaml</div>}
      {data && data.jobs.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>job</th>
              <th>name</th>
              <th>state</th>
              <th>submitted (UTC)</th>
              <th>duration</th>
              <th>attempts</th>
              <th>preemptions</th>
              <th>capacity</th>
              <th>cost</th>
              <th>saved</th>
            </tr>
          </thead>
          <tbody>
            {data.jobs.map((j) => (
              <tr key={j.id} class="click" data-testid="job-row" data-job={j.id} onClick={() => go(`#/jobs/${j.id}`)}>
                <td>{j.id}</td>
                <td>{j.name}</td>
                <td>
                  <State s={j.state} />
                </td>
                <td>{when(j.submitted_at)}</td>
                <td class="num">{duration(j.duration_seconds)}</td>
                <td class="num">{j.attempts}</td>
                <td class="num">{j.preemptions}</td>
                <td>
                  {j.current_attempt
                    ? `#${j.current_attempt.number} ${j.current_attempt.spot ? "spot ⚡" : "on-demand"} ${j.current_attempt.instance_type}`
                    : "-"}
                </td>
                <td class="num">{usd(j.cost_usd)}</td>
                <td class="num">{usd(j.savings_usd)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data && data.arrays.length > 0 && (
        <p class="muted">
          {data.arrays.map((a) => (
            <span key={a.id}>
              array <a href={`#/jobs?array=${a.id}`}>{a.id}</a>: {a.members} members, {usd(a.cost_usd)}.{" "}
            </span>
          ))}
        </p>
      )}
    </section>
  );
}

function AttemptCard(p: { a: Attempt }) {
  const a = p.a;
  return (
    <div class={`attempt${a.preempted ? " preempted" : ""}`} data-testid="attempt" data-preempted={String(a.preempted)}>
      <div class="row">
        <b>attempt {a.number}</b>
        <span>
          {a.spot ? "spot ⚡" : "on-demand"} {a.instance_type}
        </span>
        <span class="muted">
          {a.instances.map((i) => `${i.id} (${i.zone ?? "-"}, ${usd(i.price_usd_per_hour)}/h)`).join(", ")}
        </span>
        <span>
          {when(a.started_at)} → {a.ended_at ? when(a.ended_at) : "now"} ({duration(a.duration_seconds)})
        </span>
        <span data-testid="attempt-end">{a.end ? `ended: ${a.end}` : "running"}</span>
        <span>{usd(a.cost_usd)}</span>
      </div>
      {a.notice && (
        <div class="row" data-testid="notice">
          <span>
            ⚠ notice ({a.notice.action}) seen {when(a.notice.seen_at)}, reclaim at {when(a.notice.interruption_time)}
          </span>
          {a.hook && (
            <span>{a.hook.outcome === "none" ? "trainer sent SIGTERM" : `hook ${a.hook.outcome} in ${a.hook.ms} ms`}</span>
          )}
        </div>
      )}
      {a.checkpoints.length > 0 && (
        <div class="row muted" data-testid="checkpoints">
          checkpoints:{" "}
          {a.checkpoints.map((c) => (
            <span key={c.generation}>
              {c.generation} {c.bytes} B ({c.reason}, {c.ms} ms)
            </span>
          ))}
        </div>
      )}
    </div>
  );
}

function LogTail(props: { id: string; version: number }) {
  const [text, setText] = useState("");
  const next = useRef<number | undefined>(undefined);
  useEffect(() => {
    const since = next.current;
    fetch(`/api/jobs/${props.id}/log${since === undefined ? "" : `?since=${since}`}`)
      .then((r) => r.json() as Promise<{ text: string; next_offset: number }>)
      .then((l) => {
        next.current = l.next_offset;
        if (l.text) setText((t) => (since === undefined ? l.text : t + l.text).split("\n").slice(-400).join("\n"));
      })
      .catch(() => {});
  }, [props.id, props.version]);
  return (
    <pre class="log" data-testid="log">
      {text || "(no output yet)"}
    </pre>
  );
}

export function JobPage(props: { id: string; version: number }) {
  const { data, error } = useApi<JobDetail>(`/api/jobs/${props.id}`, props.version);
  if (!data) return <div class="empty">{error ?? "loading…"}</div>;
  const { job, timeline } = data;
  return (
    <section>
      <h2>
        {job.name} <span class="muted">{job.id}</span> <State s={job.state} />
      </h2>
      {job.message && <p class="muted">{job.message}</p>}
      <div class="cards">
        <div class="card">
          <div class="k">cost so far</div>
          <div class="v" data-testid="job-cost">
            {usd(job.cost_usd)}
          </div>
        </div>
        <div class="card">
          <div class="k">on-demand would be</div>
          <div class="v">{usd(job.on_demand_baseline_usd)}</div>
        </div>
        <div class="card">
          <div class="k">saved</div>
          <div class="v" data-testid="job-savings">
            {usd(job.savings_usd)} ({pct(job.savings_pct)})
          </div>
        </div>
        <div class="card">
          <div class="k">preemptions</div>
          <div class="v" data-testid="job-preemptions">
            {timeline.preemptions}
          </div>
        </div>
        <div class="card">
          <div class="k">running for</div>
          <div class="v">{duration(job.duration_seconds)}</div>
        </div>
      </div>
      <h3>Attempts</h3>
      <div class="timeline" data-testid="timeline">
        {timeline.attempts.map((a) => (
          <div key={a.number}>
            <AttemptCard a={a} />
            {a.recovery_seconds !== null && (
              <p class="recovery" data-testid="recovery">
                ↻ recovered in {a.recovery_seconds.toFixed(1)} s
              </p>
            )}
          </div>
        ))}
      </div>
      <h3>Output</h3>
      <LogTail id={job.id} version={props.version} />
      <h3>Events</h3>
      <table>
        <tbody>
          {timeline.events
            .slice(-40)
            .reverse()
            .map((e) => (
              <tr key={e.seq}>
                <td class="muted">{when(e.at)}</td>
                <td>{e.kind}</td>
                <td>{e.text ?? ""}</td>
              </tr>
            ))}
        </tbody>
      </table>
    </section>
  );
}

export function InstancesPage(props: { version: number }) {
  const { data, error } = useApi<{ instances: Instance[] }>("/api/instances?all=1", props.version);
  if (!data) return <div class="empty">{error ?? "loading…"}</div>;
  return (
    <section>
      <h2>Instances</h2>
      {data.instances.length === 0 ? (
        <div class="empty">no instances</div>
      ) : (
        <table>
          <thead>
            <tr>
              <th>instance</th>
              <th>provider</th>
              <th>job</th>
              <th>market</th>
              <th>type</th>
              <th>zone</th>
              <th>price/h</th>
              <th>age</th>
              <th>cost</th>
              <th>state</th>
            </tr>
          </thead>
          <tbody>
            {data.instances.map((i) => (
              <tr key={i.id} data-testid="instance-row">
                <td>{i.id}</td>
                <td>{i.provider}</td>
                <td>{i.managed ? `${i.job_id} #${i.attempt + 1}` : `${i.job_id} (launch)`}</td>
                <td>{i.spot ? "spot ⚡" : "on-demand"}</td>
                <td>{i.instance_type}</td>
                <td>{i.zone ?? "-"}</td>
                <td class="num">{usd(i.price_usd_per_hour)}</td>
                <td class="num">{duration(i.age_seconds)}</td>
                <td class="num">{usd(i.cost_usd)}</td>
                <td>{i.ended_at ? `ended (${i.end_reason})` : "running"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function SessionsPage(props: { version: number }) {
  const { data, error } = useApi<{ sessions: Session[] }>("/api/sessions", props.version);
  if (!data) return <div class="empty">{error ?? "loading…"}</div>;
  return (
    <section>
      <h2>Sessions</h2>
      {data.sessions.length === 0 ? (
        <div class="empty">no sessions — start one with spotrun session start NAME --task session.yaml</div>
      ) : (
        <table>
          <thead>
            <tr>
              <th>session</th>
              <th>state</th>
              <th>instance</th>
              <th>uptime</th>
              <th>interruptions</th>
              <th>cost</th>
            </tr>
          </thead>
          <tbody>
            {data.sessions.map((s) => (
              <tr key={s.name}>
                <td>{s.name}</td>
                <td>{s.state}</td>
                <td>{s.instance_id ?? "-"}</td>
                <td class="num">{s.uptime_seconds ? duration(s.uptime_seconds) : "-"}</td>
                <td class="num">{s.interruptions}</td>
                <td class="num">{usd(s.cost_usd)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function CostPage(props: { version: number }) {
  const { data, error } = useApi<CostDoc>("/api/cost", props.version);
  if (!data) return <div class="empty">{error ?? "loading…"}</div>;
  const t = data.total;
  return (
    <section>
      <h2>Cost</h2>
      <div class="cards">
        <div class="card">
          <div class="k">spend</div>
          <div class="v" data-testid="total-cost">
            {usd(t.cost_usd)}
          </div>
        </div>
        <div class="card">
          <div class="k">on-demand baseline</div>
          <div class="v">{usd(t.on_demand_baseline_usd)}</div>
        </div>
        <div class="card">
          <div class="k">saved</div>
          <div class="v">
            {usd(t.savings_usd)} ({pct(t.savings_pct)})
          </div>
        </div>
      </div>
      <CostChart series={data.series} />
      <h3>Per job</h3>
      <table>
        <thead>
          <tr>
            <th>job</th>
            <th>name</th>
            <th>state</th>
            <th>cost</th>
            <th>on-demand</th>
            <th>saved</th>
          </tr>
        </thead>
        <tbody>
          {data.jobs.map((j) => (
            <tr key={j.id} class="click" onClick={() => go(`#/jobs/${j.id}`)}>
              <td>{j.id}</td>
              <td>{j.name}</td>
              <td>
                <State s={j.state} />
              </td>
              <td class="num">{usd(j.cost_usd)}</td>
              <td class="num">{usd(j.on_demand_baseline_usd)}</td>
              <td class="num">{usd(j.savings_usd)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
