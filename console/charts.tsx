// Plain SVG charts: lines over time (one per series) and grouped bars per hour.

const COLOURS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2'];
const WIDTH = 560;
const HEIGHT = 180;
const PAD = { left: 44, right: 12, top: 12, bottom: 28 };

export interface Series {
  name: string;
  points: Array<{ at: number; value: number }>;
}

const clock = (ms: number) => new Date(ms).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', hour12: false });

function Axes(props: { fromMs: number; toMs: number; max: number; unit: string }) {
  const { fromMs, toMs, max } = props;
  return (
    <g class="axes">
      <line x1={PAD.left} y1={HEIGHT - PAD.bottom} x2={WIDTH - PAD.right} y2={HEIGHT - PAD.bottom} />
      <line x1={PAD.left} y1={PAD.top} x2={PAD.left} y2={HEIGHT - PAD.bottom} />
      <text x={PAD.left - 4} y={PAD.top + 4} text-anchor="end">
        {max.toLocaleString('en-US', { maximumFractionDigits: 1 })}
      </text>
      <text x={PAD.left - 4} y={HEIGHT - PAD.bottom} text-anchor="end">
        0
      </text>
      <text x={PAD.left} y={HEIGHT - 8}>
        {clock(fromMs)}
      </text>
      <text x={WIDTH - PAD.right} y={HEIGHT - 8} text-anchor="end">
        {clock(toMs)}
      </text>
      <text x={PAD.left + 4} y={PAD.top + 4} class="unit">
        {props.unit}
      </text>
    </g>
  );
}

export function LineChart(props: { title: string; unit: string; series: Series[]; testId?: string }) {
  const all = props.series.flatMap((series) => series.points);
  if (all.length === 0)
    return (
      <figure class="chart" data-testid={props.testId}>
        <figcaption>{props.title}</figcaption>
        <p class="empty">nothing yet</p>
      </figure>
    );
  const fromMs = Math.min(...all.map((point) => point.at));
  const toMs = Math.max(fromMs + 60_000, ...all.map((point) => point.at));
  const max = Math.max(1, ...all.map((point) => point.value));
  const x = (at: number) => PAD.left + ((at - fromMs) / (toMs - fromMs)) * (WIDTH - PAD.left - PAD.right);
  const y = (value: number) => HEIGHT - PAD.bottom - (value / max) * (HEIGHT - PAD.top - PAD.bottom);
  return (
    <figure class="chart" data-testid={props.testId}>
      <figcaption>{props.title}</figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={props.title}>
        <Axes fromMs={fromMs} toMs={toMs} max={max} unit={props.unit} />
        {props.series.map((series, index) => (
          <g key={series.name}>
            <polyline
              fill="none"
              stroke={COLOURS[index % COLOURS.length]}
              stroke-width="2"
              points={series.points.map((point) => `${x(point.at)},${y(point.value)}`).join(' ')}
            />
            {series.points.map((point) => (
              <circle key={point.at} cx={x(point.at)} cy={y(point.value)} r="2.5" fill={COLOURS[index % COLOURS.length]} />
            ))}
          </g>
        ))}
      </svg>
      <Legend names={props.series.map((series) => series.name)} />
    </figure>
  );
}

export function BarChart(props: { title: string; unit: string; series: Series[]; testId?: string }) {
  const buckets = [...new Set(props.series.flatMap((series) => series.points.map((point) => point.at)))].sort((a, b) => a - b);
  if (buckets.length === 0)
    return (
      <figure class="chart" data-testid={props.testId}>
        <figcaption>{props.title}</figcaption>
        <p class="empty">nothing yet</p>
      </figure>
    );
  const max = Math.max(1, ...props.series.flatMap((series) => series.points.map((point) => point.value)));
  const slot = (WIDTH - PAD.left - PAD.right) / buckets.length;
  const bar = Math.max(2, (slot * 0.8) / props.series.length);
  const height = (value: number) => (value / max) * (HEIGHT - PAD.top - PAD.bottom);
  return (
    <figure class="chart" data-testid={props.testId}>
      <figcaption>{props.title}</figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={props.title}>
        <Axes fromMs={buckets[0]!} toMs={buckets.at(-1)!} max={max} unit={props.unit} />
        {buckets.map((at, slotIndex) =>
          props.series.map((series, index) => {
            const value = series.points.find((point) => point.at === at)?.value ?? 0;
            return (
              <rect
                key={`${at}-${series.name}`}
                x={PAD.left + slotIndex * slot + slot * 0.1 + index * bar}
                y={HEIGHT - PAD.bottom - height(value)}
                width={bar}
                height={height(value)}
                fill={COLOURS[index % COLOURS.length]}
              >
                <title>{`${series.name} ${clock(at)}: ${value}`}</title>
              </rect>
            );
          }),
        )}
      </svg>
      <Legend names={props.series.map((series) => series.name)} />
    </figure>
  );
}

function Legend(props: { names: string[] }) {
  return (
    <div class="legend">
      {props.names.map((name, index) => (
        <span key={name}>
          <i style={{ background: COLOURS[index % COLOURS.length] }} />
          {name}
        </span>
      ))}
    </div>
  );
}
