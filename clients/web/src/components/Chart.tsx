import { CANDLE_INTERVALS, type Candle, type CandleInterval, type Instrument, formatPaise, formatPercent,
         formatQty, followCandles } from "@gridworks/sdk";
import { CandlestickSeries, ColorType, CrosshairMode, HistogramSeries, type IChartApi, type ISeriesApi,
         type UTCTimestamp, createChart } from "lightweight-charts";
import { useEffect, useRef } from "react";
import { frames } from "../lib/frame";
import type { Session } from "../lib/session";

export const UP = "#26a69a";
export const DOWN = "#ef5350";
const IST_OFFSET_S = 19_800; // the chart draws UTC; bars are shown in Indian time

interface Props {
  session: Session;
  instrument: Instrument;
  interval: CandleInterval;
  onInterval: (interval: CandleInterval) => void;
}

interface Series {
  chart: IChartApi;
  candles: ISeriesApi<"Candlestick">;
  volume: ISeriesApi<"Histogram">;
}

/** Candles with volume for the selected instrument: history on subscribe, then every
 * changed bar straight into the chart (which draws in its next animation frame). */
export function Chart({ session, instrument, interval, onInterval }: Props) {
  const container = useRef<HTMLDivElement>(null);
  const series = useRef<Series | null>(null);

  useEffect(() => {
    const chart = createChart(container.current!, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: "#0e131a" }, textColor: "#8b96a5",
                fontFamily: "Inter, system-ui, sans-serif", attributionLogo: true },
      grid: { vertLines: { color: "#18202b" }, horzLines: { color: "#18202b" } },
      rightPriceScale: { borderColor: "#232d3a" },
      timeScale: { borderColor: "#232d3a", timeVisible: true, secondsVisible: false },
      crosshair: { mode: CrosshairMode.Normal },
    });
    const candles = chart.addSeries(CandlestickSeries, {
      upColor: UP, downColor: DOWN, borderVisible: false, wickUpColor: UP, wickDownColor: DOWN,
    });
    candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.26 } });
    const volume = chart.addSeries(HistogramSeries, { priceFormat: { type: "volume" }, priceScaleId: "volume",
                                                      lastValueVisible: false, priceLineVisible: false });
    chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    series.current = { chart, candles, volume };
    return () => {
      series.current = null;
      chart.remove();
    };
  }, []);

  useEffect(() => {
    const s = series.current;
    if (!s) return;
    s.candles.applyOptions({ priceFormat: { type: "price", precision: 2, minMove: instrument.tick / 100 } });
    s.chart.applyOptions({ timeScale: { secondsVisible: interval === "1s" } });
    s.candles.setData([]);
    s.volume.setData([]);
    let lastTime = 0;
    const subscription = followCandles(session.client, instrument.symbol, interval, (store, changed, snapshot) => {
      if (snapshot || changed.some((bar) => barTime(bar) < lastTime)) {
        s.candles.setData(store.bars.map(candle));
        s.volume.setData(store.bars.map(volumeBar));
        lastTime = store.bars.length ? barTime(store.bars.at(-1)!) : 0;
        if (snapshot) s.chart.timeScale().scrollToRealTime();
        return;
      }
      for (const bar of changed) {
        s.candles.update(candle(bar));
        s.volume.update(volumeBar(bar));
        lastTime = Math.max(lastTime, barTime(bar));
      }
    });
    return () => subscription.unsubscribe();
  }, [session, instrument, interval]);

  return (
    <>
      <div className="chart-head">
        <Quote session={session} instrument={instrument} />
        <div className="intervals" role="group" aria-label="Interval">
          {CANDLE_INTERVALS.map((value) => (
            <button key={value} type="button" className={value === interval ? "active" : ""}
                    aria-pressed={value === interval} onClick={() => onInterval(value)}>{value}</button>
          ))}
        </div>
      </div>
      <div className="chart" ref={container} data-testid="chart" />
    </>
  );
}

/** The instrument's name, last price, change and day range, written per tick. */
function Quote({ session, instrument }: { session: Session; instrument: Instrument }) {
  const last = useRef<HTMLSpanElement>(null);
  const change = useRef<HTMLSpanElement>(null);
  const range = useRef<HTMLSpanElement>(null);

  useEffect(() => session.tickers.on(instrument.symbol, (t) => {
    frames.write("quote", () => {
      if (!last.current || !change.current || !range.current) return;
      last.current.textContent = formatPaise(t.last || t.ref);
      change.current.textContent = t.last
        ? `${formatPaise(t.change, { sign: true })} (${formatPercent(t.change, t.ref)})` : "no trades yet";
      change.current.className = t.change > 0 ? "up" : t.change < 0 ? "down" : "muted";
      range.current.textContent = t.trades
        ? `O ${formatPaise(t.open)}  H ${formatPaise(t.high)}  L ${formatPaise(t.low)}  Vol ${formatQty(t.volume)}` : "";
    });
  }), [session, instrument.symbol]);

  return (
    <div className="quote">
      <span className="quote-symbol">{instrument.symbol}</span>
      <span className="muted small">{instrument.name}</span>
      <span className="quote-last" ref={last} data-testid="quote-last">{formatPaise(instrument.ref_price)}</span>
      <span ref={change} className="muted">no trades yet</span>
      <span ref={range} className="muted small range" />
    </div>
  );
}

function barTime(bar: Candle): number {
  return Math.round(bar[0] / 1e9) + IST_OFFSET_S;
}

function candle(bar: Candle) {
  return { time: barTime(bar) as UTCTimestamp, open: bar[1] / 100, high: bar[2] / 100, low: bar[3] / 100,
           close: bar[4] / 100 };
}

function volumeBar(bar: Candle) {
  return { time: barTime(bar) as UTCTimestamp, value: bar[5],
           color: bar[4] >= bar[1] ? "rgba(38, 166, 154, 0.45)" : "rgba(239, 83, 80, 0.45)" };
}
