// The demo page of `messaging serve`: the JSON API under /api/ and its
// event stream, with a demo identity (the X-Demo-User header, and the
// demo_user query parameter for EventSource, which cannot set headers).
//
// Every text from the server is put in the page with textContent, never
// parsed as HTML: a message "<img src=x onerror=alert(1)>" shows as those
// characters.
'use strict';

const $ = (id) => document.getElementById(id);

const state = {
  me: null,            // the demo identity
  open: null,          // the other user of the open conversation
  messages: new Map(), // id -> message of the open conversation
  blocked: new Set(),  // users the demo identity blocks
  events: null,        // the EventSource
  listSeq: 0,          // the newest list request: older answers are dropped
};

// el makes an element whose text is text, as text.
function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

// seg escapes a user id as one path segment. "." and ".." are escaped too:
// left as they are, the server would clean them out of the path.
function seg(id) {
  const s = encodeURIComponent(id);
  return s === '.' ? '%2E' : s === '..' ? '%2E%2E' : s;
}

function randomKey() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return String(Date.now()) + Math.random().toString(16).slice(2);
}

// api calls the JSON API as the demo identity; an error answer throws an
// Error with the server's message and code.
async function api(method, path, body) {
  const init = { method, headers: { 'X-Demo-User': encodeURIComponent(state.me) } };
  if (method !== 'GET') {
    init.headers['Content-Type'] = 'application/json';
    if (body !== undefined) init.body = JSON.stringify(body);
  }
  const resp = await fetch('/api' + path, init);
  if (resp.status === 204) return null;
  const data = await resp.json();
  if (!resp.ok) {
    const err = new Error(data.error);
    err.code = data.code;
    throw err;
  }
  return data;
}

function showError(err) {
  $('error').textContent = err ? err.message : '';
}

function time(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

// --- the demo identity -------------------------------------------------

// The identity lives in the URL's fragment (#user=...), so that each tab
// can be another user and a reload keeps it.
function identityFromURL() {
  const params = new URLSearchParams(location.hash.slice(1));
  return params.get('user');
}

function start(me) {
  state.me = me;
  state.open = null;
  $('me').textContent = me;
  $('login').hidden = true;
  $('whoami').hidden = false;
  $('app').hidden = false;
  $('conversation').hidden = true;
  connect();
}

function stop() {
  if (state.events) state.events.close();
  state.events = null;
  state.me = null;
  $('login').hidden = false;
  $('whoami').hidden = true;
  $('app').hidden = true;
}

// --- events ------------------------------------------------------------

const kinds = ['message_received', 'message_sent', 'conversation_read', 'message_deleted',
  'conversation_deleted', 'inbox_deleted', 'message_retracted'];

// connect opens the event stream before the state is loaded, and loads it
// again each time the stream (re)opens: whatever happened while it was
// closed is then on the screen, and events that race the load are applied
// idempotently (by message id).
function connect() {
  if (state.events) state.events.close();
  const es = new EventSource('/api/events?demo_user=' + encodeURIComponent(state.me));
  state.events = es;
  es.onopen = () => {
    $('status').textContent = 'live';
    refresh();
  };
  es.onerror = () => { $('status').textContent = 'reconnecting…'; };
  for (const kind of kinds) {
    es.addEventListener(kind, (e) => onEvent(kind, JSON.parse(e.data)));
  }
  // The stream could not resume without a gap: start afresh.
  es.addEventListener('reload', () => connect());
}

function onEvent(kind, ev) {
  $('total').textContent = String(ev.unread);
  const here = state.open !== null && (ev.other === state.open || ev.user === state.open);
  switch (kind) {
    case 'message_received':
    case 'message_sent':
      if (here) addMessages([ev.message]);
      break;
    case 'conversation_read':
      if (here && ev.user === state.me) {
        for (const m of state.messages.values()) if (m.recipient === state.me && m.id <= ev.read_up_to) m.new = false;
      } else if (here) { // the read receipt of what the demo identity sent
        for (const m of state.messages.values()) if (m.sender === state.me && m.id <= ev.read_up_to) m.read_by_recipient = true;
      }
      renderMessages();
      break;
    case 'message_deleted':
    case 'message_retracted':
      if (here) {
        state.messages.delete(ev.message.id);
        renderMessages();
      }
      break;
    case 'conversation_deleted':
    case 'inbox_deleted':
      if (here || kind === 'inbox_deleted') closeConversation();
      break;
  }
  refreshList();
}

// --- the list of conversations ----------------------------------------

async function refresh() {
  try {
    const blocked = await api('GET', '/blocks');
    state.blocked = new Set(blocked);
    await refreshList();
    if (state.open !== null) await openConversation(state.open);
  } catch (err) {
    showError(err);
  }
}

async function refreshList() {
  const seq = ++state.listSeq;
  try {
    const [inbox, page] = await Promise.all([api('GET', '/inbox'), api('GET', '/conversations?limit=100')]);
    if (seq !== state.listSeq) return; // a newer answer is on its way
    $('total').textContent = String(inbox.new_messages_count);
    renderList(page.conversations);
  } catch (err) {
    showError(err);
  }
}

function renderList(conversations) {
  const items = conversations.map((c) => {
    const li = el('li', 'conversation');
    li.dataset.user = c.username;
    if (c.username === state.open) li.classList.add('active');
    const name = el('span', 'name', c.username);
    const badge = el('span', 'badge', String(c.new_messages_count));
    badge.hidden = c.new_messages_count === 0;
    badge.title = 'unread';
    name.append(badge);
    const when = el('time', '', time(c.last_update));
    let preview = '';
    if (c.last_message) {
      preview = (c.last_message.sender === state.me ? 'You: ' : '') + c.last_message.text;
    }
    li.append(name, when, el('span', 'preview', preview));
    li.addEventListener('click', () => openConversation(c.username));
    return li;
  });
  $('conversations').replaceChildren(...items);
  $('no-conversations').hidden = items.length > 0;
}

// --- one conversation -------------------------------------------------

async function openConversation(other) {
  const switching = state.open !== other;
  state.open = other;
  if (switching) state.messages.clear();
  $('conversation').hidden = false;
  $('conversation-title').textContent = other;
  for (const li of $('conversations').children) li.classList.toggle('active', li.dataset.user === other);
  renderBlock();
  showError(null);
  let page = [];
  try {
    page = await api('GET', '/conversations/' + seg(other) + '/messages?limit=50');
  } catch (err) {
    if (err.code !== 'not_found') { showError(err); return; } // not_found: nothing sent yet
  }
  if (state.open !== other) return;
  addMessages(page);
  await markRead();
}

function closeConversation() {
  state.open = null;
  state.messages.clear();
  $('conversation').hidden = true;
}

function addMessages(msgs) {
  for (const m of msgs) state.messages.set(m.id, m);
  renderMessages();
}

// newestShown is the newest message on the screen: what "mark read" covers.
function newestShown() {
  let newest = null;
  for (const m of state.messages.values()) if (newest === null || order(m, newest) > 0) newest = m;
  return newest;
}

function order(a, b) {
  const t = Date.parse(a.created) - Date.parse(b.created);
  return t !== 0 ? t : a.id - b.id;
}

function renderMessages() {
  const msgs = [...state.messages.values()].sort(order);
  const items = msgs.map((m) => {
    const own = m.sender === state.me;
    const li = el('li', 'message ' + (own ? 'own' : 'theirs'));
    li.dataset.id = String(m.id);
    if (m.new) li.classList.add('new');
    if (own && m.read_by_recipient) li.classList.add('read');
    const meta = el('div', 'meta');
    meta.append(el('time', '', time(m.created)));
    if (own) {
      meta.append(el('span', 'receipt', m.read_by_recipient ? 'Read' : 'Sent'));
      const unsend = el('button', 'retract', 'Unsend');
      unsend.type = 'button';
      unsend.title = 'Retract: delete for both of you';
      unsend.addEventListener('click', () => retract(m.id));
      meta.append(unsend);
    }
    li.append(el('div', 'text', m.text), meta);
    return li;
  });
  const list = $('messages');
  list.replaceChildren(...items);
  list.scrollTop = list.scrollHeight;
  $('mark-read').hidden = !msgs.some((m) => m.new);
}

async function markRead() {
  const newest = newestShown();
  if (newest === null || ![...state.messages.values()].some((m) => m.new)) return;
  try {
    await api('POST', '/conversations/' + seg(state.open) + '/read', { up_to: newest.id });
    for (const m of state.messages.values()) if (m.id <= newest.id) m.new = false;
    renderMessages();
  } catch (err) {
    showError(err);
  }
}

async function send(text) {
  const other = state.open;
  const m = await api('POST', '/conversations/' + seg(other) + '/messages', { text, idempotency_key: randomKey() });
  if (state.open === other) addMessages([m]);
}

async function retract(id) {
  try {
    await api('POST', '/conversations/' + seg(state.open) + '/messages/' + id + '/retract');
    state.messages.delete(id);
    renderMessages();
  } catch (err) {
    showError(err);
  }
}

function renderBlock() {
  $('block').textContent = state.blocked.has(state.open) ? 'Unblock' : 'Block';
}

async function toggleBlock() {
  const other = state.open;
  const blocking = !state.blocked.has(other);
  try {
    await api(blocking ? 'PUT' : 'DELETE', '/blocks/' + seg(other));
    if (blocking) state.blocked.add(other); else state.blocked.delete(other);
    renderBlock();
  } catch (err) {
    showError(err);
  }
}

// --- wiring -----------------------------------------------------------

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  const name = $('login-name').value;
  location.hash = new URLSearchParams({ user: name }).toString();
});

$('switch-user').addEventListener('click', () => { location.hash = ''; });

window.addEventListener('hashchange', () => {
  const me = identityFromURL();
  if (me) start(me); else stop();
});

$('new-conversation').addEventListener('submit', (e) => {
  e.preventDefault();
  const other = $('new-other').value;
  $('new-other').value = '';
  openConversation(other);
});

$('send').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = $('text').value;
  try {
    await send(text);
    $('text').value = '';
    showError(null);
  } catch (err) {
    showError(err);
  }
});

$('text').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) {
    e.preventDefault();
    $('send').requestSubmit();
  }
});

$('mark-read').addEventListener('click', () => markRead());
$('block').addEventListener('click', () => toggleBlock());

const initial = identityFromURL();
if (initial) start(initial);
