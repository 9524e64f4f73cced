// Telemetry buckets (avg/min/max per channel and phase) -> aligned series for a chart.
export const MEASURES = [
  { key: "line_voltage", label: "Voltage", unit: "V" },
  { key: "current", label: "Current", unit: "A" },
  { key: "active_power", label: "Active power", unit: "W" },
  { key: "reactive_power", label: "Reactive power", unit: "var" },
  { key: "temperature", label: "Temperature", unit: "°C" },
] as const;

export type Measure = (typeof MEASURES)[number]["key"];

export interface Bucket {
  start: string;
  channel_id: number | string;
  phase: string | null;
  [measure: string]: unknown;
}

export interface Series {
  label: string;
  values: (number | null)[];
}

export interface Aligned {
  x: number[]; // seconds since the epoch (uPlot's time axis)
  series: Series[];
  points: number; // values that are not null
}

export const seriesLabel = (channel: number | string, phase: string | null): string =>
  phase ? `ch ${channel} ${phase}` : `ch ${channel}`;

function stat(bucket: Bucket, measure: Measure, which: "avg" | "min" | "max"): number | null {
  const m = bucket[measure];
  if (m && typeof m === "object" && which in m) {
    const v = (m as Record<string, unknown>)[which];
    return typeof v === "number" && Number.isFinite(v) ? v : null;
  }
  return null;
}

export function align(buckets: Bucket[], measure: Measure, which: "avg" | "min" | "max" = "avg"): Aligned {
  const times = [...new Set(buckets.map((b) => Date.parse(b.start) / 1000))].filter(Number.isFinite).sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const byLabel = new Map<string, (number | null)[]>();
  let points = 0;
  for (const b of buckets) {
    const label = seriesLabel(b.channel_id, b.phase);
    let values = byLabel.get(label);
    if (!values) {
      values = new Array<number | null>(times.length).fill(null);
      byLabel.set(label, values);
    }
    const at = index.get(Date.parse(b.start) / 1000);
    const v = stat(b, measure, which);
    if (at !== undefined && v !== null) {
      if (values[at] === null) points += 1;
      values[at] = v;
    }
  }
  const series = [...byLabel.entries()]
    .sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true }))
    .map(([label, values]) => ({ label, values }));
  return { x: times, series, points };
}

export interface RangeChoice {
  label: string;
  seconds: number;
  interval: "1m" | "5m" | "1h" | "1d";
}

// Each keeps a series within one page of buckets (limit 500).
export const RANGES: RangeChoice[] = [
  { label: "Last 15 minutes", seconds: 900, interval: "1m" },
  { label: "Last hour", seconds: 3600, interval: "1m" },
  { label: "Last 6 hours", seconds: 6 * 3600, interval: "5m" },
  { label: "Last 24 hours", seconds: 86_400, interval: "5m" },
  { label: "Last 7 days", seconds: 7 * 86_400, interval: "1h" },
  { label: "Last 90 days", seconds: 90 * 86_400, interval: "1d" },
];

export function timeWindow(range: RangeChoice, now: number): { from: string; to: string } {
  return { from: new Date(now - range.seconds * 1000).toISOString(), to: new Date(now).toISOString() };
}
