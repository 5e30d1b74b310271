#!/usr/bin/env node
// Load test of `supra serve` (not a CI test): starts the built server on a free port, then for
// each client count runs streaming completions from that many concurrent clients (each sends
// --requests-per-client in a row) and reports, per count, the aggregate streamed tokens per
// second and the time to first token; then the time to first token of a long prompt without
// and with its prefix cached, errors and the server's RSS.
//
//   node bench/serve_load.mjs [--cli build/tools/supra/supra] [--model DIR] [--clients-list 1,8,32]
//                             [--requests-per-client 2] [--max-tokens 32] [--parallel N]
//                             [--long-prompt 1000] [--threads N] [--json]
//
// --model: a model folder (default: the model shipped with supra). A folder written by
//   `supra quantize --synthetic ...` has no tokenizer: copy one of the same vocabulary in, e.g.
//   tests/data/tokenizer/mistral-7b-v0.1.model (32000 ids) as DIR/tokenizer.model.
// --parallel: the server's batch (default: the largest client count, so every client runs).
// --long-prompt: tokens of the long prompt (0: skip that measurement).
// Prints a table (or, with --json, one JSON object). Uses only Node's standard library.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, a, i, all) => {
    if (!a.startsWith('--')) return pairs;
    const value = all[i + 1] === undefined || all[i + 1].startsWith('--') ? 'true' : all[i + 1];
    return [...pairs, [a.slice(2), value]];
  }, []));
const known = ['cli', 'model', 'clients-list', 'requests-per-client', 'max-tokens', 'parallel', 'long-prompt', 'threads', 'json'];
for (const k of Object.keys(args)) if (!known.includes(k)) fail(`unknown option --${k} (known: ${known.map((n) => '--' + n).join(' ')})`);

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(1);
}
function positive(name, fallback, min = 1) {
  const v = Number(args[name] ?? fallback);
  if (!Number.isInteger(v) || v < min) fail(`--${name} must be an integer >= ${min}, not '${args[name]}'`);
  return v;
}

const cli = args.cli ?? 'build/tools/supra/supra';
const clientsList = (args['clients-list'] ?? '1,8,32').split(',').map((s) => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) fail(`--clients-list takes positive integers separated by commas, not '${args['clients-list']}'`);
  return n;
});
const perClient = positive('requests-per-client', 2);
const maxTokens = positive('max-tokens', 32);
const parallel = positive('parallel', Math.max(...clientsList));
const longPrompt = positive('long-prompt', 1000, 0);
const asJson = args.json === 'true';

const serverArgs = ['serve', '--port', '0', '--parallel', String(parallel), '--queue', String(Math.max(...clientsList) * 2)];
if (args.model) serverArgs.push('--model', args.model);
if (args.threads) serverArgs.push('--threads', args.threads);
const server = spawn(cli, serverArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
const port = await new Promise((resolve, reject) => {
  let err = '';
  server.stderr.on('data', (c) => {
    err += c;
    const m = /listening on http:\/\/[^:]+:(\d+)/.exec(err);
    if (m) resolve(Number(m[1]));
  });
  server.on('error', (e) => reject(new Error(`cannot start ${cli}: ${e.message}`)));
  server.on('exit', (code) => reject(new Error(`server exited (${code}): ${err.trim()}`)));
}).catch((e) => fail(e.message));
const base = `http://127.0.0.1:${port}`;
const rssMiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))[1]) / 1024;

// One streamed completion: {ttft (s, until the first token's chunk), tokens (chunks carrying a
// token, i.e. all but the last one with finish_reason)}, or throws.
async function streamOne(body) {
  const start = performance.now();
  const res = await fetch(`${base}/v1/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }) });
  if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`);
  let ttft = null, text = '';
  const decoder = new TextDecoder();
  for await (const part of res.body) {
    text += decoder.decode(part, { stream: true });
    if (ttft === null && text.includes('data: {')) ttft = (performance.now() - start) / 1000;
  }
  if (!text.trimEnd().endsWith('data: [DONE]')) throw new Error('stream did not end with [DONE]');
  let tokens = 0;
  for (const event of text.split('\n\n'))
    if (event.startsWith('data: {') && JSON.parse(event.slice(6)).choices[0].finish_reason === null) tokens++;
  return { ttft, tokens };
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const prompts = ['Once upon a time', 'Lily and Tom', 'The little dog', 'One day, a girl'];
let errors = 0;

// Warm-up: one request (page in the weights, start the threads).
await streamOne({ prompt: prompts[0], max_tokens: 2, temperature: 0 });
const rssStart = rssMiB();

const runs = [];
for (const clients of clientsList) {
  let tokens = 0, seed = 0;
  const ttfts = [];
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    for (let k = 0; k < perClient; ++k) {
      const i = seed++;
      try {
        const r = await streamOne({ prompt: prompts[(c + k) % prompts.length], max_tokens: maxTokens, temperature: 0.8, seed: i });
        tokens += r.tokens;
        ttfts.push(r.ttft);
      } catch (e) {
        errors++;
        console.error(String(e));
      }
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  ttfts.sort((a, b) => a - b);
  runs.push({
    clients, requests: clients * perClient, tokens, seconds: +seconds.toFixed(2),
    tokens_per_s: +(tokens / seconds).toFixed(1),
    ttft_s: { p50: +quantile(ttfts, 0.5).toFixed(3), p90: +quantile(ttfts, 0.9).toFixed(3), max: +ttfts[ttfts.length - 1].toFixed(3) },
  });
}
const rssEnd = rssMiB();

// Time to first token of a long prompt on the idle server: cold (a fresh prefix), then with
// all but its last token cached.
let longTtft = null;
if (longPrompt > 0) {
  const long = Array.from({ length: longPrompt }, (_, i) => 20 + ((i * 7919) % 480));
  const cold = (await streamOne({ prompt: [1, ...long], max_tokens: 1, temperature: 0 })).ttft;
  const warm = (await streamOne({ prompt: [1, ...long, 30], max_tokens: 1, temperature: 0 })).ttft;
  longTtft = { tokens: longPrompt + 1, uncached: +cold.toFixed(3), cached_prefix: +warm.toFixed(3) };
}
server.kill('SIGTERM');

const result = {
  model: args.model ?? '(shipped)', max_tokens: maxTokens, requests_per_client: perClient, parallel, errors, runs,
  ttft_long_prompt_s: longTtft, rss_mib: { after_warmup: +rssStart.toFixed(1), end: +rssEnd.toFixed(1) },
};
if (asJson) {
  console.log(JSON.stringify(result, null, 2));
} else {
  console.log(`model ${result.model}, --parallel ${parallel}, ${perClient} requests per client of ${maxTokens} tokens, errors ${errors}`);
  console.log('| clients | requests | tokens | seconds | aggregate tok/s | TTFT p50 s | TTFT p90 s | TTFT max s |');
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of runs)
    console.log(`| ${r.clients} | ${r.requests} | ${r.tokens} | ${r.seconds} | ${r.tokens_per_s} | ${r.ttft_s.p50} | ${r.ttft_s.p90} | ${r.ttft_s.max} |`);
  if (longTtft)
    console.log(`long prompt (${longTtft.tokens} tokens) TTFT: ${longTtft.uncached} s uncached, ${longTtft.cached_prefix} s with its prefix cached`);
  console.log(`RSS ${result.rss_mib.after_warmup} MiB after warm-up, ${result.rss_mib.end} MiB at the end`);
}
process.exit(errors === 0 ? 0 : 1);
