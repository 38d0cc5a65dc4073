// Scheduler metrics: counters, latency percentiles over a sliding window of recent jobs,
// throughput over the last seconds, and busy time per backend.

const LATENCY_WINDOW = 2048;
const THROUGHPUT_WINDOW_MS = 10_000;

export interface SchedulerMetrics {
  queueDepth: number;
  running: number;
  submitted: number;
  completed: number;
  failed: number;
  cancelled: number;
  timedOut: number;
  rejectedFull: number;
  /** runs that served more than one job, and the jobs they served */
  batches: number;
  batchedJobs: number;
  /** completed jobs per second over the last 10 s */
  jobsPerSecond: number;
  /** submit-to-result latency of recent completed jobs, ms */
  latencyMs: { p50: number; p95: number; p99: number; count: number };
  /** per backend: slots, slots in use, and total ms its slots spent running */
  backends: Record<string, { capacity: number; busySlots: number; busyMs: number }>;
}

export class MetricsRecorder {
  submitted = 0;
  completed = 0;
  failed = 0;
  cancelled = 0;
  timedOut = 0;
  rejectedFull = 0;
  batches = 0;
  batchedJobs = 0;
  readonly #latencies = new Float64Array(LATENCY_WINDOW);
  #latencyCount = 0;
  readonly #completions: number[] = [];

  recordCompletion(latencyMs: number, now: number): void {
    this.completed++;
    this.#latencies[this.#latencyCount % LATENCY_WINDOW] = latencyMs;
    this.#latencyCount++;
    this.#completions.push(now);
    this.#trim(now);
  }

  jobsPerSecond(now: number): number {
    this.#trim(now);
    return this.#completions.length / (THROUGHPUT_WINDOW_MS / 1000);
  }

  latency(): SchedulerMetrics['latencyMs'] {
    const n = Math.min(this.#latencyCount, LATENCY_WINDOW);
    if (n === 0) return { p50: 0, p95: 0, p99: 0, count: 0 };
    const sorted = Array.from(this.#latencies.subarray(0, n)).sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(n - 1, Math.ceil(q * n) - 1)];
    return { p50: at(0.5), p95: at(0.95), p99: at(0.99), count: n };
  }

  #trim(now: number): void {
    let drop = 0;
    while (drop < this.#completions.length && this.#completions[drop] < now - THROUGHPUT_WINDOW_MS) drop++;
    if (drop > 0) this.#completions.splice(0, drop);
  }
}
