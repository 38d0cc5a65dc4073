// Scheduler metrics: counters, latency percentiles over a sliding window of recent jobs,
// throughput over the last seconds, and busy time per backend.

const LATENCY_WINDOW = 2048;
const THROUGHPUT_SECONDS = 10;

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
  // Completions per whole second, for the last THROUGHPUT_SECONDS seconds (a ring of counters:
  // constant work per job however many jobs a second there are).
  readonly #perSecond = new Float64Array(THROUGHPUT_SECONDS);
  readonly #second = new Float64Array(THROUGHPUT_SECONDS).fill(-1);

  recordCompletion(latencyMs: number, now: number): void {
    this.completed++;
    this.#latencies[this.#latencyCount % LATENCY_WINDOW] = latencyMs;
    this.#latencyCount++;
    const second = Math.floor(now / 1000);
    const slot = second % THROUGHPUT_SECONDS;
    if (this.#second[slot] !== second) {
      this.#second[slot] = second;
      this.#perSecond[slot] = 0;
    }
    this.#perSecond[slot]++;
  }

  jobsPerSecond(now: number): number {
    const current = Math.floor(now / 1000);
    let count = 0;
    for (let i = 0; i < THROUGHPUT_SECONDS; i++) {
      if (current - this.#second[i] < THROUGHPUT_SECONDS) count += this.#perSecond[i];
    }
    return count / THROUGHPUT_SECONDS;
  }

  latency(): SchedulerMetrics['latencyMs'] {
    const n = Math.min(this.#latencyCount, LATENCY_WINDOW);
    if (n === 0) return { p50: 0, p95: 0, p99: 0, count: 0 };
    const sorted = Array.from(this.#latencies.subarray(0, n)).sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(n - 1, Math.ceil(q * n) - 1)];
    return { p50: at(0.5), p95: at(0.95), p99: at(0.99), count: n };
  }
}
