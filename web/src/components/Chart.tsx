// A uPlot time-series chart of aligned series; the figure is described for screen readers.
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import type { Aligned } from "../lib/series";

const COLOURS = ["#1f6feb", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0e7490", "#a16207", "#be185d", "#4d7c0f"];

/** `span`: the chosen range in epoch seconds, so sparse data sits where it belongs in time. */
export function Chart({ title, unit, data, span }: { title: string; unit: string; data: Aligned; span: [number, number] }) {
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const el = box.current;
    if (!el || data.x.length === 0) return;
    const width = Math.max(280, el.clientWidth || 600);
    const sparse = data.x.length < 30;
    const plot = new uPlot(
      {
        width,
        height: 220,
        legend: { show: true },
        scales: { x: { time: true, range: (): uPlot.Range.MinMax => [span[0], span[1]] } },
        axes: [{}, { label: unit, size: 60 }],
        series: [
          {},
          ...data.series.map((s, i) => ({
            label: s.label,
            stroke: COLOURS[i % COLOURS.length],
            width: 1.5,
            spanGaps: false,
            points: { show: sparse, size: 5 },
          })),
        ],
      },
      [data.x, ...data.series.map((s) => s.values)] as uPlot.AlignedData,
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height: 220 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [data, unit, span]);

  return (
    <figure className="chart" data-points={data.points}>
      <figcaption>
        {title} <span className="muted">({unit}, {data.points} data points)</span>
      </figcaption>
      {data.x.length === 0 ? <p className="muted">No readings in this range.</p> : <div ref={box} role="img" aria-label={`${title} over time, ${data.series.length} series`} />}
    </figure>
  );
}
