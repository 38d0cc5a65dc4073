// Typed ethers v6 client for the ModelRegistry and JobMarket contracts (contracts/*.sol, compiled
// into dist/contracts by scripts/compile-contracts.mjs). Transactions go through a NonceManager
// so back-to-back sends never reuse a nonce; each call waits for its receipt; reverts become
// ChainRevertError with the contract's custom error decoded; RPC hiccups are retried with backoff.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AbiCoder,
  Contract,
  ContractFactory,
  JsonRpcProvider,
  NonceManager,
  Wallet,
  keccak256,
  type ContractTransactionResponse,
  type InterfaceAbi,
  type Signer,
} from 'ethers';
import { BitexactError } from '../errors.js';
import { packageRoot } from '../native.js';

export interface Artifact {
  contractName: string;
  abi: InterfaceAbi;
  bytecode: string;
}

export function loadArtifact(name: 'ModelRegistry' | 'JobMarket'): Artifact {
  const path = join(packageRoot, 'dist', 'contracts', `${name}.json`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Artifact;
  } catch {
    throw new BitexactError('ERR_BITEXACT_CHAIN', `contract artifact ${path} is missing; run npm run build:contracts`);
  }
}

export interface MarketParams {
  /** wei an executor must keep staked to take seats */
  minStake: bigint;
  /** seconds between requestUnbonding and withdrawStake */
  unbondingDelay: number;
  /** basis points of stake a dissenting revealer loses */
  slashBps: number;
  /** basis points of stake a committed-but-silent executor loses */
  noRevealBps: number;
}

export interface Deployment {
  chainId: number;
  registry: string;
  market: string;
  params: { minStake: string; unbondingDelay: number; slashBps: number; noRevealBps: number };
  deployedAt: string;
}

export interface TxResult {
  hash: string;
  blockNumber: number;
  gasUsed: bigint;
}

export enum JobState {
  None = 0,
  Open = 1,
  Finalized = 2,
  Refunded = 3,
}

export interface ChainJob {
  jobId: bigint;
  requester: string;
  modelHash: string;
  inputHash: string;
  inputURI: string;
  fee: bigint;
  quorum: number;
  commitDeadline: number;
  revealDeadline: number;
  state: JobState;
  outputHash: string;
  traceRoot: string;
  seats: string[];
}

/** A transaction the contract refused: `revert.name` is its custom error (e.g. "NotSeated"). */
export class ChainRevertError extends BitexactError {
  constructor(
    readonly revert: { name: string; args: unknown[] },
    what: string,
  ) {
    super('ERR_BITEXACT_CHAIN_REVERT', `${what} reverted: ${revert.name}(${revert.args.map(String).join(', ')})`);
  }
}

/** Deploys ModelRegistry and JobMarket; returns what a client needs to connect. */
export async function deployContracts(signer: Signer, params: MarketParams): Promise<Deployment> {
  const sender = signer instanceof NonceManager ? signer : new NonceManager(signer);
  const registryArtifact = loadArtifact('ModelRegistry');
  const marketArtifact = loadArtifact('JobMarket');
  const registry = await new ContractFactory(registryArtifact.abi, registryArtifact.bytecode, sender).deploy();
  await registry.waitForDeployment();
  const market = await new ContractFactory(marketArtifact.abi, marketArtifact.bytecode, sender).deploy(
    await registry.getAddress(),
    params.minStake,
    params.unbondingDelay,
    params.slashBps,
    params.noRevealBps,
  );
  await market.waitForDeployment();
  const network = await sender.provider!.getNetwork();
  return {
    chainId: Number(network.chainId),
    registry: await registry.getAddress(),
    market: await market.getAddress(),
    params: { minStake: params.minStake.toString(), unbondingDelay: params.unbondingDelay, slashBps: params.slashBps, noRevealBps: params.noRevealBps },
    deployedAt: new Date().toISOString(),
  };
}

/** keccak256(abi.encode(jobId, outputHash, traceRoot, salt, executor)): what `commit` sends. */
export function commitmentOf(jobId: bigint, outputHash: string, traceRoot: string, salt: string, executor: string): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(['uint256', 'bytes32', 'bytes32', 'bytes32', 'address'], [jobId, outputHash, traceRoot, salt, executor]));
}

export interface ClientOptions {
  /** confirmations to wait for per transaction (default 1) */
  confirmations?: number;
  /** attempts for a call that fails with a transient RPC error (default 4) */
  attempts?: number;
}

export class ChainClient {
  readonly address: string;
  readonly registry: Contract;
  readonly market: Contract;
  readonly provider: JsonRpcProvider;
  readonly #signer: NonceManager;
  readonly #confirmations: number;
  readonly #attempts: number;

  private constructor(provider: JsonRpcProvider, signer: NonceManager, address: string, deployment: Deployment, options: ClientOptions) {
    this.provider = provider;
    this.#signer = signer;
    this.address = address;
    this.registry = new Contract(deployment.registry, loadArtifact('ModelRegistry').abi, signer);
    this.market = new Contract(deployment.market, loadArtifact('JobMarket').abi, signer);
    this.#confirmations = options.confirmations ?? 1;
    this.#attempts = options.attempts ?? 4;
  }

  /** Connects with a private key (never logged). `cacheTimeout: -1` so every nonce read is fresh. */
  static async connect(rpcUrl: string, privateKey: string, deployment: Deployment, options: ClientOptions = {}): Promise<ChainClient> {
    const provider = new JsonRpcProvider(rpcUrl, undefined, { cacheTimeout: -1, staticNetwork: true, pollingInterval: 100 });
    let wallet: Wallet;
    try {
      wallet = new Wallet(privateKey, provider);
    } catch {
      throw new BitexactError('ERR_BITEXACT_INPUT', 'the private key is not a valid 32-byte hex key');
    }
    return new ChainClient(provider, new NonceManager(wallet), wallet.address, deployment, options);
  }

  registerModel(modelHash: string, uri: string): Promise<TxResult> {
    return this.#send('ModelRegistry.register', () => this.registry.register(modelHash, uri));
  }

  stake(amount: bigint): Promise<TxResult> {
    return this.#send('JobMarket.stake', () => this.market.stake({ value: amount }));
  }

  requestUnbonding(): Promise<TxResult> {
    return this.#send('JobMarket.requestUnbonding', () => this.market.requestUnbonding());
  }

  withdrawStake(): Promise<TxResult> {
    return this.#send('JobMarket.withdrawStake', () => this.market.withdrawStake());
  }

  withdraw(): Promise<TxResult> {
    return this.#send('JobMarket.withdraw', () => this.market.withdraw());
  }

  async postJob(job: {
    modelHash: string;
    inputHash: string;
    inputURI: string;
    quorum: number;
    seats: number;
    commitDeadline: number;
    revealDeadline: number;
    fee: bigint;
  }): Promise<TxResult & { jobId: bigint; seats: string[] }> {
    const result = await this.#send('JobMarket.postJob', () =>
      this.market.postJob(job.modelHash, job.inputHash, job.inputURI, job.quorum, job.seats, job.commitDeadline, job.revealDeadline, { value: job.fee }),
    );
    const receipt = await this.provider.getTransactionReceipt(result.hash);
    for (const log of receipt?.logs ?? []) {
      const parsed = this.market.interface.parseLog(log);
      if (parsed?.name === 'JobPosted') return { ...result, jobId: parsed.args.jobId as bigint, seats: [...(parsed.args.seats as string[])] };
    }
    throw new BitexactError('ERR_BITEXACT_CHAIN', `postJob ${result.hash} emitted no JobPosted event`);
  }

  commit(jobId: bigint, outputHash: string, traceRoot: string, salt: string): Promise<TxResult> {
    const commitment = commitmentOf(jobId, outputHash, traceRoot, salt, this.address);
    return this.#send('JobMarket.commit', () => this.market.commit(jobId, commitment));
  }

  reveal(jobId: bigint, outputHash: string, traceRoot: string, salt: string): Promise<TxResult> {
    return this.#send('JobMarket.reveal', () => this.market.reveal(jobId, outputHash, traceRoot, salt));
  }

  finalize(jobId: bigint): Promise<TxResult> {
    return this.#send('JobMarket.finalize', () => this.market.finalize(jobId));
  }

  async getJob(jobId: bigint): Promise<ChainJob> {
    const j = await this.#read(() => this.market.getJob(jobId));
    return {
      jobId,
      requester: j.requester,
      modelHash: j.modelHash,
      inputHash: j.inputHash,
      inputURI: j.inputURI,
      fee: j.fee,
      quorum: Number(j.quorum),
      commitDeadline: Number(j.commitDeadline),
      revealDeadline: Number(j.revealDeadline),
      state: Number(j.state) as JobState,
      outputHash: j.outputHash,
      traceRoot: j.traceRoot,
      seats: [...j.seats],
    };
  }

  /** Withdrawable balance in the market (fees, refunds, forfeits, withdrawn stake), wei. */
  async balanceOf(account: string): Promise<bigint> {
    return this.#read(() => this.market.balances(account));
  }

  async executor(account: string): Promise<{ stake: bigint; unbondingEnds: number; activeSeats: number; known: boolean }> {
    const e = await this.#read(() => this.market.executors(account));
    return { stake: e.stake, unbondingEnds: Number(e.unbondingEnds), activeSeats: Number(e.activeSeats), known: e.known };
  }

  async isModelRegistered(modelHash: string): Promise<boolean> {
    return this.#read(() => this.registry.isRegistered(modelHash));
  }

  /** Block timestamp of the latest block (the clock deadlines are measured against). */
  async chainTime(): Promise<number> {
    const block = await this.#read(() => this.provider.getBlock('latest'));
    return block!.timestamp;
  }

  destroy(): void {
    this.provider.destroy();
  }

  async #send(what: string, send: () => Promise<ContractTransactionResponse>): Promise<TxResult> {
    for (let attempt = 1; ; attempt++) {
      let tx: ContractTransactionResponse;
      try {
        tx = await send();
      } catch (err) {
        // Not sent (refused at gas estimation, or the RPC failed): the nonce the manager handed
        // out was never used, and a gap would stall every later transaction. Take it back.
        this.#signer.reset();
        const revert = this.#decodeRevert(err);
        if (revert) throw new ChainRevertError(revert, what);
        // A nonce another process (or a restart) already used is refused before it is mined:
        // re-read the nonce and send again.
        if (!(isTransient(err) || isNonceClash(err)) || attempt >= this.#attempts) throw chainError(what, err);
        await backoff(attempt);
        continue;
      }
      const receipt = await tx.wait(this.#confirmations);
      if (!receipt || receipt.status !== 1) throw new BitexactError('ERR_BITEXACT_CHAIN', `${what}: transaction ${tx.hash} failed`);
      return { hash: tx.hash, blockNumber: receipt.blockNumber, gasUsed: receipt.gasUsed };
    }
  }

  async #read<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        if (!isTransient(err) || attempt >= this.#attempts) throw chainError('read', err);
        await backoff(attempt);
      }
    }
  }

  #decodeRevert(err: unknown): { name: string; args: unknown[] } | null {
    const e = err as { data?: string; info?: { error?: { data?: string } }; revert?: { name: string; args: unknown[] } };
    if (e?.revert?.name) return { name: e.revert.name, args: [...e.revert.args] };
    const data = e?.data ?? e?.info?.error?.data;
    if (typeof data !== 'string' || data.length < 10) return null;
    for (const contract of [this.market, this.registry]) {
      const parsed = contract.interface.parseError(data);
      if (parsed) return { name: parsed.name, args: [...parsed.args] };
    }
    return null;
  }
}

function isTransient(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return (
    e?.code === 'NETWORK_ERROR' ||
    e?.code === 'TIMEOUT' ||
    e?.code === 'SERVER_ERROR' ||
    /ECONNREFUSED|ECONNRESET|socket hang up|fetch failed/.test(e?.message ?? '')
  );
}

function isNonceClash(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === 'NONCE_EXPIRED' || code === 'REPLACEMENT_UNDERPRICED';
}

function chainError(what: string, err: unknown): BitexactError {
  return new BitexactError('ERR_BITEXACT_CHAIN', `${what}: ${(err as Error)?.message?.split('\n')[0] ?? String(err)}`);
}

function backoff(attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** (attempt - 1))));
}
