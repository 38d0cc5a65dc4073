// The contracts on a real EVM node (anvil on 127.0.0.1), through the ethers client: every revert
// path, and fee/slash arithmetic where balances add up to the wei.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { JsonRpcProvider, Wallet, keccak256, toUtf8Bytes, parseEther } from 'ethers';
import { ChainClient, ChainRevertError, JobState, deployContracts, startAnvil, type Anvil, type Deployment } from '../src/index.js';

const MIN_STAKE = parseEther('1');
const SLASH_BPS = 5000;
const NO_REVEAL_BPS = 2000;
const UNBONDING = 100;

const h = (s: string) => keccak256(toUtf8Bytes(s));

async function reverts(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ChainRevertError) return err.revert.name;
    throw err;
  }
  throw new Error('expected a revert');
}

describe('contracts on anvil', () => {
  let anvil: Anvil;
  let deployment: Deployment;
  let provider: JsonRpcProvider;
  let requester: ChainClient;
  let owner: ChainClient;
  let ex: ChainClient[]; // executors
  let outsider: ChainClient;
  const modelHash = h('model-1');

  async function advance(seconds: number) {
    await provider.send('evm_increaseTime', [seconds]);
    await provider.send('evm_mine', []);
  }

  /** Ether held by the market must equal every stake plus every withdrawable balance. */
  async function expectSolvent(accounts: string[]) {
    const held = await provider.getBalance(deployment.market);
    let owed = 0n;
    for (const a of accounts) owed += (await requester.executor(a)).stake + (await requester.balanceOf(a));
    expect(held).toBe(owed);
  }

  async function post(fee: bigint, seats = 3, quorum = 2) {
    const now = await requester.chainTime();
    return requester.postJob({ modelHash, inputHash: h('input'), inputURI: 'file:///in.json', quorum, seats, commitDeadline: now + 60, revealDeadline: now + 120, fee });
  }

  beforeAll(async () => {
    anvil = await startAnvil();
    provider = new JsonRpcProvider(anvil.rpcUrl, undefined, { cacheTimeout: -1 });
    deployment = await deployContracts(new Wallet(anvil.privateKeys[0], provider), {
      minStake: MIN_STAKE,
      unbondingDelay: UNBONDING,
      slashBps: SLASH_BPS,
      noRevealBps: NO_REVEAL_BPS,
    });
    requester = await ChainClient.connect(anvil.rpcUrl, anvil.privateKeys[0], deployment);
    owner = await ChainClient.connect(anvil.rpcUrl, anvil.privateKeys[5], deployment);
    ex = await Promise.all([1, 2, 3].map((i) => ChainClient.connect(anvil.rpcUrl, anvil.privateKeys[i], deployment)));
    outsider = await ChainClient.connect(anvil.rpcUrl, anvil.privateKeys[6], deployment);
  }, 60_000);
  afterAll(async () => {
    for (const c of [requester, owner, outsider, ...(ex ?? [])]) c?.destroy();
    provider?.destroy();
    await anvil?.stop();
  });

  it('registers models once, by their hash', async () => {
    await owner.registerModel(modelHash, 'file:///models/m.onnx');
    expect(await owner.isModelRegistered(modelHash)).toBe(true);
    expect(await reverts(outsider.registerModel(modelHash, 'x'))).toBe('ModelAlreadyRegistered');
    expect(await reverts(owner.registerModel('0x' + '00'.repeat(32), 'x'))).toBe('ZeroModelHash');
  });

  it('refuses too small a stake, jobs on unknown models, bad quorums, deadlines and fees', async () => {
    expect(await reverts(ex[0].stake(MIN_STAKE - 1n))).toBe('InsufficientStake');
    for (const e of ex) await e.stake(MIN_STAKE);
    await ex[2].stake(parseEther('5')); // a bigger stake buys no extra seats, just more at risk
    const now = await requester.chainTime();
    const job = { modelHash, inputHash: h('input'), inputURI: 'file:///in.json', quorum: 2, seats: 3, commitDeadline: now + 60, revealDeadline: now + 120, fee: 1000n };
    expect(await reverts(requester.postJob({ ...job, modelHash: h('nope') }))).toBe('UnknownModel');
    expect(await reverts(requester.postJob({ ...job, fee: 0n }))).toBe('ZeroFee');
    expect(await reverts(requester.postJob({ ...job, quorum: 1 }))).toBe('BadQuorum'); // not a strict majority
    expect(await reverts(requester.postJob({ ...job, quorum: 4 }))).toBe('BadQuorum');
    expect(await reverts(requester.postJob({ ...job, seats: 0, quorum: 0 }))).toBe('BadQuorum');
    expect(await reverts(requester.postJob({ ...job, commitDeadline: now - 1 }))).toBe('BadDeadlines');
    expect(await reverts(requester.postJob({ ...job, revealDeadline: now + 60 }))).toBe('BadDeadlines');
    expect(await reverts(requester.postJob({ ...job, seats: 5, quorum: 3 }))).toBe('NotEnoughExecutors');
  });

  it('commit-reveal: every revert path, then the majority is paid and the dissenter slashed to the wei', async () => {
    const fee = parseEther('0.3') + 1n; // odd, so the split leaves dust
    const { jobId, seats } = await post(fee);
    expect([...seats].sort()).toEqual(ex.map((e) => e.address).sort()); // 3 executors, 3 seats, one each
    const salt = (i: number) => h(`salt-${i}`);
    const good = { out: h('output'), root: h('root') };

    expect(await reverts(outsider.commit(jobId, good.out, good.root, salt(9)))).toBe('NotSeated');
    await ex[0].commit(jobId, good.out, good.root, salt(0));
    expect(await reverts(ex[0].commit(jobId, good.out, good.root, salt(0)))).toBe('AlreadyCommitted');
    await ex[1].commit(jobId, good.out, good.root, salt(1));
    await ex[2].commit(jobId, h('tampered'), good.root, salt(2));
    expect(await reverts(ex[0].reveal(jobId, good.out, good.root, salt(0)))).toBe('RevealNotOpen');
    expect(await reverts(requester.finalize(jobId))).toBe('TooEarly');

    await advance(61);
    expect(await reverts(outsider.commit(jobId, good.out, good.root, salt(9)))).toBe('CommitClosed');
    expect(await reverts(ex[0].reveal(jobId, good.out, good.root, salt(7)))).toBe('CommitmentMismatch');
    expect(await reverts(ex[0].reveal(jobId, h('other'), good.root, salt(0)))).toBe('CommitmentMismatch');
    expect(await reverts(outsider.reveal(jobId, good.out, good.root, salt(9)))).toBe('NotSeated');
    await ex[0].reveal(jobId, good.out, good.root, salt(0));
    expect(await reverts(ex[0].reveal(jobId, good.out, good.root, salt(0)))).toBe('AlreadyRevealed');
    await ex[1].reveal(jobId, good.out, good.root, salt(1));
    await ex[2].reveal(jobId, h('tampered'), good.root, salt(2));

    const stakeBefore = (await ex[2].executor(ex[2].address)).stake;
    const requesterBefore = await requester.balanceOf(requester.address);
    await requester.finalize(jobId); // everyone revealed: no need to wait for the reveal deadline
    expect(await reverts(requester.finalize(jobId))).toBe('JobNotOpen');

    const slashed = (stakeBefore * BigInt(SLASH_BPS)) / 10_000n;
    const pot = fee + slashed;
    const share = pot / 2n;
    expect((await ex[2].executor(ex[2].address)).stake).toBe(stakeBefore - slashed);
    expect(await requester.balanceOf(ex[0].address)).toBe(share);
    expect(await requester.balanceOf(ex[1].address)).toBe(share);
    expect(await requester.balanceOf(requester.address)).toBe(requesterBefore + (pot - share * 2n));
    const job = await requester.getJob(jobId);
    expect([job.state, job.outputHash, job.traceRoot]).toEqual([JobState.Finalized, good.out, good.root]);
    await expectSolvent([requester.address, ...ex.map((e) => e.address)]);
  });

  it('a committer who never reveals loses noRevealBps; a late reveal is refused', async () => {
    const fee = 1_000_003n;
    const { jobId } = await post(fee);
    const out = h('o2');
    const root = h('r2');
    for (const [i, e] of ex.entries()) await e.commit(jobId, out, root, h(`s${i}`));
    await advance(61);
    await ex[0].reveal(jobId, out, root, h('s0'));
    await ex[1].reveal(jobId, out, root, h('s1'));
    expect(await reverts(requester.finalize(jobId))).toBe('TooEarly'); // ex[2] may still reveal
    await advance(60);
    expect(await reverts(ex[2].reveal(jobId, out, root, h('s2')))).toBe('RevealClosed');
    const before = await Promise.all(ex.map((e) => requester.balanceOf(e.address)));
    const stake2 = (await requester.executor(ex[2].address)).stake;
    await requester.finalize(jobId);
    const forfeit = (stake2 * BigInt(NO_REVEAL_BPS)) / 10_000n;
    const share = (fee + forfeit) / 2n;
    expect((await requester.executor(ex[2].address)).stake).toBe(stake2 - forfeit);
    expect((await requester.balanceOf(ex[0].address)) - before[0]).toBe(share);
    expect((await requester.balanceOf(ex[1].address)) - before[1]).toBe(share);
    await expectSolvent([requester.address, ...ex.map((e) => e.address)]);
  });

  it('no quorum: the fee goes back to the requester and nobody who revealed is slashed', async () => {
    const fee = 777n;
    const { jobId } = await post(fee);
    for (const [i, e] of ex.entries()) await e.commit(jobId, h(`different-${i}`), h('r'), h(`s${i}`));
    await advance(61);
    for (const [i, e] of ex.entries()) await e.reveal(jobId, h(`different-${i}`), h('r'), h(`s${i}`));
    const stakes = await Promise.all(ex.map((e) => requester.executor(e.address).then((x) => x.stake)));
    const before = await requester.balanceOf(requester.address);
    await requester.finalize(jobId);
    expect((await requester.getJob(jobId)).state).toBe(JobState.Refunded);
    expect((await requester.balanceOf(requester.address)) - before).toBe(fee);
    expect(await Promise.all(ex.map((e) => requester.executor(e.address).then((x) => x.stake)))).toEqual(stakes);
  });

  it('unbonding: no seats meanwhile, no withdrawal before the delay or with a seat open, then pull the ether', async () => {
    const { jobId } = await post(5n); // ex[2] holds a seat until this job is settled
    expect(await reverts(ex[2].withdrawStake())).toBe('NotUnbonding');
    await ex[2].requestUnbonding();
    expect(await reverts(ex[2].requestUnbonding())).toBe('AlreadyUnbonding');
    expect(await reverts(ex[2].stake(MIN_STAKE))).toBe('ExecutorUnbonding');
    expect(await reverts(post(5n))).toBe('NotEnoughExecutors'); // an unbonding executor takes no seats
    expect(await reverts(ex[2].withdrawStake())).toBe('StillUnbonding');
    await advance(UNBONDING + 1);
    expect(await reverts(ex[2].withdrawStake())).toBe('SeatsStillOpen');
    await advance(20); // past the job's reveal deadline
    await requester.finalize(jobId); // nobody committed: refunded
    const stake = (await requester.executor(ex[2].address)).stake;
    await ex[2].withdrawStake();
    expect(await requester.balanceOf(ex[2].address)).toBeGreaterThanOrEqual(stake);
    const owed = await requester.balanceOf(ex[2].address);
    const walletBefore = await provider.getBalance(ex[2].address);
    const tx = await ex[2].withdraw();
    const gasPrice = (await provider.getTransactionReceipt(tx.hash))!.gasPrice;
    expect(await provider.getBalance(ex[2].address)).toBe(walletBefore + owed - tx.gasUsed * gasPrice);
    expect(await reverts(ex[2].withdraw())).toBe('NothingToWithdraw');
    expect(await reverts(outsider.requestUnbonding())).toBe('NotExecutor');
    await expectSolvent([requester.address, ...ex.map((e) => e.address)]);
  });

  it('seats are drawn with equal chance regardless of stake, one per address', async () => {
    const pool = await Promise.all([6, 7, 8, 9].map((i) => ChainClient.connect(anvil.rpcUrl, anvil.privateKeys[i], deployment)));
    await pool[0].stake(parseEther('100')); // a whale
    for (const p of pool.slice(1)) await p.stake(MIN_STAKE);
    const counts = new Map<string, number>();
    const jobs = 120;
    for (let i = 0; i < jobs; i++) {
      const { seats } = await post(1n, 1, 1);
      counts.set(seats[0], (counts.get(seats[0]) ?? 0) + 1);
    }
    const { seats } = await post(1n, 5, 3);
    expect(new Set(seats).size).toBe(5); // one seat per address
    // 6 eligible executors (ex[0], ex[1] and the pool): each expected 20 of 120; the whale is no
    // favourite (drawn by stake it would take ~110). The seed (prevrandao, block hash) changes from
    // run to run, so the bounds are set where an honest draw breaks them once in ~20 000 runs:
    // P(whale > 38) ~ 2e-5, P(some executor < 5) ~ 3e-5 (binomial, n = 120, p = 1/6).
    const whale = counts.get(pool[0].address) ?? 0;
    expect(whale).toBeLessThanOrEqual(38);
    for (const a of [...pool.map((p) => p.address), ex[0].address, ex[1].address]) expect(counts.get(a) ?? 0).toBeGreaterThanOrEqual(5);
    for (const p of pool) p.destroy();
  }, 120_000);
});
