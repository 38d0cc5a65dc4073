#!/usr/bin/env node
// Builds the native addon at install time: cmake-js first (the primary build), node-gyp as the
// CPU-only fallback when cmake is missing or its build fails. Says which one it used.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const forced = process.env.BITEXACT_BUILD; // "cmake" | "gyp" (for testing the fallback)

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', shell: false });
  if (result.error) return { ok: false, why: result.error.message };
  return { ok: result.status === 0, why: `exit code ${result.status}` };
}

function hasCmake() {
  const probe = spawnSync('cmake', ['--version'], { stdio: 'ignore' });
  return !probe.error && probe.status === 0;
}

function cmakeBuild() {
  const cli = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  // The emulated AVX-512 kernel is for test builds only. cmake-js keeps an existing cache, so a
  // build folder configured for emulation is started afresh rather than shipped.
  const cache = path.join(root, 'build', 'CMakeCache.txt');
  if (fs.existsSync(cache) && fs.readFileSync(cache, 'utf8').includes('BITEXACT_EMULATE_AVX512:BOOL=ON')) {
    console.warn('bitexact: build/ was configured with the test-only AVX-512 emulation; reconfiguring');
    fs.rmSync(path.join(root, 'build'), { recursive: true, force: true });
  }
  return run(process.execPath, [cli, 'compile', '--out', 'build', '--config', 'Release', '--CDBITEXACT_EMULATE_AVX512=OFF']);
}

function gypBuild() {
  // Build against the headers of the running Node when they are installed beside it, so no
  // header download is needed (npm passes its own nodedir setting through the environment).
  const args = ['rebuild'];
  const localHeaders = path.resolve(process.execPath, '..', '..', 'include', 'node', 'node_api.h');
  if (!process.env.npm_config_nodedir && fs.existsSync(localHeaders)) {
    args.push(`--nodedir=${path.resolve(process.execPath, '..', '..')}`);
  }
  const bundled = process.env.npm_config_node_gyp;
  if (bundled && fs.existsSync(bundled)) return run(process.execPath, [bundled, ...args]);
  return run('node-gyp', args);
}

function main() {
  if (forced !== 'gyp') {
    if (!hasCmake()) {
      console.warn('bitexact: cmake not found; falling back to node-gyp (CPU-only build)');
    } else {
      const r = cmakeBuild();
      if (r.ok) {
        console.log('bitexact: native addon built with cmake-js (build/Release/bitexact.node)');
        return 0;
      }
      if (forced === 'cmake') {
        console.error(`bitexact: cmake-js build failed (${r.why})`);
        return 1;
      }
      console.warn(`bitexact: cmake-js build failed (${r.why}); falling back to node-gyp (CPU-only build)`);
    }
  }
  const g = gypBuild();
  if (g.ok) {
    console.log('bitexact: native addon built with node-gyp (build/Release/bitexact.node)');
    return 0;
  }
  console.error(`bitexact: node-gyp build failed too (${g.why}); a C++17 compiler and Python are required`);
  return 1;
}

process.exit(main());
