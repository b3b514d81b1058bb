/** lightweight-charts cannot draw in jsdom (no canvas): tests get this recording stand-in,
 * and real drawing is checked in Chromium by the end-to-end tests. */

export interface RecordedSeries {
  kind: string;
  data: unknown[];
  updates: unknown[];
  options: Record<string, unknown>;
}

export const recorded = { series: [] as RecordedSeries[], charts: 0, removed: 0 };

export function resetRecorded(): void {
  recorded.series.length = 0;
  recorded.charts = 0;
  recorded.removed = 0;
}

function series(kind: string) {
  const entry: RecordedSeries = { kind, data: [], updates: [], options: {} };
  recorded.series.push(entry);
  return {
    setData: (data: unknown[]) => {
      entry.data = [...data];
    },
    update: (bar: unknown) => {
      entry.updates.push(bar);
    },
    applyOptions: (options: Record<string, unknown>) => Object.assign(entry.options, options),
    priceScale: () => ({ applyOptions: () => {} }),
  };
}

export const chartModule = {
  CandlestickSeries: { kind: "candles" },
  HistogramSeries: { kind: "volume" },
  ColorType: { Solid: "solid" },
  CrosshairMode: { Normal: 0 },
  createChart: () => {
    recorded.charts += 1;
    return {
      addSeries: (type: { kind: string }) => series(type.kind),
      priceScale: () => ({ applyOptions: () => {} }),
      timeScale: () => ({ scrollToRealTime: () => {}, fitContent: () => {} }),
      applyOptions: () => {},
      remove: () => {
        recorded.removed += 1;
      },
    };
  },
};
