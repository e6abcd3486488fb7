// Inline SVG charts (no chart library): bars or lines over day buckets, with axes, ticks and axis titles.

const WIDTH = 560;
const HEIGHT = 240;
const MARGIN = { top: 16, right: 16, bottom: 44, left: 60 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;
const TICKS = 4;

export interface Series {
  name: string;
  values: (number | null)[];
  /** A CSS class picking the colour: series-1 .. series-4. */
  tone: string;
}

interface AxisProps {
  labels: string[];
  yMax: number;
  yLabel: string;
  xLabel: string;
  formatY: (value: number) => string;
}

/** A round upper bound for the y axis: 1, 2, 2.5 or 5 times a power of ten. */
export function niceMax(max: number): number {
  if (!Number.isFinite(max) || max <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= max) return step * magnitude;
  }
  return 10 * magnitude;
}

function yPos(value: number, yMax: number): number {
  return MARGIN.top + PLOT_H - (Math.max(0, Math.min(value, yMax)) / yMax) * PLOT_H;
}

function Axes({ labels, yMax, yLabel, xLabel, formatY }: AxisProps) {
  const slot = PLOT_W / Math.max(labels.length, 1);
  const ticks = Array.from({ length: TICKS + 1 }, (_, i) => (yMax * i) / TICKS);
  return (
    <g className="axes">
      {ticks.map((tick) => (
        <g key={tick}>
          <line
            className="grid"
            x1={MARGIN.left}
            x2={MARGIN.left + PLOT_W}
            y1={yPos(tick, yMax)}
            y2={yPos(tick, yMax)}
          />
          <text className="tick" x={MARGIN.left - 6} y={yPos(tick, yMax)} textAnchor="end" dominantBaseline="middle">
            {formatY(tick)}
          </text>
        </g>
      ))}
      <line className="axis" x1={MARGIN.left} x2={MARGIN.left} y1={MARGIN.top} y2={MARGIN.top + PLOT_H} />
      <line
        className="axis"
        x1={MARGIN.left}
        x2={MARGIN.left + PLOT_W}
        y1={MARGIN.top + PLOT_H}
        y2={MARGIN.top + PLOT_H}
      />
      {labels.map((label, i) => (
        <text
          key={label}
          className="tick"
          x={MARGIN.left + slot * (i + 0.5)}
          y={MARGIN.top + PLOT_H + 16}
          textAnchor="middle"
        >
          {label}
        </text>
      ))}
      <text className="axis-title" x={MARGIN.left + PLOT_W / 2} y={HEIGHT - 6} textAnchor="middle">
        {xLabel}
      </text>
      <text
        className="axis-title"
        x={0}
        y={0}
        transform={`translate(14 ${MARGIN.top + PLOT_H / 2}) rotate(-90)`}
        textAnchor="middle"
      >
        {yLabel}
      </text>
    </g>
  );
}

interface ChartProps {
  title: string;
  labels: string[];
  yLabel: string;
  xLabel?: string;
  formatY: (value: number) => string;
  /** Fixed top of the y axis (e.g. 1 for rates); otherwise a round bound above the data. */
  yMax?: number;
}

function NoData({ show }: { show: boolean }) {
  if (!show) return null;
  return (
    <text className="no-data" x={MARGIN.left + PLOT_W / 2} y={MARGIN.top + PLOT_H / 2} textAnchor="middle">
      No data in this range
    </text>
  );
}

export function BarChart({
  title,
  labels,
  values,
  yLabel,
  xLabel = 'Day (UTC)',
  formatY,
  yMax,
}: ChartProps & {
  values: (number | null)[];
}) {
  const present = values.filter((v): v is number => v !== null && Number.isFinite(v));
  const top = yMax ?? niceMax(Math.max(0, ...present));
  const slot = PLOT_W / Math.max(labels.length, 1);
  const barW = Math.max(4, slot * 0.6);
  return (
    <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} className="chart" role="img" aria-label={title}>
      <title>{title}</title>
      <Axes labels={labels} yMax={top} yLabel={yLabel} xLabel={xLabel} formatY={formatY} />
      {values.map((value, i) => {
        if (value === null || !Number.isFinite(value)) return null;
        const y = yPos(value, top);
        return (
          <rect
            key={labels[i] ?? i}
            className="bar"
            x={MARGIN.left + slot * i + (slot - barW) / 2}
            y={y}
            width={barW}
            height={MARGIN.top + PLOT_H - y}
          >
            <title>{`${labels[i] ?? ''}: ${formatY(value)}`}</title>
          </rect>
        );
      })}
      <NoData show={present.length === 0} />
    </svg>
  );
}

export function LineChart({
  title,
  labels,
  series,
  yLabel,
  xLabel = 'Day (UTC)',
  formatY,
  yMax,
}: ChartProps & {
  series: Series[];
}) {
  const present = series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const top = yMax ?? niceMax(Math.max(0, ...present));
  const slot = PLOT_W / Math.max(labels.length, 1);
  const x = (i: number) => MARGIN.left + slot * (i + 0.5);
  return (
    <figure className="line-chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} className="chart" role="img" aria-label={title}>
        <title>{title}</title>
        <Axes labels={labels} yMax={top} yLabel={yLabel} xLabel={xLabel} formatY={formatY} />
        {series.map((s) => {
          // A gap (no data that day) breaks the line into segments.
          const segments: string[] = [];
          let current: string[] = [];
          s.values.forEach((value, i) => {
            if (value === null || !Number.isFinite(value)) {
              if (current.length) segments.push(current.join(' '));
              current = [];
            } else {
              current.push(`${x(i).toFixed(1)},${yPos(value, top).toFixed(1)}`);
            }
          });
          if (current.length) segments.push(current.join(' '));
          return (
            <g key={s.name} className={`series ${s.tone}`}>
              {segments.map((points) => (
                <polyline key={points} className="line" points={points} />
              ))}
              {s.values.map((value, i) =>
                value === null || !Number.isFinite(value) ? null : (
                  <circle key={labels[i] ?? i} className="point" cx={x(i)} cy={yPos(value, top)} r={3}>
                    <title>{`${s.name}, ${labels[i] ?? ''}: ${formatY(value)}`}</title>
                  </circle>
                ),
              )}
            </g>
          );
        })}
        <NoData show={present.length === 0} />
      </svg>
      {series.length > 1 && (
        <figcaption className="legend">
          {series.map((s) => (
            <span key={s.name} className={`legend-item ${s.tone}`}>
              <span className="swatch" aria-hidden="true" /> {s.name}
            </span>
          ))}
        </figcaption>
      )}
    </figure>
  );
}
