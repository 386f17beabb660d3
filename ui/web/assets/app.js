// Sky's page. All state lives in the local sky process; this page keeps
// none of it across a reload (no web storage, no database, nothing in the
// HTTP cache). Every peer-chosen text is rendered as text.

import { h, add, peerText, clear, timers, timerLabel, shortTimer, countdown, clock, day, when, initials, hue } from './dom.js';
import { get, post, upload, APIError } from './api.js';
import { icon } from './icons.js';
import { notesView } from './notes.js';
import { backupCard } from './backup.js';
import { scanner } from './scan.js';
import { displayName, quoteEl, reactionsEl, actionMenu, replyBar, noteTyping, typingText, Typist, profileCard } from './social.js';

const app = document.getElementById('app');

const S = {
  me: '',
  connected: false,
  chats: [],
  requests: [],
  names: {},
  view: 'empty', // empty | chat | requests | notes | settings | broadcast
  open: null, // the open conversation's ID
  chat: null, // its description (/api/chat)
  oldest: 0, // local ID of the oldest message shown
  more: false,
  loadingOlder: false,
  filter: '',
  events: null,
};

let ui = null; // the shell's parts, once unlocked

// ---- start, unlock, first run ----

async function start() {
  let st;
  try {
    st = await get('/api/state');
  } catch (e) {
    add(clear(app), h('p', { class: 'boot', role: 'alert', text: e.message }));
    return;
  }
  route(st);
}

function route(st) {
  closeEvents();
  ui = null;
  if (!st.account) return firstRun();
  if (st.locked) return unlockScreen();
  S.me = st.id;
  S.connected = st.connected;
  shell();
}

function brand(sub) {
  return h('div', { class: 'brand' }, h('img', { src: '/sky.svg', alt: '', class: 'mark' }), h('h1', { text: 'Sky' }),
    sub ? h('p', { class: 'muted', text: sub }) : null);
}

function unlockScreen() {
  const err = h('p', { class: 'error', role: 'alert' });
  const pass = h('input', { id: 'passphrase', type: 'password', autocomplete: 'current-password', required: true, autofocus: true });
  const btn = h('button', { type: 'submit', class: 'primary wide', text: 'Unlock' });
  const form = h('form', { class: 'card unlock', 'aria-labelledby': 'unlock-title' },
    brand(),
    h('h2', { id: 'unlock-title', class: 'sr-only', text: 'Unlock Sky' }),
    h('label', { for: 'passphrase', text: 'Passphrase' }), pass, err, btn,
    h('p', { class: 'muted small', text: 'Your messages are encrypted on this computer. Sky runs here, in your own sky process; nothing on this page comes from the internet.' }));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    btn.disabled = true;
    btn.textContent = 'Unlocking…';
    err.textContent = '';
    try {
      const st = await post('/api/unlock', { passphrase: pass.value });
      pass.value = '';
      route(st);
    } catch (e) {
      pass.value = '';
      err.textContent = e.message;
      btn.disabled = false;
      btn.textContent = 'Unlock';
      pass.focus();
    }
  });
  add(clear(app), h('main', { class: 'center' }, form));
  pass.focus();
}

function firstRun() {
  add(clear(app), h('main', { class: 'center' }, h('div', { class: 'card welcome' },
    brand('Private messages, end to end encrypted.'),
    h('h2', { text: 'No Sky account on this computer yet' }),
    h('p', { text: 'To create one you need two things from the person who runs your Sky server: an activation code and the server\u2019s trust root.' }),
    h('p', { text: 'Then run this in a terminal and open this page again:' }),
    h('pre', { class: 'cmd', text: 'sky init --server URL --trust-root KEY --code CODE\nsky web --open' }),
    h('p', { class: 'muted small', text: 'Your Sky ID is printed when the account is made. Share it with the people you want to talk to.' }))));
}

// ---- the shell: conversations on the left, the open view on the right ----

function shell() {
  const search = h('input', { type: 'search', class: 'search', placeholder: 'Search (Ctrl+K)', 'aria-label': 'Search chats',
    oninput: () => { S.filter = search.value.trim().toLowerCase(); renderList(); } });
  const requests = h('button', { class: 'requests-entry', hidden: true, onclick: () => showRequests() });
  const list = h('nav', { class: 'conv-list', 'aria-label': 'Chats' });
  const status = h('div', { class: 'status', role: 'status' });
  const toolbar = h('div', { class: 'toolbar' },
    iconButton('edit', 'New chat', () => newChatDialog()),
    iconButton('group', 'New group', () => newGroupDialog()),
    iconButton('note', 'Notes to self', () => showNotes()),
    iconButton('broadcast', 'Broadcast lists', () => showBroadcast()),
    iconButton('settings', 'Settings', () => showSettings()),
    iconButton('lock', 'Lock', () => lockNow()));
  const side = h('aside', { class: 'sidebar' },
    h('header', { class: 'side-head' }, avatar(S.me, 'You', true), h('div', { class: 'me' }, h('strong', { text: 'Sky' }),
      h('span', { class: 'muted mono small', title: 'Your Sky ID', text: S.me })), toolbar),
    search, requests, list, status);
  const pane = h('main', { class: 'pane', id: 'pane' });
  const toast = h('div', { class: 'toast', role: 'status', 'aria-live': 'polite' });
  ui = { side, pane, list, search, requests, status, toast };
  add(clear(app), h('div', { class: 'shell' }, side, pane), toast);
  renderStatus();
  showEmpty();
  openEvents();
  refreshList();
}

function iconButton(name, label, onclick, cls = 'icon') {
  return h('button', { class: cls, type: 'button', 'aria-label': label, title: label, onclick }, icon(name));
}

function avatar(id, name, small = false) {
  const a = h('span', { class: small ? 'avatar small' : 'avatar', 'aria-hidden': 'true', text: initials(name || id) });
  a.style.setProperty('--h', String(hue(id))); // CSSOM, not a style attribute: the CSP allows no inline style
  return a;
}

function renderStatus() {
  if (!ui) return;
  ui.status.className = S.connected ? 'status online' : 'status offline';
  ui.status.textContent = S.connected ? 'Connected' : 'Offline — messages wait and go out when the server is reachable';
}

function toast(msg) {
  if (!ui) return;
  ui.toast.textContent = msg;
  ui.toast.classList.add('show');
  clearTimeout(toast.t);
  toast.t = setTimeout(() => ui && ui.toast.classList.remove('show'), 4000);
}

async function lockNow() {
  try {
    route(await post('/api/lock'));
  } catch (e) {
    toast(e.message);
  }
}

// fail shows an error where it happened, or locks the page when Sky is locked.
function fail(e, where) {
  if (e instanceof APIError && e.data.locked) return start();
  if (where) where.textContent = e.message;
  else toast(e.message);
}

// ---- the conversation list ----

let listTimer = 0;
function refreshList() {
  clearTimeout(listTimer);
  listTimer = setTimeout(loadList, 60);
}

async function loadList() {
  try {
    const r = await get('/api/conversations');
    S.chats = r.chats;
    S.requests = r.requests;
    S.names = {};
    S.typingOn = !!r.typing;
    for (const c of r.chats) if (c.name || c.profile) S.names[c.id] = displayName(c);
    renderList();
    if (S.view === 'requests') renderRequests();
  } catch (e) {
    fail(e);
  }
}

function nameOf(id) {
  if (id === S.me) return 'You';
  return S.names[id] || id;
}

function renderList() {
  if (!ui) return;
  const n = S.requests.length;
  ui.requests.hidden = n === 0;
  add(clear(ui.requests), icon('inbox'), h('span', { text: `Message requests (${n})` }));
  const items = S.chats.filter((c) => !S.filter || (c.name || '').toLowerCase().includes(S.filter) || c.id.includes(S.filter));
  const old = new Map([...ui.list.querySelectorAll('.conv')].map((e) => [e.dataset.conv, e]));
  if (S.chats.length === 0) {
    add(clear(ui.list), h('div', { class: 'empty-list' }, h('p', { text: 'No chats yet.' }),
      h('button', { class: 'primary', text: 'Start one with a Sky ID', onclick: () => newChatDialog() })));
    return;
  }
  for (const e of ui.list.querySelectorAll(':scope > :not(.conv)')) e.remove();
  const keep = new Set();
  let prev = null;
  for (const c of items) {
    const el = convItem(c, old.get(c.id));
    keep.add(el);
    const want = prev ? prev.nextSibling : ui.list.firstChild;
    if (want !== el) ui.list.insertBefore(el, want);
    prev = el;
  }
  for (const e of old.values()) if (!keep.has(e)) e.remove();
}

function preview(c) {
  const m = c.last;
  if (!m) return c.group ? 'Group created' : 'No messages yet';
  if (m.kind === 'timer') return `Disappearing messages: ${m.timer ? timerLabel(m.timer) : 'off'}`;
  if (m.kind === 'group') return describeChange(m.change);
  if (!m.text && m.files && m.files.length) {
    const f = m.files[0];
    const what = /^voice-note-/.test(f.name) ? 'Voice note' : f.type.startsWith('image/') ? `Photo: ${f.name}` : `File: ${f.name}`;
    return (m.out ? 'You: ' : c.group ? `${nameOf(m.from)}: ` : '') + what;
  }
  const who = m.out ? 'You: ' : c.group ? `${nameOf(m.from)}: ` : '';
  return who + m.text;
}

// convItem renders a conversation's entry into el (kept across refreshes,
// so a click that spans a refresh still lands), or a new one.
function convItem(c, el) {
  const name = c.group ? (c.name || c.id) : displayName(c);
  const badges = h('span', { class: 'badges' },
    c.timer ? h('span', { class: 'timer-mark', title: `Disappearing messages: ${timerLabel(c.timer)}` }, icon('timer'), shortTimer(c.timer)) : null,
    c.unread ? h('span', { class: 'unread', 'aria-label': `${c.unread} unread`, text: String(c.unread) }) : null);
  if (!el) el = h('button', { 'data-conv': c.id, title: c.id, onclick: () => openChat(c.id) });
  el.className = 'conv' + (S.open === c.id ? ' active' : '') + (c.unread ? ' has-unread' : '');
  if (S.open === c.id) el.setAttribute('aria-current', 'true');
  else el.removeAttribute('aria-current');
  return add(clear(el),
  avatar(c.id, name),
  h('span', { class: 'conv-main' },
    h('span', { class: 'conv-top' }, h('span', { class: 'conv-name' }, peerText(name),
      c.verified ? h('span', { class: 'verified', title: 'Verified', 'aria-label': 'verified' }, icon('check')) : null,
      c.group ? h('span', { class: 'sr-only', text: ' (group)' }) : null),
    h('span', { class: 'conv-time', text: when(c.last ? c.last.sent : c.at) })),
    h('span', { class: 'conv-bottom' }, h('span', { class: 'conv-preview' }, peerText(preview(c))), badges)));
}

// ---- a chat ----

async function openChat(id) {
  S.view = 'chat';
  S.open = id;
  S.oldest = 0;
  renderList();
  const pane = clear(ui.pane);
  ui.side.classList.add('narrow-hide');
  const head = h('header', { class: 'chat-head' });
  const banner = h('div', { class: 'banners' });
  const msgs = h('div', { class: 'msgs', role: 'log', 'aria-label': 'Messages', tabindex: '0' });
  const sentinel = h('div', { class: 'sentinel', 'aria-hidden': 'true' });
  const older = h('div', { class: 'older muted small', role: 'status' });
  const list = h('div', { class: 'msg-list' });
  add(msgs, sentinel, older, list);
  const text = h('textarea', { id: 'composer', 'aria-label': 'Message', placeholder: 'Message', rows: '1', maxlength: '65536' });
  const send = h('button', { type: 'submit', class: 'send', 'aria-label': 'Send', title: 'Send (Enter)' }, icon('send'), h('span', { class: 'sr-only', text: 'Send' }));
  const err = h('p', { class: 'error composer-error', role: 'alert' });
  const picker = h('input', { type: 'file', multiple: true, hidden: true, 'aria-hidden': 'true', tabindex: '-1' });
  const attachBtn = iconButton('clip', 'Attach file', () => picker.click());
  const recordBtn = iconButton('mic', 'Record voice note', () => toggleRecording(view));
  const composer = h('form', { class: 'composer' }, attachBtn, picker, text, recordBtn, send);
  const typingLine = h('div', { class: 'typing-line muted small', role: 'status', 'aria-live': 'polite' });
  const replyHolder = h('div', { class: 'reply-holder' });
  add(pane, h('section', { class: 'chat', 'aria-label': 'Chat' }, head, banner, msgs, typingLine, err, replyHolder, composer));
  const view = { id, head, banner, msgs, list, older, text, send, composer, err, sentinel, recordBtn, attachBtn, typingLine, replyHolder,
    typist: new Typist(post, id, () => S.typingOn) };
  renderTyping(view);
  picker.addEventListener('change', () => { sendFiles(view, [...picker.files]); picker.value = ''; });
  const section = pane.lastElementChild;
  section.addEventListener('dragover', (ev) => { if (ev.dataTransfer.types.includes('Files')) { ev.preventDefault(); section.classList.add('dropping'); } });
  section.addEventListener('dragleave', () => section.classList.remove('dropping'));
  section.addEventListener('drop', (ev) => {
    section.classList.remove('dropping');
    if (!ev.dataTransfer.files.length) return;
    ev.preventDefault();
    sendFiles(view, [...ev.dataTransfer.files]);
  });
  text.addEventListener('paste', (ev) => {
    const files = [...(ev.clipboardData?.files || [])];
    if (files.length) {
      ev.preventDefault();
      sendFiles(view, files);
    }
  });
  S.cv = view;
  composer.addEventListener('submit', (ev) => { ev.preventDefault(); sendMessage(view); });
  text.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      sendMessage(view);
    }
  });
  text.addEventListener('input', () => { autosize(text); if (text.value) view.typist.input(); else view.typist.stop(); });
  new IntersectionObserver((es) => { if (es.some((e) => e.isIntersecting)) loadOlder(view); }, { root: msgs }).observe(sentinel);
  await Promise.all([loadChat(view), loadHistory(view)]);
  if (S.cv === view) text.focus();
}

function autosize(t) {
  t.style.height = 'auto';
  t.style.height = Math.min(t.scrollHeight, 200) + 'px';
}

async function loadChat(view) {
  try {
    const c = await get('/api/chat', { id: view.id });
    if (S.cv !== view) return;
    S.chat = c;
    renderChatHead(view, c);
  } catch (e) {
    fail(e, view.err);
  }
}

function renderChatHead(view, c) {
  const name = c.group ? c.name : displayName(c);
  const sub = c.group ? `${c.members.length} member${c.members.length === 1 ? '' : 's'}${c.member ? '' : ' · you left'}` : c.id;
  add(clear(view.head), 
    iconButton('back', 'Back to chats', () => { ui.side.classList.remove('narrow-hide'); showEmpty(); }, 'icon back'),
    c.avatar ? h('img', { class: 'avatar avatar-img', src: c.avatar, alt: '' }) : avatar(c.id, name),
    h('div', { class: 'chat-title' }, h('h2', {}, peerText(name),
      c.verified ? h('span', { class: 'verified', title: 'Verified', 'aria-label': 'verified' }, icon('check')) : null),
    h('span', { class: 'muted small mono', text: sub })),
    c.timer ? h('span', { class: 'timer-chip', title: `Disappearing messages: ${timerLabel(c.timer)}` }, icon('timer'), h('span', { text: shortTimer(c.timer) })) : null,
    iconButton('info', 'Chat info', () => infoDialog(c)));
  clear(view.banner);
  view.text.disabled = false;
  view.send.disabled = false;
  if (c.changed) {
    add(view.banner, h('div', { class: 'banner danger', role: 'alert' },
      h('strong', { text: `The safety number with ${name} has changed.` }),
      h('p', { text: 'This can be a new phone, or someone in between. Nothing is sent to them until you compare safety numbers in person and accept the new key.' }),
      h('button', { class: 'primary', text: 'Compare safety numbers', onclick: () => infoDialog(c) })));
    view.text.disabled = true;
    view.send.disabled = true;
  } else if (c.request) {
    add(view.banner, h('div', { class: 'banner' },
      h('strong', {}, peerText(c.id), ' wants to message you.'),
      h('p', { text: 'They do not know whether you have read their messages until you accept. Rejecting deletes their messages and blocks them until you add them as a contact.' }),
      h('div', { class: 'row' }, h('button', { class: 'primary', text: 'Accept', onclick: () => acceptRequest(c.id) }),
        h('button', { class: 'danger', text: 'Reject and block', onclick: () => rejectRequest(c.id) }))));
  } else if (c.group && !c.member) {
    add(view.banner, h('div', { class: 'banner', text: 'You are no longer a member of this group.' }));
    view.text.disabled = true;
    view.send.disabled = true;
  }
}

async function loadHistory(view) {
  try {
    const r = await get('/api/history', { id: view.id, limit: 100 });
    if (S.cv !== view) return;
    clear(view.list);
    S.more = r.more;
    S.oldest = r.messages.length ? r.messages[0].lid : 0;
    view.older.textContent = S.more ? '' : (r.messages.length ? '' : 'No messages yet. Say hello.');
    renderBatch(view.list, r.messages, null, false);
    // Messages that arrived live during the fetch were drawn and then
    // cleared above; draw them again (those the history holds are skipped).
    for (const m of (view.live || []).splice(0)) appendMessage(view, m, false);
    view.msgs.scrollTop = view.msgs.scrollHeight;
    markRead(view.id);
  } catch (e) {
    fail(e, view.err);
  }
}

async function loadOlder(view) {
  if (!S.more || S.loadingOlder || !S.oldest || S.cv !== view) return;
  S.loadingOlder = true;
  view.older.textContent = 'Loading older messages…';
  try {
    const r = await get('/api/history', { id: view.id, limit: 200, before: S.oldest });
    if (S.cv !== view) return;
    const before = view.msgs.scrollHeight;
    const top = view.msgs.scrollTop;
    S.more = r.more;
    if (r.messages.length) S.oldest = r.messages[0].lid;
    renderBatch(view.list, r.messages, null, true);
    view.msgs.scrollTop = top + (view.msgs.scrollHeight - before);
    view.older.textContent = S.more ? '' : 'The beginning of this chat.';
  } catch (e) {
    fail(e, view.err);
  } finally {
    S.loadingOlder = false;
  }
}

// renderBatch adds messages (oldest first) at the end of list, or at its
// start (prepend), with day separators.
function renderBatch(list, ms, _, prepend) {
  const frag = document.createDocumentFragment();
  let lastDay = prepend ? '' : (list.dataset.lastDay || '');
  for (const m of ms) {
    const d = day(m.sent);
    if (d !== lastDay) {
      add(frag, h('div', { class: 'day', role: 'separator', 'data-day': d }, h('span', { text: d })));
      lastDay = d;
    }
    add(frag, messageEl(m));
  }
  if (prepend) {
    const first = list.firstElementChild;
    if (first && first.classList.contains('day') && first.dataset.day === lastDay) first.remove();
    list.prepend(frag);
  } else {
    add(list, frag);
    list.dataset.lastDay = lastDay;
  }
}

const stateLabels = { pending: 'Sending', sent: 'Sent', delivered: 'Delivered', read: 'Read', failed: 'Not sent', received: '' };

function messageEl(m) {
  if (m.kind === 'timer' || m.kind === 'group') {
    const text = m.kind === 'timer'
      ? `${m.out ? 'You' : nameOf(m.from)} set disappearing messages to ${m.timer ? timerLabel(m.timer) : 'off'}.`
      : describeChange(m.change);
    return h('div', { class: 'notice', 'data-lid': String(m.lid) }, icon(m.kind === 'timer' ? 'timer' : 'group'), peerText(text));
  }
  const meta = h('span', { class: 'meta' }, h('time', { datetime: new Date(m.sent).toISOString(), text: clock(m.sent) }),
    m.expires ? countdownEl(m.expires) : null,
    m.out ? stateEl(m.state, m.error) : null);
  if (m.edited) meta.prepend(h('span', { class: 'edited', title: `Edited ${new Date(m.edited).toLocaleString()}`, text: 'edited' }));
  return h('div', { class: `msg ${m.out ? 'out' : 'in'}${m.state === 'failed' ? ' failed' : ''}`, 'data-id': m.id, 'data-lid': String(m.lid) },
    h('div', { class: 'bubble' },
      m.group && !m.out ? h('div', { class: 'sender' }, peerText(nameOf(m.from))) : null,
      quoteEl(m.quote, nameOf),
      (m.files || []).map(fileEl),
      m.text ? h('div', { class: 'text', dir: 'auto', text: m.text }) : null,
      reactionsEl(m.reactions, nameOf),
      meta),
    m.state !== 'failed' && m.state !== 'pending' ? actionMenu(m, messageActs) : null);
}

// The media types shown inline (the server serves only these as such).
const inline = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'video/mp4', 'video/webm',
  'audio/mpeg', 'audio/mp4', 'audio/ogg', 'audio/webm', 'audio/wav']);

function fileURL(f, download) {
  const p = { id: f.id, type: f.type };
  if (download) p.download = '1';
  return `/api/attachment?${new URLSearchParams(p)}`;
}

function sizeLabel(n) {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MB`;
  if (n >= 1 << 10) return `${Math.round(n / (1 << 10))} KB`;
  return `${n} bytes`;
}

// durationLabel writes a recording's length (milliseconds) as m:ss, or
// h:mm:ss from an hour.
function durationLabel(ms) {
  const s = Math.round(ms / 1000), pad = (n) => String(n).padStart(2, '0');
  return s >= 3600 ? `${Math.floor(s / 3600)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}` : `${Math.floor(s / 60)}:${pad(s % 60)}`;
}

// fileEl shows an attachment: images, video and audio inline, any file as a
// card; each with a download link. The name is the sender's: text only.
function fileEl(f) {
  const show = inline.has(f.type);
  // A voice note recorded in a browser is WebM, which sky types by its
  // content as video/webm: play it as the audio it is.
  const voice = /^voice-note-/.test(f.name) && (f.type === 'video/webm' || f.type.startsWith('audio/'));
  let media = null;
  if (show && f.type.startsWith('image/')) {
    media = h('img', { class: 'att-img', src: fileURL(f), alt: f.name, loading: 'lazy' });
    media.addEventListener('load', () => { // keep the newest message in view as a photo takes its height
      const box = media.closest('.msgs');
      if (box && box.scrollHeight - box.scrollTop - box.clientHeight < media.height + 160) box.scrollTop = box.scrollHeight;
    });
    if (f.width && f.height) {
      media.width = Math.min(f.width, 320);
      media.height = Math.round(media.width * f.height / f.width);
    }
  } else if (show && voice) {
    media = h('audio', { class: 'att-audio', controls: true, preload: 'metadata', src: fileURL(f), 'aria-label': 'Voice note' });
  } else if (show && f.type.startsWith('video/')) {
    media = h('video', { class: 'att-video', controls: true, preload: 'metadata', src: fileURL(f) });
  } else if (show && f.type.startsWith('audio/')) {
    media = h('audio', { class: 'att-audio', controls: true, preload: 'metadata', src: fileURL(f), 'aria-label': `Voice note or audio: ${f.name}` });
  }
  return h('div', { class: 'att', 'data-att': f.id }, media,
    h('div', { class: 'att-card' }, media ? null : icon('file'),
      h('span', { class: 'att-name' }, peerText(f.name)), h('span', { class: 'att-size', text: sizeLabel(f.size) + (f.duration ? `, ${durationLabel(f.duration)}` : '') }),
      h('a', { class: 'att-dl', href: fileURL(f, true), download: '', 'aria-label': `Download ${f.name}`, title: 'Download' }, icon('download'))));
}

function countdownEl(at) {
  return h('span', { class: 'countdown', 'data-expires': String(at), title: 'Disappears', 'aria-label': 'Disappears in' }, icon('timer'), h('span', { text: countdown(at) }));
}

function stateEl(state, error) {
  const label = stateLabels[state] || state;
  return h('span', { class: `state ${state}`, title: error ? `${label}: ${error}` : label, 'aria-label': label }, icon(state === 'read' || state === 'delivered' ? 'checks' : state === 'failed' ? 'alert' : state === 'pending' ? 'clock' : 'check'));
}

function describeChange(ch) {
  if (!ch) return 'The group changed.';
  const by = nameOf(ch.by);
  const who = (ids) => (ids || []).map(nameOf).join(', ');
  const others = (ids) => (ids || []).filter((x) => x !== ch.by);
  const parts = [];
  if (ch.joined) parts.push(ch.by === S.me ? `You created the group “${ch.name}”` : `${by} added you to “${ch.name}”`);
  const added = ch.joined ? others(ch.added).filter((x) => x !== S.me) : ch.added;
  if (added && added.length) parts.push(`${by} added ${who(added)}`);
  if (ch.removed && ch.removed.length) parts.push(`${by} removed ${who(ch.removed)}`);
  if (ch.left && ch.left.length) parts.push(`${who(ch.left)} left`);
  const admins = ch.joined ? others(ch.adminsAdded) : ch.adminsAdded;
  if (admins && admins.length) parts.push(`${by} made ${who(admins)} admin`);
  if (ch.adminsRemoved && ch.adminsRemoved.length) parts.push(`${by} removed ${who(ch.adminsRemoved)} as admin`);
  if (ch.renamed && !ch.joined) parts.push(`${by} renamed the group to “${ch.name}”`);
  if (ch.timerChanged) parts.push(`${by} set disappearing messages to ${ch.timer ? timerLabel(ch.timer) : 'off'}`);
  if (ch.linkChanged) parts.push(ch.inviteLink ? `${by} made a new invite link` : `${by} revoked the invite link`);
  if (ch.joinRequests && ch.joinRequests.length) parts.push(`${who(ch.joinRequests)} asks to join with the invite link (approve or deny in Group info)`);
  return parts.length ? parts.join('; ') + '.' : 'The group changed.';
}

// What a message's menu does (social.js): in the open chat.
const messageActs = {
  get me() { return S.me; },
  reply(m) {
    const view = S.cv;
    if (!view) return;
    view.replyTo = m;
    add(clear(view.replyHolder), replyBar(m, nameOf, () => { view.replyTo = null; clear(view.replyHolder); }));
    view.text.focus();
  },
  async react(m, emoji) {
    try { await post('/api/react', { id: S.open, msg: m.id, emoji }); } catch (e) { fail(e, S.cv && S.cv.err); }
  },
  edit(m) {
    const view = S.cv;
    const text = h('textarea', { rows: '3', maxlength: '65536', value: m.text });
    const err = h('p', { class: 'error', role: 'alert' });
    const d = dialog('Edit message', formOf(async () => {
      try {
        await post('/api/edit', { id: view.id, msg: m.id, text: text.value });
        d.close();
      } catch (e) { fail(e, err); }
    }, field('New text', text, 'Everyone sees it marked as edited. Only within 24 hours of sending.'), err,
    h('div', { class: 'row end' }, h('button', { type: 'submit', class: 'primary', text: 'Save edit' }))));
  },
  async unsend(m) {
    if (!confirm('Delete this message for everyone? It is destroyed here and at every recipient.')) return;
    try { await post('/api/unsend', { id: S.open, msg: m.id }); } catch (e) { fail(e, S.cv && S.cv.err); }
  },
};

// renderTyping shows who is typing in the open chat, and again when it
// runs out.
function renderTyping(view) {
  if (S.cv && S.cv !== view) return;
  view.typingLine.textContent = typingText(view.id, nameOf);
  clearTimeout(view.typingT);
  if (view.typingLine.textContent) view.typingT = setTimeout(() => renderTyping(view), 1000);
}

async function sendMessage(view) {
  const text = view.text.value;
  if (!text.trim() || view.send.disabled) return;
  view.err.textContent = '';
  view.send.disabled = true;
  try {
    const m = view.replyTo ? await post('/api/reply', { id: view.id, msg: view.replyTo.id, text }) : await post('/api/send', { id: view.id, text });
    view.replyTo = null;
    clear(view.replyHolder);
    view.typist.stop();
    view.text.value = '';
    autosize(view.text);
    appendMessage(view, m, true);
    refreshList();
  } catch (e) {
    if (e.data && e.data.identityChanged) loadChat(view);
    fail(e, view.err);
  } finally {
    if (!(S.chat && S.chat.changed)) view.send.disabled = false;
    view.text.focus();
  }
}

async function sendFiles(view, files, recorded) {
  if (view.send.disabled) return;
  for (const f of files) {
    view.err.className = 'status-line';
    view.err.textContent = `Sending ${f.name}…`;
    try {
      const m = await upload('/api/send-file', { id: view.id, name: f.name }, f);
      // Tell what happened to the file's metadata (nothing to tell of a
      // voice note recorded here: it has none).
      view.err.textContent = recorded ? '' : m.as_is
        ? `${f.name} went as it is: Sky removes metadata only from JPEG, PNG, WebP and HEIC photos.`
        : m.removed ? `Removed from ${f.name}: ${m.removed.join(', ')}.` : '';
      appendMessage(view, m, true);
      refreshList();
    } catch (e) {
      view.err.className = 'error composer-error';
      fail(e, view.err);
      return;
    }
  }
  if (!view.err.textContent) view.err.className = 'error composer-error';
}

// Voice notes: recorded in the page (MediaRecorder), sent as a file.
async function toggleRecording(view) {
  if (view.rec) {
    view.rec.stop();
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (e) {
    view.err.textContent = `The microphone is not available (${e.message}). Allow it for this page to record voice notes.`;
    return;
  }
  const chunks = [];
  const rec = new MediaRecorder(stream);
  view.rec = rec;
  rec.addEventListener('dataavailable', (ev) => { if (ev.data.size) chunks.push(ev.data); });
  rec.addEventListener('stop', () => {
    for (const t of stream.getTracks()) t.stop();
    view.rec = null;
    clear(view.recordBtn).append(icon('mic'));
    view.recordBtn.setAttribute('aria-label', 'Record voice note');
    view.recordBtn.classList.remove('recording');
    const type = (rec.mimeType || 'audio/webm').split(';')[0];
    const ext = type === 'audio/ogg' ? 'ogg' : type === 'audio/mp4' ? 'm4a' : 'webm';
    const blob = new Blob(chunks, { type });
    if (blob.size) sendFiles(view, [new File([blob], `voice-note-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}.${ext}`, { type })], true);
  });
  rec.start();
  clear(view.recordBtn).append(icon('stop'));
  view.recordBtn.setAttribute('aria-label', 'Stop recording');
  view.recordBtn.classList.add('recording');
}

function appendMessage(view, m, force) {
  // Kept (the last 200) for loadHistory, whose answer may be older than a
  // message that arrives while it is fetched, and which clears the list.
  const live = (view.live ||= []);
  live.push(m);
  if (live.length > 200) live.shift();
  if (view.list.querySelector(`[data-lid="${m.lid}"]`)) return;
  const near = view.msgs.scrollHeight - view.msgs.scrollTop - view.msgs.clientHeight < 120;
  view.older.textContent = '';
  renderBatch(view.list, [m], null, false);
  if (near || force) view.msgs.scrollTop = view.msgs.scrollHeight;
}

let readTimer = 0;
function markRead(id) {
  clearTimeout(readTimer);
  readTimer = setTimeout(async () => {
    if (document.visibilityState !== 'visible' || S.open !== id) return;
    try {
      const r = await post('/api/read', { id });
      if (S.cv && S.cv.id === id) {
        for (const [lid, at] of Object.entries(r.expires)) {
          const meta = S.cv.list.querySelector(`[data-lid="${lid}"] .meta`);
          if (meta && !meta.querySelector('.countdown')) meta.insertBefore(countdownEl(at), meta.children[1] || null);
        }
      }
      refreshList();
    } catch (e) { /* shown by the next call */ }
  }, 100);
}

document.addEventListener('visibilitychange', () => { if (S.open && S.view === 'chat') markRead(S.open); });

// Countdowns tick once a second; a message whose timer ran out goes away.
setInterval(() => {
  for (const el of document.querySelectorAll('[data-expires]')) {
    const at = Number(el.dataset.expires);
    if (at <= Date.now()) {
      const msg = el.closest('.msg, .note-item');
      if (msg) msg.remove();
      continue;
    }
    el.lastChild.textContent = countdown(at);
  }
}, 1000);

// ---- requests ----

function showRequests() {
  S.view = 'requests';
  S.open = null;
  S.cv = null;
  renderList();
  renderRequests();
}

function renderRequests() {
  const pane = clear(ui.pane);
  ui.side.classList.add('narrow-hide');
  const sec = h('section', { class: 'page', 'aria-labelledby': 'req-title' }, pageHead('req-title', 'Message requests'),
    h('p', { class: 'muted', text: 'People who are not your contacts. Their messages are shown here, inert; they learn nothing (not even that you read them) until you accept.' }));
  if (!S.requests.length) add(sec, h('p', { class: 'empty', text: 'No message requests.' }));
  for (const r of S.requests) {
    const err = h('p', { class: 'error', role: 'alert' });
    add(sec, h('article', { class: 'card request', 'aria-label': `Request from ${r.id}` },
      h('header', { class: 'row' }, avatar(r.id, r.id), h('div', {}, h('strong', { class: 'mono' }, peerText(r.id)),
        h('div', { class: 'muted small', text: `${r.messages} message${r.messages === 1 ? '' : 's'} since ${when(r.firstAt)}` }))),
      h('div', { class: 'preview' }, r.preview.map((m) => h('p', { class: 'quote', dir: 'auto', text: m.kind === 'text' ? m.text : 'A notice' }))),
      h('div', { class: 'row' },
        h('button', { class: 'primary', text: 'Accept', onclick: () => acceptRequest(r.id, err) }),
        h('button', { text: 'Open', onclick: () => openChat(r.id) }),
        h('button', { class: 'danger', text: 'Reject and block', onclick: () => rejectRequest(r.id, err) })),
      err));
  }
  add(pane, sec);
}

function pageHead(id, title, ...extra) {
  return h('header', { class: 'page-head' },
    iconButton('back', 'Back to chats', () => { ui.side.classList.remove('narrow-hide'); showEmpty(); }, 'icon back'),
    h('h2', { id, text: title }), ...extra);
}

async function acceptRequest(id, err) {
  try {
    await post('/api/requests/accept', { id });
    toast('Accepted. They are now a contact.');
    await loadList();
    openChat(id);
  } catch (e) {
    fail(e, err);
  }
}

async function rejectRequest(id, err) {
  if (!confirm('Reject and block? Their messages are deleted, and what they send is dropped until you add them as a contact.')) return;
  try {
    await post('/api/requests/reject', { id });
    toast('Rejected and blocked.');
    await loadList();
    S.requests.length ? showRequests() : showEmpty();
  } catch (e) {
    fail(e, err);
  }
}

function showEmpty() {
  S.view = 'empty';
  S.open = null;
  S.cv = null;
  if (!ui) return;
  renderList();
  add(clear(ui.pane), h('div', { class: 'empty-pane' }, h('img', { src: '/sky.svg', alt: '', class: 'mark big' }),
    h('h2', { text: 'Sky' }),
    h('p', { class: 'muted', text: S.chats.length ? 'Pick a chat on the left, or start a new one.' : 'No chats yet — start one with a Sky ID.' }),
    h('div', { class: 'row center' }, h('button', { class: 'primary', text: 'New chat', onclick: () => newChatDialog() }),
      h('button', { text: 'New group', onclick: () => newGroupDialog() })),
    h('p', { class: 'muted small' }, 'Your Sky ID: ', h('span', { class: 'mono', text: S.me }))));
}

// ---- dialogs ----

function dialog(title, ...body) {
  const d = h('dialog', { class: 'dialog', 'aria-label': title },
    h('header', { class: 'dialog-head' }, h('h2', { text: title }), iconButton('close', 'Close', () => d.close())), ...body);
  d.addEventListener('close', () => d.remove());
  add(document.body, d);
  d.showModal();
  return d;
}

function field(label, input, hint) {
  const id = 'f' + Math.random().toString(36).slice(2);
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id, text: label }), input, hint ? h('p', { class: 'muted small', text: hint }) : null);
}

function formOf(onsubmit, ...children) {
  const f = h('form', { class: 'form' }, ...children);
  f.addEventListener('submit', (ev) => { ev.preventDefault(); onsubmit(); });
  return f;
}

function newChatDialog() {
  const id = h('input', { autocomplete: 'off', spellcheck: 'false', required: true, placeholder: 'for example 7kq2m9xwpa', class: 'mono' });
  const name = h('input', { autocomplete: 'off', placeholder: 'optional' });
  const err = h('p', { class: 'error', role: 'alert' });
  const scan = scanner((v) => { id.value = v; name.focus(); });
  const d = dialog('New chat',
    formOf(async () => {
      const v = id.value.trim().toLowerCase().replace(/^sky:/, '');
      try {
        await post('/api/contacts/add', { id: v, name: name.value.trim() });
        d.close();
        await loadList();
        openChat(v);
      } catch (e) {
        fail(e, err);
      }
    }, field('Sky ID', id, 'Ask them for it, or scan the QR code their Sky shows under New chat.'), scan.el,
    field('Nickname', name, 'Only you see it.'), err,
    h('div', { class: 'row end' }, h('button', { type: 'submit', class: 'primary', text: 'Start chat' }))),
    h('div', { class: 'my-qr' }, h('p', { class: 'muted small', text: 'Your Sky ID, to show someone:' }),
      h('img', { src: '/api/qr?me=1', alt: `QR code of your Sky ID ${S.me}`, width: '180', height: '180' }),
      h('p', { class: 'mono', text: S.me })));
  d.addEventListener('close', scan.stop);
  id.focus();
}

function contactPicker(selected = []) {
  const box = h('fieldset', { class: 'picker' }, h('legend', { text: 'Members' }));
  const contacts = S.chats.filter((c) => !c.group);
  if (!contacts.length) add(box, h('p', { class: 'muted small', text: 'No contacts yet; type Sky IDs below.' }));
  for (const c of contacts) {
    const cb = h('input', { type: 'checkbox', value: c.id, checked: selected.includes(c.id) });
    add(box, h('label', { class: 'check' }, cb, peerText(c.name || c.id), c.name ? h('span', { class: 'muted mono small', text: ` ${c.id}` }) : null));
  }
  const more = h('input', { autocomplete: 'off', spellcheck: 'false', class: 'mono', placeholder: 'IDs separated by spaces' });
  add(box, field('Other Sky IDs', more));
  box.values = () => [...box.querySelectorAll('input[type=checkbox]:checked')].map((x) => x.value)
    .concat(more.value.split(/[\s,]+/).map((x) => x.trim().toLowerCase()).filter(Boolean));
  return box;
}

function newGroupDialog() {
  const name = h('input', { required: true, maxlength: '200', autocomplete: 'off' });
  const picker = contactPicker();
  const err = h('p', { class: 'error', role: 'alert' });
  const d = dialog('New group', formOf(async () => {
    try {
      const g = await post('/api/group/create', { name: name.value.trim(), members: picker.values() });
      d.close();
      await loadList();
      openChat(g.id);
    } catch (e) {
      fail(e, err);
    }
  }, field('Group name', name), picker, err, h('div', { class: 'row end' }, h('button', { type: 'submit', class: 'primary', text: 'Create group' }))),
  joinForm());
  name.focus();
}

// joinForm asks, with an invite link someone pasted, the group's admin to
// let the user in; the group appears once they approve.
function joinForm() {
  const link = h('input', { class: 'mono', autocomplete: 'off', spellcheck: 'false', required: true, placeholder: 'sky:join:…' });
  const note = h('p', { class: 'muted small', role: 'status' });
  const err = h('p', { class: 'error', role: 'alert' });
  return formOf(async () => {
    err.textContent = '';
    note.textContent = '';
    try {
      const r = await post('/api/group/join', { text: link.value.trim() });
      note.textContent = `Asked ${nameOf(r.admin)} to let you in. The group appears here once they approve.`;
      link.value = '';
    } catch (e) {
      fail(e, err);
    }
  }, h('h3', { text: 'Or join a group' }), field('Invite link', link, 'Paste the link a group\'s admin gave you.'), note, err,
  h('div', { class: 'row end' }, h('button', { type: 'submit', text: 'Ask to join' })));
}

// joinRequests lists who asked to join with the group's invite link, each
// with Approve and Deny (admins only; null when nobody waits).
function joinRequests(c, act) {
  const ids = c.joinRequests || [];
  if (!ids.length) return null;
  const list = h('ul', { class: 'members', 'aria-label': 'Asking to join' });
  for (const id of ids) {
    const nm = c.names[id] || id;
    add(list, h('li', {}, avatar(id, nm, true), h('span', { class: 'grow' }, peerText(nm), nm !== id ? h('span', { class: 'mono muted small', text: ` ${id}` }) : null),
      h('button', { class: 'small primary', text: 'Approve', 'aria-label': `Approve ${nm}`, onclick: act(() => post('/api/group/answer', { id: c.id, members: [id], admin: true })) }),
      h('button', { class: 'small danger', text: 'Deny', 'aria-label': `Deny ${nm}`, onclick: act(() => post('/api/group/answer', { id: c.id, members: [id], admin: false })) })));
  }
  return h('section', { 'aria-label': 'Asking to join' }, h('h4', { text: `Asking to join (${ids.length})` }), list);
}

// inviteLink shows the group's invite link and its QR code (when this
// device made it), with buttons to make a new one or revoke it.
function inviteLink(c, act) {
  const box = h('section', { class: 'invite', 'aria-label': 'Invite link' }, h('h4', { text: 'Invite link' }));
  if (c.link) {
    const input = h('input', { class: 'mono', readonly: true, value: c.link, 'aria-label': 'Invite link text' });
    input.addEventListener('focus', () => input.select());
    add(box, h('p', { class: 'muted small', text: 'Whoever has this link learns your Sky ID and the group\'s ID and can ask you to let them in; nothing else of the group.' }),
      input, h('img', { class: 'qr', src: `/api/qr?${new URLSearchParams({ link: c.id, v: String(Date.now()) })}`, alt: 'QR code of the invite link', width: '196', height: '196' }));
  } else if (c.inviteLink) {
    add(box, h('p', { class: 'muted small', text: 'The group has an invite link made on another device or by another admin.' }));
  } else {
    add(box, h('p', { class: 'muted small', text: 'No invite link. With one, people can ask to join; you approve each.' }));
  }
  add(box, h('div', { class: 'row end' },
    h('button', { text: c.link || c.inviteLink ? 'New invite link' : 'Create invite link', onclick: act(() => post('/api/group/link', { id: c.id, admin: true })) }),
    c.link || c.inviteLink ? h('button', { class: 'danger', text: 'Revoke invite link', onclick: act(() => post('/api/group/revoke', { id: c.id })) }) : null));
  return box;
}

function timerSelect(value, label = 'Disappearing messages') {
  const sel = h('select', {}, timers.map(([s, l]) => h('option', { value: String(s), text: l })));
  if (!timers.some(([s]) => s === value)) add(sel, h('option', { value: String(value), text: timerLabel(value) }));
  sel.value = String(value || 0);
  return field(label, sel);
}

async function infoDialog(c) {
  const err = h('p', { class: 'error', role: 'alert' });
  const body = h('div', { class: 'info' });
  dialog(c.group ? 'Group info' : 'Chat info', body, err);
  // An action re-renders the dialog in place with what is true after it.
  const act = (fn) => async () => {
    err.textContent = '';
    try {
      await fn();
      await loadList();
      const fresh = await get('/api/chat', { id: c.id });
      if (S.cv && S.cv.id === c.id) {
        S.chat = fresh;
        renderChatHead(S.cv, fresh);
      }
      await infoBody(body, fresh, act);
    } catch (e) {
      fail(e, err);
    }
  };
  await infoBody(body, c, act);
}

async function infoBody(body, c, act) {
  const name = c.group ? c.name : (c.name || c.id);
  clear(body);
  add(body, h('div', { class: 'info-head' }, avatar(c.id, name), h('div', {}, h('h3', {}, peerText(name)), h('p', { class: 'mono small muted', text: c.id }))));
  const tsel = timerSelect(c.timer || 0);
  tsel.querySelector('select').addEventListener('change', act(() => post('/api/timer', { id: c.id, seconds: Number(tsel.querySelector('select').value) })));
  if (c.group) {
    const rename = h('input', { value: c.name, maxlength: '200' });
    if (c.admin) add(body, formOf(act(() => post('/api/group/rename', { id: c.id, name: rename.value.trim() })), field('Group name', rename), h('div', { class: 'row end' }, h('button', { type: 'submit', text: 'Rename' }))));
    if (c.admin) add(body, tsel);
    if (c.admin && c.member) add(body, joinRequests(c, act));
    const members = h('ul', { class: 'members', 'aria-label': 'Members' });
    for (const m of c.members) {
      const isAdmin = c.admins.includes(m);
      const nm = m === S.me ? 'You' : (c.names[m] || m);
      add(members, h('li', {}, avatar(m, nm, true), h('span', { class: 'grow' }, peerText(nm), nm !== m ? h('span', { class: 'mono muted small', text: ` ${m}` }) : null),
        isAdmin ? h('span', { class: 'pill', text: 'Admin' }) : null,
        c.admin && m !== S.me ? h('button', { class: 'small', text: isAdmin ? 'Remove admin' : 'Make admin', onclick: act(() => post('/api/group/admin', { id: c.id, members: [m], admin: !isAdmin })) }) : null,
        c.admin && m !== S.me ? h('button', { class: 'small danger', text: 'Remove', 'aria-label': `Remove ${nm}`, onclick: act(() => post('/api/group/remove', { id: c.id, members: [m] })) }) : null));
    }
    add(body, h('h4', { text: `${c.members.length} members` }), members);
    if (c.admin) {
      const addInput = h('input', { class: 'mono', autocomplete: 'off', placeholder: 'Sky IDs separated by spaces' });
      add(body, formOf(act(() => post('/api/group/add', { id: c.id, members: addInput.value.split(/[\s,]+/).map((x) => x.trim().toLowerCase()).filter(Boolean) })),
        field('Add members', addInput), h('div', { class: 'row end' }, h('button', { type: 'submit', text: 'Add' }))));
    }
    if (c.admin && c.member) add(body, inviteLink(c, act));
    if (c.member) add(body, h('div', { class: 'row end' }, h('button', { class: 'danger', text: 'Leave group', onclick: act(async () => { if (confirm('Leave this group?')) await post('/api/group/leave', { id: c.id }); }) })));
    return;
  }
  if (c.contact) {
    const nick = h('input', { value: c.name || '', maxlength: '200', placeholder: 'Only you see it' });
    add(body, formOf(act(() => post('/api/contacts/add', { id: c.id, name: nick.value.trim() })), field('Nickname', nick),
      h('div', { class: 'row end' }, h('button', { type: 'submit', text: 'Save nickname' }))));
  }
  add(body, tsel);
  const safety = h('section', { class: 'safety', 'aria-label': 'Safety number' }, h('h4', { text: 'Safety number' }));
  add(body, safety);
  try {
    const sn = await get('/api/safety', { id: c.id });
    add(safety, 
      sn.changed ? h('p', { class: 'banner danger', text: `${name}'s key changed. The number below is for the new key. Accept it only after comparing it with them in person or on a call you trust.` }) : null,
      h('p', { class: 'muted small', text: `Compare these numbers with ${name}'s screen, or scan the code with their phone. If they match, your conversation is private: nobody is in between.` }),
      h('div', { class: 'digits', 'aria-label': `Safety number ${sn.digits}` }, sn.groups.map((g) => h('span', { text: g }))),
      h('img', { class: 'qr', src: `/api/qr?${new URLSearchParams({ id: c.id })}`, alt: 'QR code of the safety number', width: '196', height: '196' }),
      sn.verified && !sn.changed ? h('p', { class: 'ok' }, icon('check'), ' Verified') : null,
      sn.directory && sn.directory.confirmed ? h('p', { class: 'ok' }, icon('check'), sn.directory.auditor ? ` Confirmed by the key directory, countersigned by auditor ${sn.directory.auditor}` : ' Confirmed by the key directory') : null,
      h('div', { class: 'row' },
        !sn.verified || sn.changed ? h('button', { class: 'primary', text: sn.changed ? 'Accept new key (numbers match)' : 'Mark as verified', onclick: act(() => post('/api/verify', { id: c.id, number: sn.digits })) }) : null,
        sn.changed ? h('button', { text: 'Keep old key', onclick: act(() => post('/api/keep-old', { id: c.id })) }) : null));
  } catch (e) {
    add(safety, h('p', { class: 'muted small', text: e.message }));
  }
  if (c.contact) add(body, h('div', { class: 'row end' }, h('button', { class: 'danger', text: 'Remove contact', onclick: act(async () => { if (confirm('Remove this contact? The chat stays.')) await post('/api/contacts/remove', { id: c.id }); }) })));
}

// ---- notes, broadcast lists, settings ----

function showNotes() {
  S.view = 'notes';
  S.open = null;
  S.cv = null;
  renderList();
  ui.side.classList.add('narrow-hide');
  notesView(clear(ui.pane), { pageHead, field, formOf, timerSelect, fail, toast });
}

async function showBroadcast() {
  S.view = 'broadcast';
  S.open = null;
  S.cv = null;
  renderList();
  ui.side.classList.add('narrow-hide');
  const pane = clear(ui.pane);
  const sec = h('section', { class: 'page', 'aria-labelledby': 'bc-title' }, pageHead('bc-title', 'Broadcast lists'),
    h('p', { class: 'muted', text: 'One message sent to each person on a list, as a private message. They do not see each other.' }));
  add(pane, sec);
  let lists = [];
  try {
    lists = await get('/api/broadcast/list');
  } catch (e) {
    return fail(e);
  }
  for (const l of lists) {
    const text = h('textarea', { rows: '2' });
    const err = h('p', { class: 'error', role: 'alert' });
    const lastSent = h('div', { class: 'last-broadcast' });
    add(sec, h('article', { class: 'card' }, h('h3', {}, peerText(l.name)),
      h('p', { class: 'muted small' }, l.members.map((m) => nameOf(m)).join(', ')),
      lastSent,
      formOf(async () => {
        try {
          const sentText = text.value;
          const r = await post('/api/broadcast/send', { name: l.name, text: sentText });
          text.value = '';
          toast(`Sent to ${r.sent}.`);
          if (r.msg) add(clear(lastSent), broadcastSent(l.name, r.msg, sentText, err));
          refreshList();
        } catch (e) {
          fail(e, err);
        }
      }, field(`Message to ${l.name}`, text), err, h('div', { class: 'row end' },
        h('button', { type: 'button', class: 'danger', text: 'Delete list', onclick: async () => { try { await post('/api/broadcast/delete', { name: l.name }); showBroadcast(); } catch (e) { fail(e, err); } } }),
        h('button', { type: 'submit', class: 'primary', text: 'Send to all' })))));
  }
  const name = h('input', { required: true, maxlength: '100' });
  const picker = contactPicker();
  const err = h('p', { class: 'error', role: 'alert' });
  add(sec, h('article', { class: 'card' }, h('h3', { text: 'New broadcast list' }), formOf(async () => {
    try {
      await post('/api/broadcast/save', { name: name.value.trim(), members: picker.values() });
      showBroadcast();
    } catch (e) {
      fail(e, err);
    }
  }, field('List name', name), picker, err, h('div', { class: 'row end' }, h('button', { type: 'submit', class: 'primary', text: 'Save list' })))));
}

// broadcastSent shows the broadcast just sent with what its author can do
// to every copy at once: edit it, or delete it for everyone.
function broadcastSent(list, msg, sentText, err) {
  const box = h('div', { class: 'card-inner' });
  const textEl = h('p', { class: 'text', dir: 'auto', text: sentText });
  return add(box, h('p', { class: 'muted small', text: 'Last broadcast:' }), textEl, h('div', { class: 'row' },
    h('button', { type: 'button', text: 'Edit for everyone', onclick: () => {
      const t = h('textarea', { rows: '3', maxlength: '65536', value: textEl.textContent });
      const derr = h('p', { class: 'error', role: 'alert' });
      const d = dialog('Edit broadcast', formOf(async () => {
        try {
          await post('/api/broadcast/edit', { name: list, msg, text: t.value });
          textEl.textContent = t.value;
          d.close();
          toast('Every copy edited.');
        } catch (e) { fail(e, derr); }
      }, field('New text', t, 'Every recipient sees their copy marked as edited. Only within 24 hours of sending.'), derr,
      h('div', { class: 'row end' }, h('button', { type: 'submit', class: 'primary', text: 'Save edit' }))));
    } }),
    h('button', { type: 'button', class: 'danger', text: 'Delete for everyone', onclick: async () => {
      if (!confirm('Delete this broadcast for everyone? Every copy is destroyed at every recipient.')) return;
      try {
        await post('/api/broadcast/unsend', { name: list, msg });
        clear(box).append(h('p', { class: 'muted small', text: 'Deleted for everyone.' }));
        refreshList();
      } catch (e) { fail(e, err); }
    } })));
}

async function showSettings() {
  S.view = 'settings';
  S.open = null;
  S.cv = null;
  renderList();
  ui.side.classList.add('narrow-hide');
  const pane = clear(ui.pane);
  const sec = h('section', { class: 'page', 'aria-labelledby': 'set-title' }, pageHead('set-title', 'Settings'));
  add(pane, sec);
  let st;
  try {
    st = await get('/api/settings');
  } catch (e) {
    return fail(e);
  }
  const card = (title, ...body) => h('article', { class: 'card' }, h('h3', { text: title }), ...body);
  const saved = (el, msg = 'Saved.') => { el.textContent = msg; setTimeout(() => { el.textContent = ''; }, 3000); };

  const acct = h('dl', { class: 'facts' }, fact('Sky ID', st.id, true), fact('Subscription', 'Asking the server…'), fact('Server', st.server, true));
  add(sec, card('Account', acct));
  const profileSlot = h('div');
  add(sec, profileSlot);
  get('/api/profile').then((p) => {
    S.typingOn = !!p.typing;
    profileSlot.replaceWith(profileCard(p, { field, formOf, post, upload, fail, saved: (el, m) => { saved(el, m); get('/api/profile').then((q) => { S.typingOn = !!q.typing; }); } }));
  }).catch((e) => fail(e));
  get('/api/account').then((a) => {
    acct.children[3].textContent = a.revoked ? 'Revoked by the operator' : `${a.daysLeft} days left (until ${new Date(a.subscriptionEnd).toLocaleDateString()})`;
  }).catch((e) => { acct.children[3].textContent = `Unknown: ${e.message}`; });

  const dt = timerSelect(st.defaultTimer, 'Default timer for new chats');
  const dtMsg = h('p', { class: 'ok small', role: 'status' });
  dt.querySelector('select').addEventListener('change', async (ev) => {
    try { await post('/api/settings/timer', { seconds: Number(ev.target.value) }); saved(dtMsg); } catch (e) { fail(e, dtMsg); }
  });
  const idle = h('select', {}, [[0, 'Never'], [60, '1 minute'], [300, '5 minutes'], [900, '15 minutes'], [3600, '1 hour'], [8 * 3600, '8 hours']].map(([s, l]) => h('option', { value: String(s), text: l })));
  if (![...idle.options].some((o) => o.value === String(st.idleLock))) add(idle, h('option', { value: String(st.idleLock), text: timerLabel(st.idleLock) }));
  idle.value = String(st.idleLock);
  const idleMsg = h('p', { class: 'ok small', role: 'status' });
  idle.addEventListener('change', async () => {
    try { await post('/api/settings/idle', { seconds: Number(idle.value) }); saved(idleMsg); } catch (e) { fail(e, idleMsg); }
  });
  add(sec, card('Privacy', dt, dtMsg, field('Lock Sky after being idle for', idle, 'Locked, Sky closes your store and forgets its keys until you type your passphrase again.'), idleMsg));

  const panic = h('input', { type: 'password', autocomplete: 'new-password' });
  const panic2 = h('input', { type: 'password', autocomplete: 'new-password' });
  const delAcct = h('input', { type: 'checkbox' });
  const panicMsg = h('p', { class: 'small', role: 'status' });
  const wipe = h('input', { type: 'number', min: '0', max: '1000', value: String(st.wipeAfter || 0) });
  const wipeMsg = h('p', { class: 'small', role: 'status' });
  const cur = h('input', { type: 'password', autocomplete: 'current-password' });
  const next = h('input', { type: 'password', autocomplete: 'new-password' });
  const next2 = h('input', { type: 'password', autocomplete: 'new-password' });
  const passMsg = h('p', { class: 'small', role: 'status' });
  add(sec, card('Security',
    h('h4', { text: 'Panic passphrase' }),
    h('p', { class: 'muted small', text: st.panicSet ? `A panic passphrase is set${st.panicDeletesAccount ? ' (it also deletes the account on the server)' : ''}. Typed at any unlock, it erases everything here, and Sky then looks freshly installed.` : 'A second passphrase that, typed at any unlock, erases everything here. Sky then looks freshly installed.' }),
    formOf(async () => {
      if (panic.value !== panic2.value) { panicMsg.textContent = 'The two panic passphrases differ.'; return; }
      try { await post('/api/settings/panic', { passphrase: panic.value, deleteAccount: delAcct.checked }); panic.value = panic2.value = ''; saved(panicMsg, 'Panic passphrase set.'); } catch (e) { fail(e, panicMsg); }
    }, field('New panic passphrase', panic), field('Again', panic2), h('label', { class: 'check' }, delAcct, 'Also delete my account on the server'),
    panicMsg, h('div', { class: 'row end' },
      st.panicSet ? h('button', { type: 'button', text: 'Clear panic passphrase', onclick: async () => { try { await post('/api/settings/panic', { clear: true }); saved(panicMsg, 'Cleared.'); } catch (e) { fail(e, panicMsg); } } }) : null,
      h('button', { type: 'submit', class: 'primary', text: 'Set panic passphrase' }))),
    h('h4', { text: 'Wipe after failed unlocks' }),
    formOf(async () => {
      try { await post('/api/settings/wipe-after', { n: Number(wipe.value) }); saved(wipeMsg); } catch (e) { fail(e, wipeMsg); }
    }, field('Erase everything after this many wrong passphrases in a row (0: never)', wipe), wipeMsg,
    h('div', { class: 'row end' }, h('button', { type: 'submit', text: 'Save' }))),
    h('h4', { text: 'Change passphrase' }),
    formOf(async () => {
      if (next.value !== next2.value) { passMsg.textContent = 'The two new passphrases differ.'; return; }
      try { await post('/api/settings/passphrase', { passphrase: cur.value, next: next.value }); cur.value = next.value = next2.value = ''; saved(passMsg, 'Passphrase changed.'); } catch (e) { fail(e, passMsg); }
    }, field('Current passphrase', cur), field('New passphrase', next), field('New passphrase again', next2), passMsg,
    h('div', { class: 'row end' }, h('button', { type: 'submit', text: 'Change passphrase' })))));
  const backupSlot = h('div');
  add(sec, backupSlot);
  get('/api/backup').then((b) => backupSlot.replaceWith(backupCard(b, { field, formOf, get, post, fail, saved }))).catch((e) => fail(e));
  add(sec, card('About', h('dl', { class: 'facts' }, fact('Sky', st.version || 'development build'), fact('Server trust root', st.trustRoot, true),
    fact('This page', 'Served by your own sky process on this computer; it keeps nothing in the browser.'))));
}

function fact(k, v, mono = false) {
  return [h('dt', { text: k }), h('dd', { class: mono ? 'mono' : '', text: v })];
}

// ---- live events (server-sent, from the local process) ----

function openEvents() {
  closeEvents();
  const es = new EventSource('/api/events');
  S.events = es;
  es.addEventListener('message', (ev) => {
    const m = JSON.parse(ev.data);
    if (S.cv && S.cv.id === m.conv) {
      appendMessage(S.cv, m, false);
      markRead(m.conv);
    }
    refreshList();
  });
  es.addEventListener('receipt', (ev) => {
    const r = JSON.parse(ev.data);
    if (!S.cv || S.cv.id !== r.conv) return refreshList();
    for (const id of r.ids) {
      const el = S.cv.list.querySelector(`.msg[data-id="${CSS.escape(id)}"] .state`);
      if (el) el.replaceWith(stateEl(r.state));
    }
  });
  es.addEventListener('attachment', (ev) => {
    const r = JSON.parse(ev.data);
    toast(`${r.name} was not downloaded: ${r.error}. Download it before it expires on the server.`);
  });
  es.addEventListener('failed', (ev) => {
    const r = JSON.parse(ev.data);
    if (S.cv && S.cv.id === r.conv) {
      const msg = S.cv.list.querySelector(`.msg[data-id="${CSS.escape(r.id)}"]`);
      if (msg) {
        msg.classList.add('failed');
        const st = msg.querySelector('.state');
        if (st) st.replaceWith(stateEl('failed', r.error));
      }
    }
    toast(`A message could not be sent: ${r.error}`);
  });
  for (const kind of ['timer', 'identity', 'group', 'gap']) {
    es.addEventListener(kind, (ev) => {
      const r = JSON.parse(ev.data);
      if (S.cv && S.cv.id === r.conv) {
        loadChat(S.cv);
        if (kind !== 'identity') loadHistory(S.cv);
      }
      if (kind === 'identity') toast(`The safety number with ${nameOf(r.conv)} changed.`);
      refreshList();
    });
  }
  es.addEventListener('action', (ev) => {
    const r = JSON.parse(ev.data);
    if (S.cv && S.cv.id === r.conv) {
      if (r.action === 'delete') S.cv.list.querySelector(`.msg[data-id="${CSS.escape(r.id)}"]`)?.remove();
      else loadHistory(S.cv);
    }
    refreshList();
  });
  es.addEventListener('profile', () => {
    refreshList();
    if (S.cv) loadChat(S.cv);
  });
  es.addEventListener('typing', (ev) => {
    noteTyping(JSON.parse(ev.data));
    if (S.cv) renderTyping(S.cv);
  });
  es.addEventListener('connection', (ev) => {
    S.connected = JSON.parse(ev.data).connected;
    renderStatus();
  });
  es.addEventListener('hello', (ev) => {
    S.connected = JSON.parse(ev.data).connected;
    renderStatus();
  });
  es.addEventListener('lagged', () => {
    refreshList();
    if (S.cv) loadHistory(S.cv);
  });
  es.addEventListener('locked', () => {
    closeEvents();
    start();
  });
  es.onerror = () => {
    // The stream ended (locked, or sky web stopped): ask what is true now.
    if (es.readyState === EventSource.CLOSED) {
      closeEvents();
      setTimeout(start, 500);
    }
  };
}

function closeEvents() {
  if (S.events) S.events.close();
  S.events = null;
}

// ---- keyboard and activity ----

document.addEventListener('keydown', (ev) => {
  if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === 'k' && ui) {
    ev.preventDefault();
    ui.side.classList.remove('narrow-hide');
    ui.search.focus();
    ui.search.select();
  }
});

// Activity holds off the idle lock (at most one note every 20 seconds).
let lastActivity = 0;
function activity() {
  if (!ui || Date.now() - lastActivity < 20000) return;
  lastActivity = Date.now();
  post('/api/activity').catch(() => {});
}
document.addEventListener('keydown', activity, { passive: true });
document.addEventListener('pointerdown', activity, { passive: true });

start();
