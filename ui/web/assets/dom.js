// Building the page without ever parsing HTML: every text, above all every
// text a peer chose (messages, names), goes in as a text node.

// h makes an element. attrs: "class", "text" (textContent), "on…" (event
// listeners), "aria-…"/"data-…"/others as attributes, and a few properties
// (value, checked, disabled, hidden, type). Children are nodes or strings
// (strings become text nodes), arrays are flattened, null is skipped.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'hidden') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

// add appends children as h does (null skipped, strings as text) and
// returns el. Element.append would turn a null into the text "null".
export function add(el, ...children) {
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// peerText is a peer-chosen text in its own bidi isolate, so a
// right-to-left override inside cannot reorder anything around it.
export function peerText(s, cls = '') {
  return h('bdi', { class: cls, dir: 'auto', text: s });
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// Durations as the page shows them.
export const timers = [
  [0, 'Off'], [30, '30 seconds'], [300, '5 minutes'], [3600, '1 hour'], [8 * 3600, '8 hours'],
  [86400, '1 day'], [7 * 86400, '1 week'], [28 * 86400, '4 weeks'],
];

export function timerLabel(sec) {
  const t = timers.find(([s]) => s === sec);
  if (t) return t[1];
  if (sec % 86400 === 0) return `${sec / 86400} days`;
  if (sec % 3600 === 0) return `${sec / 3600} hours`;
  if (sec % 60 === 0) return `${sec / 60} minutes`;
  return `${sec} seconds`;
}

export function shortTimer(sec) {
  if (sec >= 7 * 86400 && sec % (7 * 86400) === 0) return `${sec / (7 * 86400)}w`;
  if (sec >= 86400 && sec % 86400 === 0) return `${sec / 86400}d`;
  if (sec >= 3600 && sec % 3600 === 0) return `${sec / 3600}h`;
  if (sec >= 60 && sec % 60 === 0) return `${sec / 60}m`;
  return `${sec}s`;
}

// countdown says how long until ms (Unix milliseconds).
export function countdown(ms) {
  let s = Math.max(0, Math.ceil((ms - Date.now()) / 1000));
  if (s >= 86400) return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  const m = Math.floor(s / 60);
  s %= 60;
  return `${m}:${String(s).padStart(2, '0')}`;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
const shortDayFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });

export function clock(ms) { return timeFmt.format(new Date(ms)); }
export function day(ms) { return dayFmt.format(new Date(ms)); }

// when is a list entry's time: the clock today, else the date.
export function when(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return timeFmt.format(d);
  return shortDayFmt.format(d);
}

// initials of a name for its avatar.
export function initials(name) {
  const words = String(name).trim().split(/\s+/).filter(Boolean);
  const letters = words.slice(0, 2).map((w) => Array.from(w)[0] || '').join('');
  return (letters || '?').toUpperCase();
}

// hue picks an avatar colour from an ID.
export function hue(id) {
  let x = 0;
  for (const c of String(id)) x = (x * 31 + c.charCodeAt(0)) >>> 0;
  return x % 360;
}
