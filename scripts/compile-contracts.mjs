#!/usr/bin/env node
// Compiles contracts/*.sol with the solc npm package (no network) into dist/contracts/<Name>.json
// ({contractName, abi, bytecode, compiler}). Runs as part of the build (npm run build:contracts,
// and from `prepare`). Fails loudly on any compiler error or warning.
import { readdirSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import solc from 'solc';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const sourceDir = join(root, 'contracts');
const outDir = join(root, 'dist', 'contracts');
const sources = {};
for (const f of readdirSync(sourceDir).filter((f) => f.endsWith('.sol'))) sources[f] = { content: readFileSync(join(sourceDir, f), 'utf8') };

const input = {
  language: 'Solidity',
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    viaIR: true, // postJob's event carries more values than the legacy pipeline's stack reaches
    evmVersion: 'cancun',
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: (p) => (sources[p] ? { contents: sources[p].content } : { error: `not found: ${p}` }) }));
const problems = (output.errors ?? []).filter((e) => e.severity === 'error' || e.severity === 'warning');
if (problems.length > 0) {
  for (const e of problems) console.error(e.formattedMessage);
  process.exit(1);
}
mkdirSync(outDir, { recursive: true });
for (const [file, contracts] of Object.entries(output.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    const artifact = { contractName: name, source: `contracts/${file}`, compiler: `solc ${solc.version()}`, abi: c.abi, bytecode: '0x' + c.evm.bytecode.object };
    writeFileSync(join(outDir, `${name}.json`), JSON.stringify(artifact, null, 2) + '\n');
    console.log(`contracts: ${name} (${(c.evm.deployedBytecode.object.length / 2).toFixed(0)} bytes deployed)`);
  }
}
