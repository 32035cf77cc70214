// A run's curve, held outside React: points arrive at any rate from the socket and are
// drawn into the uPlot charts at most once per animation frame, so a run of 10,000
// epochs costs one setData per frame, not one React render per epoch.
import type uPlot from "uplot";
import type { MetricsMessage } from "@/api/ws";

/** The second chart's metric: classification sends accuracy, regression its MAE. */
export type CurveMetric = "accuracy" | "mae";
export type ChartRole = "loss" | "metric";
export type AddResult = "added" | "duplicate" | "gap";

export interface CurveSummary {
  /** Epochs (or stages) received so far. */
  points: number;
  /** The latest epoch's values, or null before the first. */
  latest: MetricsMessage | null;
  metric: CurveMetric;
}

interface PlotLogEntry {
  epoch: number;
  timestamp: string;
  drawn_at: number;
}

declare global {
  interface Window {
    /** Set by the benchmark: every point is logged when it has been drawn. */
    __medilytica_plot_log?: PlotLogEntry[];
  }
}

type Column = (number | null)[];

const schedule =
  typeof requestAnimationFrame === "function"
    ? (run: () => void) => requestAnimationFrame(run)
    : (run: () => void) => setTimeout(run, 16) as unknown as number;
const unschedule =
  typeof cancelAnimationFrame === "function" ? cancelAnimationFrame : (id: number) => clearTimeout(id);

export class CurveStore {
  private points: MetricsMessage[] = []; // by seq, ascending
  private readonly bySeq = new Map<number, MetricsMessage>();
  private x: number[] = [];
  private loss: Column = [];
  private valLoss: Column = [];
  private train: Column = [];
  private valTrain: Column = [];
  /** The columns no longer match `points` (a replace, an out-of-order insert). */
  private stale = false;
  private dirty = false;
  private metricFromData = false;
  private fresh: MetricsMessage[] = []; // not drawn yet
  private readonly drawnSeqs = new Set<number>();
  private readonly charts = new Map<uPlot, ChartRole>();
  private awaiting: { points: MetricsMessage[]; charts: Set<uPlot>; mark: boolean } | null = null;
  private snapshotLoaded = false;
  private marked = false;
  private snapshotPoints = 0;
  private frame: number | null = null;
  private summary: CurveSummary;
  private readonly listeners = new Set<() => void>();

  constructor(metric: CurveMetric = "accuracy") {
    this.summary = { points: 0, latest: null, metric };
  }

  get lastSeq(): number {
    return this.points.length ? this.points[this.points.length - 1].seq : 0;
  }

  /** The whole history, as a snapshot has it: what was there before is dropped. A
   * snapshot too long for one frame says how many epochs follow in its parts (`more`):
   * the curve counts as drawn in full only once they are in. */
  replace(history: MetricsMessage[], more = 0) {
    this.snapshotPoints = history.length + more;
    this.points = [...history].sort((a, b) => a.seq - b.seq);
    this.bySeq.clear();
    for (const point of this.points) this.bySeq.set(point.seq, point);
    this.fresh = this.points.filter((point) => !this.drawnSeqs.has(point.seq));
    for (const point of this.points) this.learnMetric(point);
    this.snapshotLoaded = true;
    this.stale = true;
    this.changed();
  }

  /** One epoch; "gap" when epochs before it are missing (the caller refetches them). */
  add(point: MetricsMessage): AddResult {
    if (this.bySeq.has(point.seq)) return "duplicate";
    const last = this.lastSeq;
    this.bySeq.set(point.seq, point);
    this.learnMetric(point);
    if (point.seq > last) {
      this.points.push(point);
      if (!this.stale) this.append(point);
    } else {
      // A missing epoch arriving late: put it in its place and rebuild the columns.
      this.points.splice(this.insertionIndex(point.seq), 0, point);
      this.stale = true;
    }
    if (!this.drawnSeqs.has(point.seq)) this.fresh.push(point);
    this.changed();
    return point.seq > last + 1 ? "gap" : "added";
  }

  /** Epochs refetched after a gap: added by seq, the ones already here skipped. */
  merge(history: MetricsMessage[]) {
    for (const point of history) if (!this.bySeq.has(point.seq)) this.add(point);
  }

  /** Whether epochs are missing before the latest one. */
  hasGap(): boolean {
    return this.points.length > 0 && this.points.length < this.lastSeq;
  }

  /** The run's task, known before its first epoch says which metric it sends. */
  hint(metric: CurveMetric) {
    if (this.metricFromData || metric === this.summary.metric) return;
    this.summary = { ...this.summary, metric };
    this.stale = true;
    this.changed();
    this.notify();
  }

  attach(chart: uPlot, role: ChartRole) {
    this.charts.set(chart, role);
    this.changed();
  }

  detach(chart: uPlot) {
    this.charts.delete(chart);
    this.awaiting?.charts.delete(chart);
  }

  /** uPlot's draw hook: once every chart fed by the last flush has painted, log its points. */
  drawn(chart: uPlot) {
    const awaiting = this.awaiting;
    if (!awaiting || !awaiting.charts.delete(chart) || awaiting.charts.size > 0) return;
    this.awaiting = null;
    const log = window.__medilytica_plot_log;
    if (Array.isArray(log)) {
      const drawnAt = Date.now();
      for (const point of awaiting.points) {
        log.push({ epoch: point.epoch, timestamp: point.timestamp, drawn_at: drawnAt });
      }
    }
    if (awaiting.mark && typeof performance.mark === "function") {
      performance.mark("medilytica:curve-drawn", { detail: { points: this.points.length } });
    }
  }

  /** Draws what changed since the last frame; called by the frame scheduler. */
  flush() {
    this.frame = null;
    if (!this.dirty || this.charts.size === 0) return;
    this.dirty = false;
    if (this.stale) this.rebuild();
    // Points of a flush whose draw never came (a chart gone meanwhile) are logged with these.
    const points = this.awaiting ? [...this.awaiting.points, ...this.fresh] : this.fresh;
    this.fresh = [];
    for (const point of points) this.drawnSeqs.add(point.seq);
    const whole = this.snapshotLoaded && this.points.length >= this.snapshotPoints;
    const mark = (whole && !this.marked) || Boolean(this.awaiting?.mark);
    this.marked ||= whole;
    this.awaiting = { points, charts: new Set(this.charts.keys()), mark };
    for (const [chart, role] of this.charts) {
      chart.setData(
        role === "loss" ? [this.x, this.loss, this.valLoss] : [this.x, this.train, this.valTrain],
      );
    }
    const latest = this.points[this.points.length - 1] ?? null;
    if (latest !== this.summary.latest || this.points.length !== this.summary.points) {
      this.summary = { ...this.summary, points: this.points.length, latest };
      this.notify();
    }
  }

  /** For useSyncExternalStore: the summary changes at most once per frame. */
  subscribe = (listener: () => void) => {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  };

  getSummary = () => this.summary;

  /** Stops the pending frame; charts and listeners detach themselves. */
  dispose() {
    if (this.frame !== null) unschedule(this.frame);
    this.frame = null;
  }

  private changed() {
    this.dirty = true;
    if (this.frame === null) this.frame = schedule(() => this.flush());
  }

  private notify() {
    for (const listener of this.listeners) listener();
  }

  /** The first epoch that names its metric decides the second chart (accuracy or MAE). */
  private learnMetric(point: MetricsMessage) {
    if (this.metricFromData) return;
    const metric: CurveMetric | null =
      point.mae !== undefined || point.val_mae !== undefined
        ? "mae"
        : point.accuracy !== undefined || point.val_accuracy !== undefined
          ? "accuracy"
          : null;
    if (!metric) return;
    this.metricFromData = true;
    if (metric !== this.summary.metric) {
      this.summary = { ...this.summary, metric };
      this.stale = true;
      this.notify();
    }
  }

  private append(point: MetricsMessage) {
    const metric = this.summary.metric;
    this.x.push(point.epoch);
    this.loss.push(point.loss ?? null);
    this.valLoss.push(point.val_loss ?? null);
    this.train.push(point[metric] ?? null);
    this.valTrain.push(point[`val_${metric}`] ?? null);
  }

  private rebuild() {
    this.x = [];
    this.loss = [];
    this.valLoss = [];
    this.train = [];
    this.valTrain = [];
    for (const point of this.points) this.append(point);
    this.stale = false;
  }

  private insertionIndex(seq: number): number {
    let low = 0;
    let high = this.points.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.points[middle].seq < seq) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
