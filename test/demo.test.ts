// `npm run demo` (the README's first command) on a fresh build: anvil, contracts, three executors
// of which one tampers, three real jobs; it must end with the OK verdict and exit 0.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

describe('npm run demo', () => {
  it('settles three real jobs: the honest majority paid, the tampering executor slashed', () => {
    const r = spawnSync(process.execPath, [resolve(__dirname, '..', 'scripts', 'demo.mjs')], { encoding: 'utf8', timeout: 90_000 });
    console.log(r.stdout.split('\n').filter((l) => l.startsWith('time') || l.startsWith('verdict')).join('\n'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^verdict +OK/m);
    expect(r.stdout.match(/^\| #\d+ \|/gm)).toHaveLength(3);
  }, 120_000);
});
