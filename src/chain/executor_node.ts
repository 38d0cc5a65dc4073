// `bitexact node`: an executor daemon. It watches JobPosted events, and for each job it is seated
// on whose model it holds: fetches the input by URI, checks it against inputHash, runs the model
// with a trace, persists the result and a fresh salt, commits, reveals after the commit deadline
// and finalises after the reveal deadline. Bad chain data (unknown model, wrong input bytes,
// unreachable URI) skips the job with a logged reason; nothing stops the loop.
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hexlify } from 'ethers';
import { hashModelBytes } from '../hash.js';
import { loadModel, type Model } from '../model.js';
import { ChainClient, ChainRevertError, JobState, type Deployment } from './client.js';
import { fetchInput, parseJobInput } from './config.js';
import { Outbox, type OutboxRow } from './outbox.js';

export interface ExecutorNodeOptions {
  rpcUrl: string;
  deployment: Deployment;
  privateKey: string;
  modelsDir: string;
  dbPath: string;
  /** wei to stake at start when this address has no stake yet */
  stake?: bigint;
  pollMs?: number;
  /** Test and demo only: run with a fault injected into this node's output (a cheating executor). */
  testFaultNode?: number;
  log?: (line: string) => void;
}

export class ExecutorNode {
  readonly #options: ExecutorNodeOptions;
  readonly #log: (line: string) => void;
  readonly #models = new Map<string, { path: string; model?: Model }>();
  #client!: ChainClient;
  #outbox!: Outbox;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #ticking: Promise<void> | undefined;

  constructor(options: ExecutorNodeOptions) {
    this.#options = options;
    this.#log = options.log ?? ((line) => process.stdout.write(`${new Date().toISOString()} ${line}\n`));
  }

  get address(): string {
    return this.#client.address;
  }

  async start(): Promise<void> {
    this.#client = await ChainClient.connect(this.#options.rpcUrl, this.#options.privateKey, this.#options.deployment);
    this.#outbox = new Outbox(this.#options.dbPath, this.#options.deployment.market);
    for (const path of await findModels(this.#options.modelsDir)) {
      const hash = hashModelBytes(await readFile(path));
      this.#models.set(hash, { path });
    }
    this.#log(`node ${this.address}: ${this.#models.size} model(s) from ${this.#options.modelsDir}`);
    const me = await this.#client.executor(this.address);
    if (me.stake === 0n && this.#options.stake) {
      await this.#client.stake(this.#options.stake);
      this.#log(`node ${this.address}: staked ${this.#options.stake} wei`);
    }
    if (this.#outbox.nextBlock() === undefined) this.#outbox.setNextBlock(0);
    const loop = async () => {
      if (this.#stopped) return;
      this.#ticking = this.#tick().catch((err) => this.#log(`poll failed (will retry): ${(err as Error).message.split('\n')[0]}`));
      await this.#ticking;
      if (!this.#stopped) this.#timer = setTimeout(loop, this.#options.pollMs ?? 250);
    };
    void loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#ticking;
    for (const m of this.#models.values()) m.model?.dispose();
    this.#outbox?.close();
    this.#client?.destroy();
  }

  async #tick(): Promise<void> {
    await this.#scanNewJobs();
    const rows = this.#outbox.pending();
    if (rows.length === 0) return;
    const now = await this.#now();
    for (const row of rows) {
      try {
        await this.#advance(row, now);
      } catch (err) {
        this.#log(`job ${row.jobId}: ${(err as Error).message.split('\n')[0]} (will retry)`);
      }
    }
  }

  async #scanNewJobs(): Promise<void> {
    const from = this.#outbox.nextBlock() ?? 0;
    const latest = await this.#client.provider.getBlockNumber();
    if (latest < from) return;
    const logs = await this.#client.market.queryFilter(this.#client.market.filters.JobPosted(), from, latest);
    for (const log of logs) {
      const parsed = this.#client.market.interface.parseLog(log);
      if (!parsed) continue;
      const jobId = parsed.args.jobId as bigint;
      const seats = [...(parsed.args.seats as string[])].map((s) => s.toLowerCase());
      if (!seats.includes(this.address.toLowerCase()) || this.#outbox.has(jobId)) continue;
      await this.#takeJob(jobId, {
        modelHash: parsed.args.modelHash as string,
        inputHash: parsed.args.inputHash as string,
        inputURI: parsed.args.inputURI as string,
        commitDeadline: Number(parsed.args.commitDeadline),
        revealDeadline: Number(parsed.args.revealDeadline),
      });
    }
    this.#outbox.setNextBlock(latest + 1);
  }

  /** Runs a job this node is seated on, persists result and salt, then commits. */
  async #takeJob(jobId: bigint, job: { modelHash: string; inputHash: string; inputURI: string; commitDeadline: number; revealDeadline: number }): Promise<void> {
    const skip = (reason: string) => {
      this.#outbox.record({ jobId, state: 'skipped', reason, outputHash: null, traceRoot: null, salt: null, commitDeadline: job.commitDeadline, revealDeadline: job.revealDeadline });
      this.#log(`job ${jobId}: skipped: ${reason}`);
    };
    const entry = this.#models.get(job.modelHash);
    if (!entry) return skip(`unknown model ${job.modelHash} (not in ${this.#options.modelsDir})`);
    let row: OutboxRow;
    try {
      entry.model ??= await loadModel(entry.path);
      const bytes = await fetchInput(job.inputURI);
      const { inputs, inputHash } = parseJobInput(entry.model, job.inputURI, bytes);
      if (inputHash !== job.inputHash) return skip(`input at ${job.inputURI} hashes to ${inputHash}, not the job's ${job.inputHash}`);
      const result = await entry.model.run(inputs, { trace: true, ...(this.#options.testFaultNode !== undefined ? { testFaultNode: this.#options.testFaultNode } : {}) });
      const salt = hexlify(randomBytes(32));
      // Durable before the commit is sent: after a crash the same commitment is revealed.
      row = { jobId, state: 'committing', reason: null, outputHash: result.outputHash, traceRoot: result.traceRoot!, salt, commitDeadline: job.commitDeadline, revealDeadline: job.revealDeadline };
      this.#outbox.record(row);
      this.#log(`job ${jobId}: ran, outputHash ${result.outputHash}`);
    } catch (err) {
      return skip((err as Error).message.split('\n')[0]);
    }
    await this.#advance(row, await this.#now());
  }

  /** Seconds by the later of this machine's clock and the latest block (deadlines use block time). */
  async #now(): Promise<number> {
    return Math.max(Math.floor(Date.now() / 1000), await this.#client.chainTime());
  }

  /** Moves one outbox row on: commit, reveal or finalise, each checked against the chain first. */
  async #advance(row: OutboxRow, now: number): Promise<void> {
    if (row.state === 'committed' && now <= row.commitDeadline) return; // nothing to do before the reveal opens
    if (row.state === 'committing') {
      const seat = await this.#client.market.seats(row.jobId, this.address);
      if (seat.commitment !== '0x' + '00'.repeat(32)) {
        this.#outbox.setState(row.jobId, 'committed'); // sent before a crash: never send twice
      } else if (now >= row.commitDeadline) {
        this.#outbox.setState(row.jobId, 'missed', 'commit deadline passed');
        this.#log(`job ${row.jobId}: missed the commit deadline`);
        return;
      } else {
        await this.#client.commit(row.jobId, row.outputHash!, row.traceRoot!, row.salt!);
        this.#outbox.setState(row.jobId, 'committed');
        this.#log(`job ${row.jobId}: committed`);
      }
      return;
    }
    if (row.state === 'committed') {
      const seat = await this.#client.market.seats(row.jobId, this.address);
      if (seat.revealed) {
        this.#outbox.setState(row.jobId, 'revealed');
      } else if (now > row.revealDeadline) {
        this.#outbox.setState(row.jobId, 'missed', 'reveal deadline passed');
        this.#log(`job ${row.jobId}: missed the reveal deadline`);
      } else {
        await this.#client.reveal(row.jobId, row.outputHash!, row.traceRoot!, row.salt!);
        this.#outbox.setState(row.jobId, 'revealed');
        this.#log(`job ${row.jobId}: revealed`);
      }
      return;
    }
    if (row.state === 'revealed') {
      const job = await this.#client.getJob(row.jobId);
      if (job.state !== JobState.Open) {
        this.#outbox.setState(row.jobId, 'finalized');
        this.#log(`job ${row.jobId}: settled (${JobState[job.state]})`);
        return;
      }
      if (now <= row.revealDeadline) {
        // Early settlement is allowed once every seat has revealed.
        const seats = await Promise.all(job.seats.map((s) => this.#client.market.seats(row.jobId, s)));
        if (!seats.every((s) => s.revealed)) return;
      }
      try {
        await this.#client.finalize(row.jobId);
        this.#log(`job ${row.jobId}: finalised`);
      } catch (err) {
        if (!(err instanceof ChainRevertError && (err.revert.name === 'JobNotOpen' || err.revert.name === 'TooEarly'))) throw err;
      }
    }
  }
}

async function findModels(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await findModels(path)));
    else if (entry.name.endsWith('.onnx')) out.push(path);
  }
  return out;
}
