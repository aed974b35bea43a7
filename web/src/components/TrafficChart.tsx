// An app's requests and errors over a window, as a bar chart: one bar per slice of the window, its
// errors drawn over it hatched (so they do not depend on colour), the numbers also in a table for
// screen readers and for anyone who wants them exactly.

import type { MetricsBucket } from '../api/types';

interface Props {
  series: MetricsBucket[];
  windowHours: number;
}

const WIDTH = 480;
const HEIGHT = 120;
/** Room at the left for the scale's top value. */
const GUTTER = 32;

/** "hour", "30 minutes", "day": how long one slice of the window is, in words. */
export function sliceLength(windowHours: number, slices: number): string {
  const minutes = Math.round((windowHours * 60) / Math.max(slices, 1));
  if (minutes % (24 * 60) === 0) return minutes === 24 * 60 ? 'day' : `${minutes / (24 * 60)} days`;
  if (minutes % 60 === 0) return minutes === 60 ? 'hour' : `${minutes / 60} hours`;
  return `${minutes} minutes`;
}

/** The text a screen reader hears for the chart: the totals and the busiest slice. */
export function describe(series: MetricsBucket[], windowHours: number): string {
  const requests = series.reduce((sum, b) => sum + b.requests, 0);
  const errors = series.reduce((sum, b) => sum + b.errors, 0);
  const per = sliceLength(windowHours, series.length);
  let text = `Requests per ${per} over the last ${windowHours} hours: ${requests} in all, ${errors} of them errors.`;
  const busiest = series.reduce<MetricsBucket | null>((top, b) => (b.requests > (top?.requests ?? 0) ? b : top), null);
  if (busiest) text += ` The busiest ${per} began at ${new Date(busiest.from).toLocaleString()} with ${busiest.requests}.`;
  return text;
}

export function TrafficChart({ series, windowHours }: Props) {
  if (series.length === 0) return null;
  const top = Math.max(1, ...series.map((b) => b.requests));
  const slot = (WIDTH - GUTTER) / series.length;
  const bar = Math.max(1, slot - 2);
  const height = (n: number) => (n / top) * (HEIGHT - 12);
  const per = sliceLength(windowHours, series.length);
  return (
    <figure className="traffic">
      <figcaption>
        Requests and <span className="traffic-key-errors">errors</span> per {per}
      </figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT + 16}`} role="img" aria-label={describe(series, windowHours)}>
        <defs>
          <pattern id="traffic-hatch" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
            <rect width="4" height="4" className="traffic-error-fill" />
            <line x1="0" y1="0" x2="0" y2="4" className="traffic-error-line" />
          </pattern>
        </defs>
        <text x="0" y="10" className="traffic-scale">
          {top}
        </text>
        <text x="0" y={HEIGHT} className="traffic-scale">
          0
        </text>
        <line x1={GUTTER} x2={WIDTH} y1={HEIGHT} y2={HEIGHT} className="traffic-axis" />
        {series.map((b, i) => {
          const x = GUTTER + i * slot + 1;
          return (
            <g key={b.from}>
              <title>{`${new Date(b.from).toLocaleString()}: ${b.requests} requests, ${b.errors} errors`}</title>
              <rect x={x} width={bar} y={HEIGHT - height(b.requests)} height={height(b.requests)} className="traffic-requests" />
              {b.errors > 0 && (
                <rect x={x} width={bar} y={HEIGHT - height(b.errors)} height={height(b.errors)} fill="url(#traffic-hatch)" />
              )}
            </g>
          );
        })}
        <text x={GUTTER} y={HEIGHT + 14} className="traffic-scale">
          {windowHours} h ago
        </text>
        <text x={WIDTH} y={HEIGHT + 14} textAnchor="end" className="traffic-scale">
          now
        </text>
      </svg>
      <details>
        <summary>The numbers</summary>
        <div className="table-scroll" tabIndex={0} role="region" aria-label="Requests and errors per slice">
          <table>
            <thead>
              <tr>
                <th scope="col">From</th>
                <th scope="col">Requests</th>
                <th scope="col">Errors</th>
              </tr>
            </thead>
            <tbody>
              {series.map((b) => (
                <tr key={b.from}>
                  <th scope="row">{new Date(b.from).toLocaleString()}</th>
                  <td>{b.requests}</td>
                  <td>{b.errors}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
