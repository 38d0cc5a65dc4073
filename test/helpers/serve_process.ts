// Starts `bitexact serve` as a child process on 127.0.0.1 (a free port), the way a runner does,
// and stops it. Used by the load and crash tests, which need the server in its own process.
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { resolve } from 'node:path';

const CLI = resolve(__dirname, '..', '..', 'dist', 'cli', 'main.js');

export interface ServeProcess {
  url: string;
  child: ChildProcess;
  /** SIGTERM and wait for a clean exit */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash */
  kill(): Promise<void>;
}

export function startServe(args: string[]): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return new Promise((resolvePromise, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = output.match(/listening on (http:\/\/\S+)/);
      if (m) {
        child.stdout!.off('data', onData);
        resolvePromise({
          url: m[1],
          child,
          stop: async () => {
            child.kill('SIGTERM');
            return exited;
          },
          kill: async () => {
            child.kill('SIGKILL');
            await exited;
          },
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exited.then((code) => reject(new Error(`serve exited (${code}) before listening:\n${output}`)));
  });
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
}

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const r = await fetch(url, { headers });
  return { status: r.status, body: await r.json() };
}

/** A gauge's value from Prometheus text (first sample of that name). */
export function metricValue(text: string, name: string): number {
  const m = text.match(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm'));
  if (!m) throw new Error(`metric ${name} not found`);
  return Number(m[1]);
}

/**
 * POSTs raw bytes with node:http and resolves on the response even when the server answers
 * before reading the whole body and closes the connection (as it does for a body over the limit).
 */
export function postRaw(url: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', (err) => {
      if (!req.destroyed || !(err as NodeJS.ErrnoException).code?.match(/EPIPE|ECONNRESET/)) reject(err);
    });
    req.end(body);
  });
}
