// The chat page of `supra serve` (GET /) in a real browser: Debian's headless Chromium driven by
// puppeteer-core against the built binary on the shipped model. It sends a message and watches the
// reply grow as the stream arrives, saves the conversation as a state and sees it listed, forks
// and resumes it, and checks that the resumed chat answers as the whole conversation would; then
// a screenshot is written to $SUPRA_ARTIFACTS_DIR/chat-page.png (CI keeps it).
//
// Needs node, puppeteer-core (npm ci --prefix tests/serve/node) and chromium (scripts/install-deps.sh).
// A missing one FAILS the test with what to install; SUPRA_SKIP_BROWSER_TEST=1 skips it instead.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

const optOut = process.env.SUPRA_SKIP_BROWSER_TEST === '1' && 'SUPRA_SKIP_BROWSER_TEST=1';
const cli = process.env.SUPRA_CLI;
const chromium = process.env.SUPRA_CHROMIUM || '/usr/bin/chromium';
const artifacts = process.env.SUPRA_ARTIFACTS_DIR;
const model = process.env.SUPRA_MODEL || 'models/stories260K';
const apiKey = 'page-key';

let puppeteer = null;
try {
  puppeteer = (await import('puppeteer-core')).default;
} catch {
  puppeteer = null;
}
// What is missing, as the instruction that fixes it ('' when nothing is).
const missing = [
  !puppeteer && 'the puppeteer-core npm package (run: npm ci --prefix tests/serve/node)',
  !existsSync(chromium) && `Chromium at ${chromium} (run: scripts/install-deps.sh, or apt-get install chromium)`,
  !cli && 'SUPRA_CLI (the built supra binary; ctest sets it)',
  !artifacts && 'SUPRA_ARTIFACTS_DIR (where the screenshot goes; ctest sets it)',
].filter(Boolean).join('; ');

const servers = [];
let browser = null;

// Starts `supra serve` on a free port; resolves to its base URL once it listens.
function startServer(args) {
  const server = spawn(cli, ['serve', '-m', model, '--port', '0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  servers.push(server);
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 20000);
    server.stderr.on('data', (chunk) => {
      err += chunk;
      const m = /listening on (http:\/\/[^\s]+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/$/, ''));
      }
    });
    server.on('exit', (code) => reject(new Error(`server exited with ${code}: ${err}`)));
  });
}

// A JSON call of the API from here (not the page), to compare the page's results with.
async function call(base, method, route, body) {
  const res = await fetch(base + route, {
    method,
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${apiKey}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json();
  assert.equal(res.status, 200, `${method} ${route}: ${JSON.stringify(data)}`);
  return data;
}

// A page on `base` that records its console errors, failed requests and CSP violations.
async function openPage(base) {
  const page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 900 });
  const problems = [];
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('request', (r) => !r.url().startsWith(base) && problems.push(`request to another origin: ${r.url()}`));
  await page.goto(`${base}/`, { waitUntil: 'networkidle0' });
  return { page, problems };
}

// Sends `text` from the page and resolves to every text the reply showed, in order, once the
// reply is done. A MutationObserver keeps each text the reply element was given (one record per
// change, however the network grouped the chunks, so the count does not depend on timing).
async function sendAndWatch(page, text) {
  await page.evaluate(() => {
    window.replySeen = [];
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.type !== 'childList' || !r.target.matches('.msg.assistant .text')) continue;
        for (const node of r.addedNodes) window.replySeen.push(node.textContent);
      }
    }).observe(document.getElementById('log'), { childList: true, subtree: true });
  });
  await page.type('#message', text);
  await page.keyboard.press('Enter');
  await waitForStatus(page, 'Reply done');
  return page.evaluate(() => window.replySeen.filter((t) => t !== ''));
}

// Waits until the page's status line starts with `prefix`; a timeout says what it showed instead.
async function waitForStatus(page, prefix) {
  try {
    await page.waitForFunction((p) => document.getElementById('status').textContent.startsWith(p), { timeout: 30000 }, prefix);
  } catch (e) {
    const shown = await page.$eval('#status', (el) => el.textContent);
    throw new Error(`the page's status did not become "${prefix}…" but shows "${shown}": ${e.message}`);
  }
}

async function setNumber(page, id, value) {
  await page.$eval(`#${id}`, (input, v) => { input.value = v; }, String(value));
}

before(async () => {
  if (optOut || missing) return;
  browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,  // Chromium's new headless mode
    // As root (CI's fresh root) Chromium refuses to start with its sandbox.
    args: [...(process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : []), '--disable-dev-shm-usage'],
  });
});

after(async () => {
  if (browser) await browser.close();
  for (const s of servers) s.kill('SIGTERM');
});

test('the tools the browser test needs are here', { skip: optOut }, () => {
  assert.equal(missing, '', `cannot run the chat page test without: ${missing} (SUPRA_SKIP_BROWSER_TEST=1 skips it)`);
});

test('chat page with --api-key: streamed reply, save, fork, resume', { skip: optOut || !!missing }, async () => {
  const base = await startServer(['--api-key', apiKey]);
  const { page, problems } = await openPage(base);
  assert.match(await page.$eval('#status', (e) => e.textContent), /API key/);

  await page.type('#api-key', apiKey);
  await page.keyboard.press('Tab');  // the change event: the page lists the model and the states
  await page.waitForFunction(() => document.getElementById('model').textContent.includes('stories260K'));
  problems.length = 0;  // Chromium logs the 401s of the page's first calls, made before the key was there
  const settings = { temperature: 0, max_tokens: 60, top_p: 0.9, top_k: 40, repetition_penalty: 1.1 };
  await setNumber(page, 'temperature', settings.temperature);
  await setNumber(page, 'max-tokens', settings.max_tokens);
  await setNumber(page, 'top-p', settings.top_p);
  await setNumber(page, 'top-k', settings.top_k);
  await setNumber(page, 'repetition-penalty', settings.repetition_penalty);

  // The reply grows chunk by chunk: more than one partial text before the last one.
  const first = 'Once upon a time';
  const seen = await sendAndWatch(page, first);
  const reply = seen[seen.length - 1];
  assert.ok(seen.length >= 10, `the reply of 60 tokens appeared in ${seen.length} step(s), not streamed: ${JSON.stringify(seen)}`);
  for (let i = 1; i < seen.length; ++i) assert.ok(seen[i].startsWith(seen[i - 1]), 'each update extends the reply');
  // The page sent the settings: the same request from here gives the same text.
  const whole = await call(base, 'POST', '/v1/chat/completions', { messages: [{ role: 'user', content: first }], ...settings });
  assert.equal(reply, whole.choices[0].message.content);

  // Save: the state is listed on the page and by the server.
  await page.click('#save');
  await waitForStatus(page, 'Saved as state');
  const saved = (await call(base, 'GET', '/v1/states')).data;
  assert.equal(saved.length, 1);
  await page.waitForSelector(`#states li[data-id="${saved[0].id}"]`);
  assert.match(await page.$eval('#base', (e) => e.textContent), new RegExp(`Continuing state ${saved[0].id}`));

  // Fork it, then resume the fork: the next reply continues the saved conversation exactly as
  // the whole conversation, sent at once, is answered.
  await page.click(`#states li[data-id="${saved[0].id}"] button[aria-label^="Fork"]`);
  await page.waitForFunction(() => document.querySelectorAll('#states li.state').length === 2);
  const forked = (await call(base, 'GET', '/v1/states')).data.find((s) => s.id !== saved[0].id);
  assert.equal(forked.tokens, saved[0].tokens);
  await page.click(`#states li[data-id="${forked.id}"] button[aria-label^="Resume"]`);
  await page.waitForFunction((id) => document.getElementById('base').textContent.includes(id), {}, forked.id);
  assert.equal(await page.$$eval('#log .msg.from-state', (m) => m.length), 2, 'the resumed state shows its conversation');
  const second = 'Tell me more';
  const seenAfter = await sendAndWatch(page, second);
  const whole2 = await call(base, 'POST', '/v1/chat/completions', {
    messages: [{ role: 'user', content: first }, { role: 'assistant', content: reply }, { role: 'user', content: second }],
    ...settings,
  });
  assert.equal(seenAfter[seenAfter.length - 1], whole2.choices[0].message.content);

  mkdirSync(artifacts, { recursive: true });
  const shot = path.join(artifacts, 'chat-page.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
  assert.deepEqual(problems, []);
});

test('chat page without an API key', { skip: optOut || !!missing }, async () => {
  const base = await startServer([]);
  const { page, problems } = await openPage(base);
  await page.waitForFunction(() => document.getElementById('model').textContent.includes('stories260K'));
  await setNumber(page, 'max-tokens', 20);
  await setNumber(page, 'seed', 7);
  const seen = await sendAndWatch(page, 'Hello');
  assert.ok(seen.length >= 1 && seen[seen.length - 1].length > 0);
  assert.equal(await page.$eval('#status', (e) => e.classList.contains('error')), false);
  assert.deepEqual(problems, []);
});
