// The scheduler's waiting jobs: highest priority first, first come first served within a
// priority. Jobs leave either from the top or, when a batch takes them or they are cancelled,
// from the middle: those are only marked and skipped when they reach the top (lazy deletion).

export interface Queued {
  priority: number;
  seq: number;
  /** false once the job has left the queue by any route other than the top */
  waiting: boolean;
}

export class JobQueue<T extends Queued> {
  readonly #heap: T[] = [];
  #waiting = 0;

  /** jobs still waiting (not counting ones taken from the middle) */
  get size(): number {
    return this.#waiting;
  }

  push(job: T): void {
    job.waiting = true;
    this.#waiting++;
    const h = this.#heap;
    h.push(job);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  /** The first waiting job, without removing it. */
  peek(): T | undefined {
    this.#dropLeft();
    return this.#heap[0];
  }

  /** Removes and returns the first waiting job. */
  pop(): T | undefined {
    this.#dropLeft();
    const top = this.#heap[0];
    if (!top) return undefined;
    this.#removeTop();
    top.waiting = false;
    this.#waiting--;
    return top;
  }

  /** Takes a job out from wherever it is (a batch claimed it, or it was cancelled). */
  take(job: T): boolean {
    if (!job.waiting) return false;
    job.waiting = false;
    this.#waiting--;
    return true;
  }

  /** Waiting jobs matching `accept`, in queue order, at most `limit`. */
  collect(accept: (job: T) => boolean, limit: number): T[] {
    return this.#heap.filter((j) => j.waiting && accept(j)).sort((a, b) => (before(a, b) ? -1 : 1)).slice(0, limit);
  }

  #dropLeft(): void {
    while (this.#heap.length > 0 && !this.#heap[0].waiting) this.#removeTop();
  }

  #removeTop(): void {
    const h = this.#heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let best = i;
      if (l < h.length && before(h[l], h[best])) best = l;
      if (r < h.length && before(h[r], h[best])) best = r;
      if (best === i) break;
      [h[i], h[best]] = [h[best], h[i]];
      i = best;
    }
  }
}

function before(a: Queued, b: Queued): boolean {
  return a.priority !== b.priority ? a.priority > b.priority : a.seq < b.seq;
}
