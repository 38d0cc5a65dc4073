#!/usr/bin/env node
// npm run bench:chain [-- --json FILE]
// Gas per contract call (register, stake, post, commit, reveal, finalise) and the end-to-end time
// of one job on a local anvil: post, three executors run the bundled MNIST model and commit,
// reveal after the commit deadline, finalise.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JsonRpcProvider, Wallet, parseEther, hexlify, randomBytes } from 'ethers';
import { ChainClient, deployContracts, hashModelBytes, loadModel, readTensorFile, startAnvil } from '../dist/index.js';
import { root, jsonOut } from './options.mjs';

const anvil = await startAnvil();
const provider = new JsonRpcProvider(anvil.rpcUrl, undefined, { cacheTimeout: -1 });
const gas = {};
const note = (name, r) => (gas[name] ??= []).push(Number(r.gasUsed));
try {
  const deployment = await deployContracts(new Wallet(anvil.privateKeys[0], provider), { minStake: parseEther('1'), unbondingDelay: 3600, slashBps: 5000, noRevealBps: 2000 });
  const requester = await ChainClient.connect(anvil.rpcUrl, anvil.privateKeys[0], deployment);
  const executors = await Promise.all([1, 2, 3].map((i) => ChainClient.connect(anvil.rpcUrl, anvil.privateKeys[i], deployment)));
  const modelFile = join(root, 'models', 'mnist-8-int8', 'model.onnx');
  const modelHash = hashModelBytes(readFileSync(modelFile));
  note('register model', await requester.registerModel(modelHash, `file://${modelFile}`));
  for (const e of executors) note('stake (first)', await e.stake(parseEther('1')));
  const input = await readTensorFile(join(root, 'models', 'mnist-8-int8', 'digit-2.pb'));
  const models = await Promise.all(executors.map(() => loadModel(modelFile, { threads: 1 })));
  const times = [];
  for (let round = 0; round < 3; round++) {
    const start = performance.now();
    const now = await requester.chainTime();
    const posted = await requester.postJob({ modelHash, inputHash: '0x' + '11'.repeat(32), inputURI: 'file:///digit-2.pb', quorum: 2, seats: 3, commitDeadline: now + 30, revealDeadline: now + 60, fee: parseEther('0.01') });
    note('post job (3 seats)', posted);
    const salts = [];
    for (const [i, e] of executors.entries()) {
      const r = await models[i].run({ Input3: input }, { trace: true });
      salts.push({ salt: hexlify(randomBytes(32)), out: r.outputHash, root: r.traceRoot });
      note('commit', await e.commit(posted.jobId, r.outputHash, r.traceRoot, salts[i].salt));
    }
    await provider.send('evm_increaseTime', [31]);
    await provider.send('evm_mine', []);
    for (const [i, e] of executors.entries()) note('reveal', await e.reveal(posted.jobId, salts[i].out, salts[i].root, salts[i].salt));
    note('finalize (3 matching)', await requester.finalize(posted.jobId));
    times.push(performance.now() - start);
  }
  for (const e of executors) note('withdraw', await e.withdraw());
  const rows = Object.entries(gas).map(([name, v]) => ({ call: name, gas: Math.round(v.reduce((a, b) => a + b, 0) / v.length), samples: v.length }));
  times.sort((a, b) => a - b);
  const lines = [
    `bitexact chain — JobMarket/ModelRegistry on anvil ${anvil.rpcUrl.replace(/:\d+$/, '')} (solc 0.8.37, optimizer 200 runs, via-IR, evm cancun)`,
    '',
    '| call | gas (mean) | samples |',
    '|---|---|---|',
    ...rows.map((r) => `| ${r.call} | ${r.gas} | ${r.samples} |`),
    '',
    `End-to-end job on anvil (post, 3 executors run MNIST traced and commit, reveal, finalise; deadlines advanced with evm_increaseTime): median ${times[1].toFixed(0)} ms of 3.`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ gas: rows, endToEndMs: times }, null, 2) + '\n');
  for (const c of [requester, ...executors]) c.destroy();
  for (const m of models) m.dispose();
} finally {
  provider.destroy();
  await anvil.stop();
}
