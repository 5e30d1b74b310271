// The official `openai` npm client against the built `supra serve`: completions, chat, and
// streaming of both. The server runs on a free port of 127.0.0.1 with the shipped model.
// Without the package (npm ci --prefix tests/serve/node) the suite fails saying so, unless
// SUPRA_SKIP_CLIENT_TESTS=1 asks to skip it: a test that cannot run must not pass.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

let OpenAI = null;
try {
  OpenAI = (await import('openai')).default;
} catch {
  OpenAI = null;
}
const optedOut = process.env.SUPRA_SKIP_CLIENT_TESTS === '1';
if (!OpenAI && !optedOut)
  throw new Error('the openai npm package is not installed: run npm ci --prefix tests/serve/node ' +
                  '(or set SUPRA_SKIP_CLIENT_TESTS=1 to skip this suite)');
const cli = process.env.SUPRA_CLI;
if (!cli) throw new Error('SUPRA_CLI (the built supra binary) is not set');
const skipAll = OpenAI ? false : 'SUPRA_SKIP_CLIENT_TESTS=1 and the openai npm package is not installed';

let server;
let client;
let model;  // the served model's id, from /v1/models (a request naming another model gets 404)

before(async () => {
  if (skipAll) return;
  server = spawn(cli, ['serve', '--port', '0', '--api-key', 'node-key'], { stdio: ['ignore', 'ignore', 'pipe'] });
  // The server prints "listening on http://127.0.0.1:PORT" once it has bound the port.
  const port = await new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error('server did not start: ' + err)), 20000);
    server.stderr.on('data', (chunk) => {
      err += chunk;
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    server.on('exit', (code) => reject(new Error(`server exited with ${code}: ${err}`)));
  });
  // Node's own fetch, not the node-fetch 2.7 the openai package falls back to: on Debian 12's
  // Node 18.20.4 node-fetch reports every chunked (streamed) response as "Premature close"
  // after receiving all of it, against this server before and after its connection layer
  // changed (a fresh socket, one streamed request, the server closing nothing; Node 20 is fine).
  client = new OpenAI({
    apiKey: 'node-key', baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0, timeout: 20000, fetch: globalThis.fetch,
  });
  model = (await client.models.list()).data[0].id;
});

after(() => {
  if (server) server.kill('SIGTERM');
});

test('completion', { skip: skipAll }, async () => {
  const r = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 16, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.ok(r.choices[0].text.length > 0);
  assert.equal(r.usage.completion_tokens, 16);
});

test('chat completion', { skip: skipAll }, async () => {
  const r = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'Tell me a story' }],
    max_tokens: 12,
    temperature: 0,
  });
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(typeof r.choices[0].message.content, 'string');
});

test('streamed completion equals the whole one', { skip: skipAll }, async () => {
  const params = { model, prompt: 'Lily saw a', max_tokens: 20, temperature: 0.8, seed: 3 };
  const whole = await client.completions.create(params);
  let text = '';
  let finish = null;
  for await (const chunk of await client.completions.create({ ...params, stream: true })) {
    text += chunk.choices[0].text;
    finish = chunk.choices[0].finish_reason ?? finish;
  }
  assert.equal(text, whole.choices[0].text);
  assert.equal(finish, 'length');
});

test('streamed chat', { skip: skipAll }, async () => {
  const params = { model, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 10, temperature: 0 };
  const whole = await client.chat.completions.create(params);
  let text = '';
  for await (const chunk of await client.chat.completions.create({ ...params, stream: true })) {
    text += chunk.choices[0].delta.content ?? '';
  }
  assert.equal(text, whole.choices[0].message.content);
});

test('bad key is refused', { skip: skipAll }, async () => {
  const bad = new OpenAI({ apiKey: 'wrong', baseURL: client.baseURL, maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e) => e.status === 401);
});

// Issue 18: what the client reads of stream usage, n > 1, chat logprobs, penalties and logit_bias.

test('streams end with a usage chunk when stream_options.include_usage', { skip: skipAll }, async () => {
  const base = { model, max_tokens: 5, temperature: 0, stream: true, stream_options: { include_usage: true } };
  for (const stream of [
    await client.completions.create({ ...base, prompt: 'Once upon a time' }),
    await client.chat.completions.create({ ...base, messages: [{ role: 'user', content: 'Hi' }] }),
  ]) {
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.completion_tokens, 5);
    assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + 5);
    for (const c of chunks.slice(0, -1)) assert.equal(c.usage, null);
  }
});

test('n > 1 gives indexed choices, whole and streamed', { skip: skipAll }, async () => {
  const params = { model, prompt: 'Lily saw a', max_tokens: 10, temperature: 1, seed: 4, n: 3 };
  const whole = await client.completions.create(params);
  assert.deepEqual(whole.choices.map((c) => c.index), [0, 1, 2]);
  const texts = ['', '', ''];
  for await (const chunk of await client.completions.create({ ...params, stream: true })) {
    for (const c of chunk.choices) texts[c.index] += c.text;
  }
  assert.deepEqual(texts, whole.choices.map((c) => c.text));
  const chat = await client.chat.completions.create({
    model, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 6, temperature: 1, seed: 4, n: 2,
  });
  assert.equal(chat.choices.length, 2);
  assert.equal(chat.choices[1].index, 1);
});

test('chat logprobs in the chat shape', { skip: skipAll }, async () => {
  const r = await client.chat.completions.create({
    model, messages: [{ role: 'user', content: 'Tell me a story' }], max_tokens: 6, temperature: 0,
    logprobs: true, top_logprobs: 2,
  });
  const content = r.choices[0].logprobs.content;
  assert.ok(content.length > 0);
  assert.equal(content.map((t) => t.token).join(''), r.choices[0].message.content);
  for (const t of content) {
    assert.deepEqual(t.bytes, [...Buffer.from(t.token, 'utf8')]);
    assert.equal(t.top_logprobs.length, 2);
    assert.ok(t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob);
    assert.equal(t.top_logprobs[0].token, t.token);  // greedy
  }
});

test('frequency and presence penalties change a greedy text', { skip: skipAll }, async () => {
  const params = { model, prompt: 'Once upon a time', max_tokens: 30, temperature: 0 };
  const plain = (await client.completions.create(params)).choices[0].text;
  const penalised = await client.completions.create({ ...params, frequency_penalty: 1.5, presence_penalty: 0.5 });
  assert.notEqual(penalised.choices[0].text, plain);
  await assert.rejects(client.completions.create({ ...params, presence_penalty: 3 }),
    (e) => e.status === 400 && e.param === 'presence_penalty');
});

test('logit_bias +100 makes one token the only choice', { skip: skipAll }, async () => {
  const r = await client.completions.create({
    model, prompt: 'Once upon a time', max_tokens: 4, temperature: 1, seed: 2, logprobs: 0,
    logit_bias: { 400: 100 },
  });
  const tokens = r.choices[0].logprobs.tokens;
  assert.equal(tokens.length, 4);
  assert.ok(tokens.every((t) => t === tokens[0]));
  await assert.rejects(client.completions.create({ model, prompt: 'a', logit_bias: { 100000: 1 } }),
    (e) => e.status === 400 && e.param === 'logit_bias');
});

test('fields that are not implemented are refused by name', { skip: skipAll }, async () => {
  await assert.rejects(client.chat.completions.create({
    model, messages: [{ role: 'user', content: 'Hi' }],
    tools: [{ type: 'function', function: { name: 'f', parameters: {} } }],
  }), (e) => e.status === 400 && e.param === 'tools');
  await assert.rejects(client.chat.completions.create({
    model, messages: [{ role: 'user', content: 'Hi' }], response_format: { type: 'json_object' },
  }), (e) => e.status === 400 && e.param === 'response_format');
});
