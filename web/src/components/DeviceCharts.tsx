import { useEffect, useMemo, useState } from "react";
import { api } from "../api/client";
import { Chart } from "./Chart";
import { Notice, Section } from "./ui";
import { MEASURES, RANGES, align, timeWindow, type Bucket } from "../lib/series";
import { describe } from "../lib/problems";

const MAX_PAGES = 10;

export function DeviceCharts({ uuid }: { uuid: string }) {
  const [rangeIndex, setRangeIndex] = useState(1);
  const [buckets, setBuckets] = useState<Bucket[] | null>(null);
  const [span, setSpan] = useState<[number, number]>([0, 1]);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const range = RANGES[rangeIndex];

  useEffect(() => {
    let stale = false;
    (async () => {
      const { from, to } = timeWindow(range, Date.now());
      const rows: Bucket[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const { data, error: err, response } = await api.GET("/api/telemetry", {
          params: { query: { device_uuid: uuid, from, to, interval: range.interval, limit: 500, cursor } },
        });
        if (!data || typeof data === "string") {
          if (!stale) setError(describe(response.status, err));
          return;
        }
        rows.push(...(data.items as Bucket[]));
        if (!data.next_cursor) break;
        cursor = data.next_cursor;
      }
      if (!stale) {
        setSpan([Date.parse(from) / 1000, Date.parse(to) / 1000]);
        setBuckets(rows);
        setError(null);
      }
    })();
    return () => {
      stale = true;
    };
  }, [uuid, range, tick]);

  useEffect(() => {
    const timer = window.setInterval(() => document.visibilityState === "visible" && setTick((n) => n + 1), 30_000);
    return () => window.clearInterval(timer);
  }, []);

  const charts = useMemo(() => (buckets ? MEASURES.map((m) => ({ ...m, data: align(buckets, m.key) })) : []), [buckets]);

  return (
    <Section title="Telemetry">
      <div className="toolbar">
        <label htmlFor="range">Range</label>
        <select id="range" value={rangeIndex} onChange={(e) => setRangeIndex(Number(e.target.value))}>
          {RANGES.map((r, i) => (
            <option key={r.label} value={i}>
              {r.label} ({r.interval} buckets)
            </option>
          ))}
        </select>
        <button type="button" onClick={() => setTick((n) => n + 1)}>
          Refresh
        </button>
      </div>
      {error && <Notice kind="error">{error}</Notice>}
      {buckets === null && !error && <p>Loading…</p>}
      <div className="charts">
        {charts.map((c) => (
          <Chart key={c.key} title={`${c.label} (average per ${range.interval})`} unit={c.unit} data={c.data} span={span} />
        ))}
      </div>
    </Section>
  );
}
