// The official `openai` npm client against the built `supra serve`: completions, chat, and
// streaming of both. The server runs on a free port of 127.0.0.1 with the shipped model.
// Skipped (with the reason) when the package is not installed: npm ci --prefix tests/serve/node
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

let OpenAI = null;
try {
  OpenAI = (await import('openai')).default;
} catch {
  OpenAI = null;
}
const skip = OpenAI ? false : 'the openai npm package is not installed (run: npm ci --prefix tests/serve/node)';
const cli = process.env.SUPRA_CLI;
const skipAll = skip || (!cli && 'SUPRA_CLI (the built supra binary) is not set');

let server;
let client;

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
});

after(() => {
  if (server) server.kill('SIGTERM');
});

test('completion', { skip: skipAll }, async () => {
  const r = await client.completions.create({ model: 'stories260K', prompt: 'Once upon a time', max_tokens: 16, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.ok(r.choices[0].text.length > 0);
  assert.equal(r.usage.completion_tokens, 16);
});

test('chat completion', { skip: skipAll }, async () => {
  const r = await client.chat.completions.create({
    model: 'stories260K',
    messages: [{ role: 'user', content: 'Tell me a story' }],
    max_tokens: 12,
    temperature: 0,
  });
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(typeof r.choices[0].message.content, 'string');
});

test('streamed completion equals the whole one', { skip: skipAll }, async () => {
  const params = { model: 'stories260K', prompt: 'Lily saw a', max_tokens: 20, temperature: 0.8, seed: 3 };
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
  const params = { model: 'stories260K', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 10, temperature: 0 };
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
