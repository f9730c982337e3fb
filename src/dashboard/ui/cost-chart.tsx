import { usd } from "./data.js";

/**
 * Spend against the on-demand baseline over time, as two lines in an SVG: the savings are the gap.
 * Drawn by hand rather than with a chart library: two polylines and an axis are all it needs.
 */
export function CostChart(props: { series: { at: string; cost_usd: number; on_demand_baseline_usd: number }[] }) {
  const s = props.series;
  if (s.length < 2) return <div class="empty">no spend yet</div>;
  const W = 720;
  const H = 220;
  const pad = { l: 70, r: 12, t: 10, b: 28 };
  const t0 = Date.parse(s[0]?.at ?? "");
  const t1 = Date.parse(s[s.length - 1]?.at ?? "");
  const ymax = Math.max(...s.map((p) => p.on_demand_baseline_usd), ...s.map((p) => p.cost_usd), 1e-9);
  const x = (at: string) => pad.l + ((Date.parse(at) - t0) / Math.max(1, t1 - t0)) * (W - pad.l - pad.r);
  const y = (v: number) => H - pad.b - (v / ymax) * (H - pad.t - pad.b);
  const line = (pick: (p: (typeof s)[number]) => number) =>
    s.map((p) => `${x(p.at).toFixed(1)},${y(pick(p)).toFixed(1)}`).join(" ");
  const ticks = [0, 0.5, 1].map((f) => f * ymax);
  return (
    <div class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} width="100%" role="img" aria-label="spend vs on-demand over time" data-testid="cost-chart">
        {ticks.map((v) => (
          <g key={v}>
            <line x1={pad.l} x2={W - pad.r} y1={y(v)} y2={y(v)} stroke="#e3e6ec" />
            <text x={pad.l - 6} y={y(v) + 4} text-anchor="end" font-size="11" fill="#6b7385">
              {usd(v)}
            </text>
          </g>
        ))}
        <text x={pad.l} y={H - 8} font-size="11" fill="#6b7385">
          {s[0]?.at.slice(11, 19)} UTC
        </text>
        <text x={W - pad.r} y={H - 8} font-size="11" fill="#6b7385" text-anchor="end">
          {s[s.length - 1]?.at.slice(11, 19)} UTC
        </text>
        <polyline
          points={line((p) => p.on_demand_baseline_usd)}
          fill="none"
          stroke="#b0b7c5"
          stroke-width="2"
          stroke-dasharray="5 4"
        />
        <polyline points={line((p) => p.cost_usd)} fill="none" stroke="#2f6fde" stroke-width="2.5" />
      </svg>
      <div class="legend">
        <span style="color:#2f6fde">━ spend</span>
        <span style="color:#8a93a5">┅ on-demand baseline</span>
      </div>
    </div>
  );
}
