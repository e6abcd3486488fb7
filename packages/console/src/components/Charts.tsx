// Charts: bars or lines over day buckets, drawn with visx 4.0.0 (@visx/axis, grid, group, scale, shape, tooltip).
//
// Why visx, of those weighed for React 19 and a small bundle (each measured in the same Vite build as this one):
// - visx renders SVG as React components, so axis labels are text a screen reader (and the browser test) reads;
//   its ticks come from d3-scale (round 1-2-5 steps) and its x axis from a UTC time scale. v4.0.0 is the release
//   that supports React 19 (peer react ^18 || ^19); pinned exactly, built by Vite on Node 20, and tree-shaken to
//   about +27 kB gzipped.
// - uPlot is smaller (+24 kB) and fast, but draws on a canvas: its labels are pixels, and it needs a hand-written
//   imperative React wrapper.
// - Chart.js with react-chartjs-2: canvas too, and about +59 kB gzipped even with only the parts registered.
// - Recharts 3 (React 19 ready) brings Redux Toolkit, immer and more: about +132 kB gzipped, more than React.
// The tick rules themselves (integers for counts, one unit per duration axis, day names) are in ../axes.ts.
import { AxisBottom, AxisLeft } from '@visx/axis';
import { GridRows } from '@visx/grid';
import { Group } from '@visx/group';
import { scaleLinear, scaleUtc } from '@visx/scale';
import { Bar, Circle, LinePath } from '@visx/shape';
import { TooltipWithBounds, useTooltip } from '@visx/tooltip';
import { useRef, type KeyboardEvent, type PointerEvent } from 'react';
import { DAY_MS, dayLabel, dayMiddle, dayStart, dayTitle, valueAxis, type ValueKind } from '../axes';

/** What both axes of every chart share: tick length and the class names styles.css targets. */
const AXIS_STYLE = {
  tickLength: 4,
  tickClassName: 'tick',
  axisLineClassName: 'axis-line',
  labelClassName: 'axis-title',
};
import { formatDuration, formatPercent } from '../format';

const WIDTH = 560;
const HEIGHT = 240;
const MARGIN = { top: 16, right: 16, bottom: 44, left: 76 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;

export interface Series {
  name: string;
  /** One value per day bucket; null where that day has no data (a gap, not a zero). */
  values: (number | null)[];
  /** A CSS class picking the colour: series-1 .. series-4. */
  tone: string;
}

/** Whether the chart's data has arrived: until then it says so instead of "no data". */
export type ChartState = 'loading' | 'failed' | 'ready';

interface ChartProps {
  /** What the chart shows, for assistive technology. */
  title: string;
  /** The day buckets, YYYY-MM-DD (UTC), oldest first. */
  days: string[];
  kind: ValueKind;
  yLabel: string;
  xLabel?: string;
  state?: ChartState;
  /** Why there is nothing to draw, shown under "No data yet". */
  emptyText?: string;
  /** A line more about one day for its tooltip (e.g. the counts behind a rate). */
  detail?: (index: number) => string | null;
}

/** A data point's value as its tooltip says it: more precise than a tick label. */
const TOOLTIP_VALUE: Record<ValueKind, (value: number) => string> = {
  count: (v) => Math.round(v).toLocaleString('en-US'),
  duration: (v) => formatDuration(v),
  rate: (v) => formatPercent(v, Number.isInteger(Math.round(v * 1000) / 10) ? 0 : 1),
};

const isValue = (value: number | null | undefined): value is number =>
  value !== null && value !== undefined && Number.isFinite(value);

function DayChart({
  mark,
  series,
  title,
  days,
  kind,
  yLabel,
  xLabel = 'Day (UTC)',
  state = 'ready',
  emptyText,
  detail,
}: ChartProps & { mark: 'bar' | 'line'; series: Series[] }) {
  const frame = useRef<HTMLDivElement>(null);
  const svg = useRef<SVGSVGElement>(null);
  const { tooltipOpen, tooltipData, tooltipLeft, tooltipTop, showTooltip, hideTooltip } = useTooltip<number>();

  const first = dayStart(days[0] ?? '1970-01-01');
  const x = scaleUtc<number>({ domain: [new Date(first), new Date(first + days.length * DAY_MS)], range: [0, PLOT_W] });
  const middle = (i: number) => x(dayMiddle(first, i));
  const slot = PLOT_W / Math.max(days.length, 1);

  const present = series.flatMap((s) => s.values.filter(isValue));
  const empty = state !== 'ready' || present.length === 0;
  const axis = valueAxis(kind, present);
  const y = scaleLinear<number>({ domain: [0, axis.max], range: [PLOT_H, 0] });
  const yOf = (value: number) => y(Math.max(0, Math.min(value, axis.max)));

  const show = (index: number, left: number, top: number) =>
    showTooltip({ tooltipData: index, tooltipLeft: left, tooltipTop: top });
  const onPointer = (index: number) => (event: PointerEvent<SVGRectElement>) => {
    const box = frame.current?.getBoundingClientRect();
    if (box) show(index, event.clientX - box.left, event.clientY - box.top);
  };
  // The keyboard walks the days with the arrow keys; the tooltip sits over the day's column.
  const showAt = (index: number) => {
    const width = svg.current?.getBoundingClientRect().width ?? WIDTH;
    const scale = width / WIDTH;
    show(index, (MARGIN.left + middle(index)) * scale, MARGIN.top * scale);
  };
  const onKey = (event: KeyboardEvent<SVGSVGElement>) => {
    if (empty) return;
    const current = tooltipOpen && tooltipData !== undefined ? tooltipData : days.length;
    if (event.key === 'ArrowLeft') showAt(Math.max(0, current - 1));
    else if (event.key === 'ArrowRight') showAt(Math.min(days.length - 1, current === days.length ? 0 : current + 1));
    else if (event.key === 'Escape') hideTooltip();
    else return;
    event.preventDefault();
  };

  const active = tooltipOpen && !empty ? tooltipData : undefined;
  const activeDay = active === undefined ? undefined : dayMiddle(first, active);
  const emptySeries = new Set(series.filter((s) => !s.values.some(isValue)).map((s) => s.name));

  return (
    <figure className="day-chart" data-kind={kind} data-state={empty ? (state === 'ready' ? 'empty' : state) : 'ready'}>
      <div className="chart-frame" ref={frame}>
        <svg
          ref={svg}
          viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
          className="chart"
          role="img"
          aria-label={title}
          tabIndex={empty ? -1 : 0}
          onKeyDown={onKey}
          onBlur={hideTooltip}
          onPointerLeave={hideTooltip}
        >
          <Group left={MARGIN.left} top={MARGIN.top}>
            {!empty && <GridRows scale={y} width={PLOT_W} tickValues={axis.ticks} className="grid" />}
            {active !== undefined && (
              <rect className="hover-band" x={slot * active} y={0} width={slot} height={PLOT_H} />
            )}
            {!empty &&
              series.map((s) => (
                <g key={s.name} className={`series ${s.tone}`} data-series={s.name}>
                  {mark === 'bar'
                    ? s.values.map((value, i) =>
                        isValue(value) ? (
                          <Bar
                            key={days[i] ?? i}
                            className="bar"
                            x={slot * i + slot * 0.2}
                            width={slot * 0.6}
                            y={yOf(value)}
                            height={PLOT_H - yOf(value)}
                          />
                        ) : null,
                      )
                    : [
                        <LinePath
                          key="line"
                          className="line"
                          data={s.values.map((value, i) => ({ value, i }))}
                          // A day without data breaks the line instead of dropping it to zero.
                          defined={(d) => isValue(d.value)}
                          x={(d) => middle(d.i)}
                          y={(d) => yOf(d.value ?? 0)}
                        />,
                        ...s.values.map((value, i) =>
                          isValue(value) ? (
                            <Circle key={days[i] ?? i} className="point" cx={middle(i)} cy={yOf(value)} r={3} />
                          ) : null,
                        ),
                      ]}
                </g>
              ))}
            {!empty && (
              <g data-axis="y" data-axis-kind={kind}>
                <AxisLeft
                  scale={y}
                  tickValues={axis.ticks}
                  tickFormat={(value) => axis.label(Number(value))}
                  {...AXIS_STYLE}
                  label={yLabel}
                  labelOffset={46}
                />
              </g>
            )}
            <g data-axis="x" data-axis-kind="time">
              <AxisBottom
                scale={x}
                top={PLOT_H}
                tickValues={days.map((_, i) => dayMiddle(first, i))}
                tickFormat={(value) => dayLabel(value instanceof Date ? value : new Date(Number(value)))}
                {...AXIS_STYLE}
                label={xLabel}
                labelOffset={10}
              />
            </g>
            {!empty &&
              days.map((day, i) => (
                <rect
                  key={day}
                  className="hover-target"
                  x={slot * i}
                  y={0}
                  width={slot}
                  height={PLOT_H}
                  onPointerEnter={onPointer(i)}
                  onPointerMove={onPointer(i)}
                />
              ))}
          </Group>
        </svg>
        {empty && (
          <div className="chart-empty" data-testid={state === 'ready' ? 'chart-empty' : `chart-${state}`} role="status">
            {state === 'loading' ? (
              <strong>Loading…</strong>
            ) : state === 'failed' ? (
              <strong>Could not load this chart</strong>
            ) : (
              <>
                <strong>No data yet</strong>
                {emptyText && <span>{emptyText}</span>}
              </>
            )}
          </div>
        )}
        {active !== undefined && activeDay && tooltipLeft !== undefined && tooltipTop !== undefined && (
          <TooltipWithBounds
            key={active}
            left={tooltipLeft}
            top={tooltipTop}
            unstyled
            className="chart-tooltip"
            data-testid="chart-tooltip"
          >
            <strong>{dayTitle(activeDay)}</strong>
            {series.map((s) => {
              const value = s.values[active];
              return (
                <span key={s.name} className="tooltip-row">
                  <span className={`swatch ${s.tone}`} aria-hidden="true" /> {s.name}:{' '}
                  {isValue(value) ? TOOLTIP_VALUE[kind](value) : 'no data'}
                </span>
              );
            })}
            {detail?.(active) && <span className="muted">{detail(active)}</span>}
          </TooltipWithBounds>
        )}
      </div>
      {series.length > 1 && (
        <figcaption className="legend">
          {series.map((s) => (
            <span key={s.name} className={`legend-item ${s.tone}`} data-empty={emptySeries.has(s.name) || undefined}>
              <span className="swatch" aria-hidden="true" /> {s.name}
              {emptySeries.has(s.name) && !empty && <span className="muted"> (no data yet)</span>}
            </span>
          ))}
        </figcaption>
      )}
    </figure>
  );
}

/** One series as bars, one per day. */
export function BarChart({
  name,
  values,
  tone = 'series-1',
  ...props
}: ChartProps & Omit<Series, 'tone'> & { tone?: string }) {
  return <DayChart mark="bar" series={[{ name, values, tone }]} {...props} />;
}

/** One or more series as lines through the days' middles, broken where a day has no data. */
export function LineChart({ series, ...props }: ChartProps & { series: Series[] }) {
  return <DayChart mark="line" series={series} {...props} />;
}
