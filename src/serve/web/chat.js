// The chat page of `supra serve` (docs/SERVE.md "Chat page"): a conversation streamed from
// /v1/chat/completions, the sampling settings, and the states API: save the conversation as a
// state, list, fork, delete, and resume one (continue the chat from it with `state_id`, sending
// only the messages after it). Plain script, same origin only (the server's CSP allows nothing else).
'use strict';

const $ = (id) => document.getElementById(id);
const el = {
  model: $('model'), base: $('base'), log: $('log'), composer: $('composer'), message: $('message'),
  send: $('send'), stop: $('stop'), newChat: $('new-chat'), status: $('status'), apiKey: $('api-key'),
  system: $('system'), save: $('save'), refresh: $('refresh'), states: $('states'),
};
// The request fields the sampling inputs fill; an empty input leaves the server's default.
const samplingFields = [
  ['temperature', 'temperature'], ['top_p', 'top-p'], ['top_k', 'top-k'], ['max_tokens', 'max-tokens'],
  ['repetition_penalty', 'repetition-penalty'], ['seed', 'seed'],
];

// The conversation: `base` is the state it continues ({id, tokens}, or null), `before` the
// messages that state holds as far as this page knows them, `messages` those after it: what each
// request sends (the server reads the state for the rest).
let conv = { base: null, before: [], messages: [] };
let controller = null;  // aborts the reply being streamed

// The messages of the states saved or forked here, by id, so that resuming one shows them
// (the server keeps tokens, not the conversation's text). Kept in this browser's storage.
const transcriptsKey = 'supra-chat-transcripts';
function transcripts() {
  try {
    return JSON.parse(localStorage.getItem(transcriptsKey)) || {};
  } catch {
    return {};
  }
}
function remember(id, messages) {
  const all = transcripts();
  all[id] = messages;
  const ids = Object.keys(all);
  for (const old of ids.slice(0, Math.max(0, ids.length - 200))) delete all[old];  // bounded
  try {
    localStorage.setItem(transcriptsKey, JSON.stringify(all));
  } catch {
    // Storage full or disabled: resuming such a state shows no earlier messages, nothing more.
  }
}
function unknownBefore(id) {
  return [{ role: 'note', content: `The earlier conversation is held by state ${id}; this page has not seen its text.` }];
}

function headers(withJson) {
  const h = {};
  if (withJson) h['Content-Type'] = 'application/json';
  const key = el.apiKey.value.trim();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

function errorMessage(status, data) {
  const message = data && data.error && data.error.message ? data.error.message : `HTTP ${status}`;
  return status === 401 ? `${message} (enter the server's API key in Settings)` : message;
}

// One call of the JSON API; throws an Error with the server's message on failure.
async function api(method, path, body) {
  const res = await fetch(path, {
    method, headers: headers(body !== undefined), body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) throw new Error(errorMessage(res.status, data));
  return data;
}

function setStatus(text, isError = false) {
  el.status.textContent = text;
  el.status.classList.toggle('error', isError);
}

function sampling() {
  const out = {};
  for (const [field, id] of samplingFields) {
    const value = $(id).value.trim();
    if (value !== '') out[field] = Number(value);
  }
  return out;
}

function addMessage(message, fromState = false) {
  const item = document.createElement('li');
  item.className = `msg ${message.role}${fromState ? ' from-state' : ''}`;
  const role = document.createElement('span');
  role.className = 'role';
  role.textContent = message.role === 'note' ? 'state' : message.role;
  const text = document.createElement('span');
  text.className = 'text';
  text.textContent = message.content;
  item.append(role, text);
  el.log.append(item);
  return text;
}

function renderConversation() {
  el.log.replaceChildren();
  for (const m of conv.before) addMessage(m, true);
  for (const m of conv.messages) addMessage(m);
  el.base.replaceChildren();
  if (conv.base) {
    const id = document.createElement('code');
    id.textContent = conv.base.id;
    el.base.append('Continuing state ', id, ` (${conv.base.tokens} tokens): each request sends only the messages after it.`);
  } else {
    el.base.textContent = 'A new conversation.';
  }
  updateButtons();
}

function busy() {
  return controller !== null;
}

function updateButtons() {
  const last = conv.messages[conv.messages.length - 1];
  el.send.disabled = busy();
  el.stop.disabled = !busy();
  el.save.disabled = busy() || !last || last.role !== 'assistant';
}

// Reads a server-sent event stream, calling onData with each `data:` JSON until [DONE].
async function readEvents(body, onData) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') return;
        onData(JSON.parse(data));
      }
    }
  }
}

async function send(text) {
  // The conversation this reply belongs to: "New conversation" may replace `conv` meanwhile.
  const c = conv;
  if (!c.base && c.messages.length === 0 && el.system.value.trim() !== '') {
    c.messages.push({ role: 'system', content: el.system.value.trim() });
    addMessage(c.messages[0]);
  }
  const user = { role: 'user', content: text };
  c.messages.push(user);
  addMessage(user);
  const replyText = addMessage({ role: 'assistant', content: '' });
  const replyItem = replyText.parentElement;
  replyItem.setAttribute('aria-busy', 'true');  // screen readers read the reply once it is done
  const body = { messages: c.messages, stream: true, ...sampling() };
  if (c.base) body.state_id = c.base.id;
  controller = new AbortController();
  updateButtons();
  setStatus('Generating…');
  let reply = '';
  try {
    const res = await fetch('/v1/chat/completions', {
      method: 'POST', headers: headers(true), body: JSON.stringify(body), signal: controller.signal,
    });
    if (!res.ok) {
      let data = null;
      try {
        data = await res.json();
      } catch {
        data = null;
      }
      throw new Error(errorMessage(res.status, data));
    }
    let finish = null;
    await readEvents(res.body, (chunk) => {
      if (chunk.error) throw new Error(chunk.error.message);
      const choice = chunk.choices && chunk.choices[0];
      if (!choice) return;
      if (choice.delta && choice.delta.content) {
        reply += choice.delta.content;
        replyText.textContent = reply;
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    });
    c.messages.push({ role: 'assistant', content: reply });
    setStatus(`Reply done (${finish === 'length' ? 'max tokens reached' : 'the model stopped'}).`);
  } catch (e) {
    if (e.name === 'AbortError') {
      c.messages.push({ role: 'assistant', content: reply });  // what arrived stays the reply
      if (c === conv) setStatus('Stopped.');
    } else {
      // The message was not answered: take it back, so the user can fix the cause and send again.
      c.messages.pop();
      if (c.messages.length === 1 && c.messages[0].role === 'system') c.messages.pop();
      if (c === conv) {
        renderConversation();
        el.message.value = text;
        setStatus(`Error: ${e.message}`, true);
      }
    }
  } finally {
    replyItem.removeAttribute('aria-busy');
    controller = null;
    updateButtons();
  }
}

async function saveState() {
  const body = { messages: conv.messages };
  if (conv.base) body.state_id = conv.base.id;
  try {
    const info = await api('POST', '/v1/states', body);
    const all = [...conv.before, ...conv.messages];
    remember(info.id, all);
    conv = { base: info, before: all, messages: [] };
    renderConversation();
    setStatus(`Saved as state ${info.id} (${info.tokens} tokens).`);
    await refreshStates();
  } catch (e) {
    setStatus(`Error: ${e.message}`, true);
  }
}

function resume(info) {
  conv = { base: info, before: transcripts()[info.id] || unknownBefore(info.id), messages: [] };
  renderConversation();
  refreshStates();
  setStatus(`Resumed state ${info.id}.`);
  el.message.focus();
}

async function fork(info) {
  try {
    const copy = await api('POST', `/v1/states/${encodeURIComponent(info.id)}/fork`, {});
    remember(copy.id, transcripts()[info.id] || unknownBefore(info.id));
    setStatus(`Forked state ${info.id} as ${copy.id}.`);
    await refreshStates();
  } catch (e) {
    setStatus(`Error: ${e.message}`, true);
  }
}

async function remove(info) {
  try {
    await api('DELETE', `/v1/states/${encodeURIComponent(info.id)}`);
    setStatus(conv.base && conv.base.id === info.id
      ? `Deleted state ${info.id}; this conversation continued it, so start a new one or resume another.`
      : `Deleted state ${info.id}.`);
    await refreshStates();
  } catch (e) {
    setStatus(`Error: ${e.message}`, true);
  }
}

function stateButton(label, info, action) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'secondary';
  b.textContent = label;
  b.setAttribute('aria-label', `${label} state ${info.id}`);
  b.addEventListener('click', () => action(info));
  return b;
}

async function refreshStates() {
  let list;
  try {
    list = await api('GET', '/v1/states');
  } catch (e) {
    setStatus(`Error: ${e.message}`, true);
    return;
  }
  el.states.replaceChildren();
  if (list.data.length === 0) {
    const empty = document.createElement('li');
    empty.className = 'muted';
    empty.textContent = 'No saved states.';
    el.states.append(empty);
  }
  for (const info of list.data) {
    const item = document.createElement('li');
    item.className = 'state';
    item.dataset.id = info.id;
    const current = conv.base && conv.base.id === info.id;
    if (current) item.classList.add('current');
    const id = document.createElement('code');
    id.textContent = info.id;
    const known = transcripts()[info.id];
    const summary = document.createElement('div');
    summary.textContent = `${info.tokens} tokens${known ? `, ${known.length} messages` : ''}${current ? ' (current)' : ''}`;
    const buttons = document.createElement('div');
    buttons.className = 'buttons';
    buttons.append(stateButton('Resume', info, resume), stateButton('Fork', info, fork), stateButton('Delete', info, remove));
    item.append(id, summary, buttons);
    el.states.append(item);
  }
}

async function showModel() {
  try {
    const models = await api('GET', '/v1/models');
    el.model.textContent = `model: ${models.data.map((m) => m.id).join(', ')}`;
    return true;
  } catch (e) {
    el.model.textContent = `model: unknown (${e.message})`;
    return false;
  }
}

el.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = el.message.value.trim();
  if (!text || busy()) return;
  el.message.value = '';
  send(text);
});
el.message.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    el.composer.requestSubmit();
  }
});
el.stop.addEventListener('click', () => controller && controller.abort());
el.newChat.addEventListener('click', () => {
  if (controller) controller.abort();
  conv = { base: null, before: [], messages: [] };
  renderConversation();
  refreshStates();
  setStatus('');
});
el.save.addEventListener('click', saveState);
el.refresh.addEventListener('click', refreshStates);
el.apiKey.addEventListener('change', async () => {
  if (await showModel()) {
    setStatus('');
    refreshStates();
  }
});

renderConversation();
showModel().then((ok) => (ok ? refreshStates() : setStatus('Enter the server\'s API key in Settings.', true)));
