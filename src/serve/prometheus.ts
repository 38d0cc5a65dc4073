// GET /metrics: Node's default process metrics (event-loop lag percentiles, heap, RSS) and the
// scheduler's, read fresh at every scrape.
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Scheduler } from '../schedule/scheduler.js';

export function createMetricsRegistry(scheduler: Scheduler): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  const gauge = (name: string, help: string, labelNames: string[], read: (g: Gauge) => void) =>
    new Gauge({ name, help, labelNames, registers: [registry], collect() { read(this); } });
  gauge('bitexact_queue_depth', 'Jobs waiting in the scheduler queue', [], (g) => g.set(scheduler.metrics().queueDepth));
  gauge('bitexact_jobs_running', 'Runs in progress', [], (g) => g.set(scheduler.metrics().running));
  gauge('bitexact_jobs', 'Jobs by outcome since start', ['outcome'], (g) => {
    const m = scheduler.metrics();
    for (const outcome of ['submitted', 'completed', 'failed', 'cancelled', 'timedOut', 'rejectedFull', 'batchedJobs'] as const) {
      g.set({ outcome }, m[outcome]);
    }
  });
  gauge('bitexact_jobs_per_second', 'Completed jobs per second over the last 10 s', [], (g) => g.set(scheduler.metrics().jobsPerSecond));
  gauge('bitexact_job_latency_ms', 'Submit-to-result latency of recent jobs', ['quantile'], (g) => {
    const l = scheduler.metrics().latencyMs;
    g.set({ quantile: '0.5' }, l.p50);
    g.set({ quantile: '0.95' }, l.p95);
    g.set({ quantile: '0.99' }, l.p99);
  });
  gauge('bitexact_backend_busy_ms', 'Total time run slots were busy, per backend', ['backend'], (g) => {
    for (const [backend, b] of Object.entries(scheduler.metrics().backends)) g.set({ backend }, b.busyMs);
  });
  return registry;
}
