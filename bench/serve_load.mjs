#!/usr/bin/env node
// Load test of `supra serve` (not a CI test): starts the built server on a free port with the
// shipped model, then runs a bounded number of streaming completions from N concurrent
// clients and reports errors, throughput, the server's RSS before and after warm-up, and
// time to first token for a long prompt without and with its prefix cached.
//
//   node bench/serve_load.mjs [--cli build/tools/supra/supra] [--clients 32] [--requests 320]
//                             [--max-tokens 64] [--parallel 8]
// Uses only Node's standard library (fetch, child_process).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, a, i, all) => (a.startsWith('--') ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []));
const cli = args.cli ?? 'build/tools/supra/supra';
const clients = Number(args.clients ?? 32);
const requests = Number(args.requests ?? 320);
const maxTokens = Number(args['max-tokens'] ?? 64);
const parallel = Number(args.parallel ?? 8);

const server = spawn(cli, ['serve', '--port', '0', '--parallel', String(parallel), '--queue', String(clients * 2)],
  { stdio: ['ignore', 'ignore', 'pipe'] });
const port = await new Promise((resolve, reject) => {
  let err = '';
  server.stderr.on('data', (c) => {
    err += c;
    const m = /listening on http:\/\/[^:]+:(\d+)/.exec(err);
    if (m) resolve(Number(m[1]));
  });
  server.on('exit', (code) => reject(new Error(`server exited (${code}): ${err}`)));
});
const base = `http://127.0.0.1:${port}`;
const rssMiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))[1]) / 1024;

// One streamed completion; resolves to {ttft, tokens} in seconds / chunks, or throws.
async function streamOne(body) {
  const start = performance.now();
  const res = await fetch(`${base}/v1/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }) });
  if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`);
  let ttft = null, chunks = 0, text = '';
  const decoder = new TextDecoder();
  for await (const part of res.body) {
    if (ttft === null) ttft = (performance.now() - start) / 1000;
    text += decoder.decode(part, { stream: true });
  }
  for (const line of text.split('\n\n')) if (line.startsWith('data: {')) chunks++;
  if (!text.trimEnd().endsWith('data: [DONE]')) throw new Error('stream did not end with [DONE]');
  return { ttft, chunks };
}

const prompts = ['Once upon a time', 'Lily and Tom', 'The little dog', 'One day, a girl'];
const rssStart = rssMiB();
// Warm-up: one request per client.
await Promise.all(Array.from({ length: clients }, (_, i) =>
  streamOne({ prompt: prompts[i % prompts.length], max_tokens: maxTokens, temperature: 0.8, seed: i })));
const rssWarm = rssMiB();

let next = 0, errors = 0, chunks = 0;
const t0 = performance.now();
await Promise.all(Array.from({ length: clients }, async () => {
  while (next < requests) {
    const i = next++;
    try {
      // Await first: `chunks += await ...` would read `chunks` before the await and lose updates.
      const r = await streamOne({ prompt: prompts[i % prompts.length], max_tokens: maxTokens, temperature: 0.8, seed: i });
      chunks += r.chunks;
    } catch (e) {
      errors++;
      console.error(String(e));
    }
  }
}));
const seconds = (performance.now() - t0) / 1000;
const rssEnd = rssMiB();

// Time to first token for a long prompt (~1000 tokens): cold (a fresh prefix), then cached.
const long = Array.from({ length: 1000 }, (_, i) => 20 + ((i * 7919) % 480));
const cold = (await streamOne({ prompt: [1, ...long], max_tokens: 1, temperature: 0 })).ttft;
const warm = (await streamOne({ prompt: [1, ...long, 30], max_tokens: 1, temperature: 0 })).ttft;
const metrics = await (await fetch(`${base}/metrics`)).text();
server.kill('SIGTERM');

console.log(JSON.stringify({
  clients, requests, max_tokens: maxTokens, parallel, errors,
  seconds: +seconds.toFixed(2),
  requests_per_s: +(requests / seconds).toFixed(1),
  streamed_tokens_per_s: +(chunks / seconds).toFixed(1),
  rss_mib: { start: +rssStart.toFixed(1), after_warmup: +rssWarm.toFixed(1), end: +rssEnd.toFixed(1) },
  ttft_long_prompt_s: { uncached: +cold.toFixed(4), cached_prefix: +warm.toFixed(4) },
  cache_hits: Number(/supra_cache_hits_total (\d+)/.exec(metrics)[1]),
}, null, 2));
process.exit(errors === 0 ? 0 : 1);
