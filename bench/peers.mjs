// Float32 peers for the GEMM sweep: TensorFlow.js and gpu.js. The native TensorFlow.js backends
// (@tensorflow/tfjs-node, -gpu) download libtensorflow when installed, which fails on machines
// without that access: the bench reports them as absent. The pure-JS @tensorflow/tfjs and gpu.js
// (CPU mode) are devDependencies.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function tryImport(name) {
  try {
    require.resolve(name);
    return import(name);
  } catch {
    return null;
  }
}

/** Loads what is installed; `absent` says which peers are not, and why. */
export async function loadPeers() {
  const peers = { absent: [] };
  for (const native of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    const m = tryImport(native);
    if (m) {
      peers.tfjsNative = { name: native, tf: await m };
      break;
    }
    peers.absent.push(`${native}: not installed (its install downloads libtensorflow, which this machine cannot reach)`);
  }
  const tfjs = tryImport('@tensorflow/tfjs');
  if (tfjs) {
    // tfjs advertises tfjs-node on first use: once, here, silenced.
    const [log, warn] = [console.log, console.warn];
    console.log = console.warn = () => {};
    try {
      peers.tfjs = await tfjs;
      await peers.tfjs.setBackend('cpu');
      peers.tfjs.matMul(peers.tfjs.ones([2, 2]), peers.tfjs.ones([2, 2])).dispose();
    } finally {
      [console.log, console.warn] = [log, warn];
    }
  } else {
    peers.absent.push('@tensorflow/tfjs: not installed (npm ci installs it as a devDependency)');
  }
  const gpujs = tryImport('gpu.js');
  if (gpujs) peers.gpujs = (await gpujs).default;
  else peers.absent.push('gpu.js: not installed (npm ci installs it as a devDependency)');
  return peers;
}

/** Float32 matrices of small integers (so exact results are known) as row-major arrays. */
function operands(n, k, seed = 7) {
  let s = seed;
  const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) % 255) - 127;
  const a = Float32Array.from({ length: n * k }, next);
  const b = Float32Array.from({ length: k * n }, next);
  return { a, b };
}

/** Median ms of fn over a few runs after one warm-up. */
async function median(fn, runs) {
  await fn();
  const t = [];
  for (let i = 0; i < runs; ++i) {
    const s = performance.now();
    await fn();
    t.push(performance.now() - s);
  }
  t.sort((x, y) => x - y);
  return t[t.length >> 1];
}

/** GOPS of an n x n x n float32 GEMM through each available peer. */
export async function peerGemm(peers, n, runs) {
  const { a, b } = operands(n, n);
  const ops = 2 * n * n * n;
  const row = {};
  for (const [label, tf] of [['tfjs', peers.tfjs], ['tfjsNative', peers.tfjsNative?.tf]]) {
    if (!tf) continue;
    const ta = tf.tensor2d(a, [n, n]), tb = tf.tensor2d(b, [n, n]);
    row[`${label}Gops`] = ops / (await median(async () => { const c = tf.matMul(ta, tb); await c.data(); c.dispose(); }, runs)) / 1e6;
    ta.dispose();
    tb.dispose();
  }
  if (peers.gpujs) {
    const gpu = new peers.gpujs.GPU({ mode: 'cpu' });
    const kernel = gpu.createKernel(function (x, y) {
      let s = 0;
      for (let i = 0; i < this.constants.n; i++) s += x[this.thread.y * this.constants.n + i] * y[i * this.constants.n + this.thread.x];
      return s;
    }).setOutput([n, n]).setConstants({ n });
    row.gpujsGops = ops / (await median(() => kernel(a, b), runs)) / 1e6;
    gpu.destroy();
  }
  return row;
}

/**
 * Why bitexact does not compute in float: a dot product of K int8 pairs is an integer up to
 * 127·127·K, and float32 holds integers exactly only up to 2^24 (K = 1040). For growing K, the
 * largest error of a float32 accumulation (what a float engine on a GPU does) and of the float32
 * result each peer returns, against the exact integer sums.
 */
export async function float32Exactness(peers) {
  const rows = [];
  for (const k of [1024, 1040, 1041, 1043, 2048, 8192, 65536]) {
    const n = 4;  // four outputs are enough to show it
    // The largest products: every sum is 16129 K, past 2^24 from K = 1041 on.
    const a = new Float32Array(n * k).fill(127), b = new Float32Array(k * n).fill(127);
    const exact = [], float32 = [];
    for (let r = 0; r < n; ++r) {
      for (let c = 0; c < n; ++c) {
        let e = 0, f = 0;
        for (let i = 0; i < k; ++i) {
          e += a[r * k + i] * b[i * n + c];
          f = Math.fround(f + Math.fround(a[r * k + i] * b[i * n + c]));
        }
        exact.push(e);
        float32.push(f);
      }
    }
    const row = { k, maxExact: Math.max(...exact.map(Math.abs)), float32AccumulationError: Math.max(...exact.map((e, i) => Math.abs(e - float32[i]))) };
    if (peers.tfjs) {
      const c = await peers.tfjs.matMul(peers.tfjs.tensor2d(a, [n, k]), peers.tfjs.tensor2d(b, [k, n])).data();
      row.tfjsError = Math.max(...exact.map((e, i) => Math.abs(e - c[i])));
    }
    if (peers.gpujs) {
      const gpu = new peers.gpujs.GPU({ mode: 'cpu' });
      const kernel = gpu.createKernel(function (x, y) {
        let s = 0;
        for (let i = 0; i < this.constants.k; i++) s += x[this.thread.y * this.constants.k + i] * y[i * this.constants.n + this.thread.x];
        return s;
      }).setOutput([n, n]).setConstants({ n, k });
      const out = kernel(a, b);
      row.gpujsError = Math.max(...exact.map((e, i) => Math.abs(e - out[Math.floor(i / n)][i % n])));
      gpu.destroy();
    }
    rows.push(row);
  }
  return rows;
}
