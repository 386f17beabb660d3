// Replies, reactions, edits, deletion for everyone, typing indicators and
// profiles in the page. Every peer-chosen text (excerpts, emoji, names)
// goes in as text.

import { h, add, peerText, clear } from './dom.js';
import { icon } from './icons.js';

// The reactions offered in a message's menu (any one emoji can be sent).
export const quickReactions = ['👍', '❤️', '😂', '😮', '😢', '🙏'];

// displayName is what the page calls a contact: the user's nickname, else
// "~" and the name their profile claims (marked when it equals another
// contact's name: it may be someone posing as them), else the ID.
export function displayName(c) {
  if (c.name) return c.name;
  if (c.profile) return `~${c.profile}${c.clash ? ' (same name as another contact)' : ''}`;
  return c.id;
}

// quoteEl shows the message a reply quotes.
export function quoteEl(q, nameOf) {
  if (!q) return null;
  return h('div', { class: 'quote' + (q.missing ? ' missing' : '') },
    h('span', { class: 'quote-from' }, peerText(nameOf(q.from))),
    q.missing ? h('span', { class: 'muted', text: 'Original message not available' }) : h('span', { class: 'quote-text' }, peerText(q.excerpt || '')));
}

// reactionsEl shows the reactions, counted by emoji; the title says who.
export function reactionsEl(rs, nameOf) {
  if (!rs || !rs.length) return null;
  const by = new Map();
  for (const r of rs) by.set(r.emoji, [...(by.get(r.emoji) || []), nameOf(r.by)]);
  return h('div', { class: 'reactions', 'aria-label': 'Reactions' },
    [...by].map(([emoji, who]) => h('span', { class: 'reaction', title: who.join(', '), 'aria-label': `${emoji} by ${who.join(', ')}` },
      peerText(emoji), who.length > 1 ? h('span', { class: 'count', text: String(who.length) }) : null)));
}

// actionMenu is a message's "Message actions" button and its menu: reply,
// react, and for the user's own texts edit and delete for everyone.
export function actionMenu(m, act) {
  const menu = h('div', { class: 'msg-menu', role: 'menu', hidden: true });
  const item = (label, fn, cls = '') => h('button', { type: 'button', role: 'menuitem', class: cls, text: label,
    onclick: () => { menu.hidden = true; fn(); } });
  add(menu, h('div', { class: 'react-row' }, quickReactions.map((e) => h('button', { type: 'button', role: 'menuitem',
    class: 'react-pick', 'aria-label': `React ${e}`, text: e, onclick: () => { menu.hidden = true; act.react(m, e); } }))),
  item('Reply', () => act.reply(m)),
  (m.reactions || []).some((r) => r.by === act.me) ? item('Remove reaction', () => act.react(m, '')) : null,
  m.out && m.text ? item('Edit', () => act.edit(m)) : null,
  m.out ? item('Delete for everyone', () => act.unsend(m), 'danger') : null);
  const btn = h('button', { type: 'button', class: 'icon msg-more', 'aria-label': 'Message actions', title: 'Message actions',
    'aria-haspopup': 'menu', onclick: (ev) => {
      ev.stopPropagation();
      for (const o of document.querySelectorAll('.msg-menu')) if (o !== menu) o.hidden = true;
      menu.hidden = !menu.hidden;
    } }, icon('more'));
  return h('span', { class: 'msg-actions' }, btn, menu);
}
document.addEventListener('click', () => { for (const o of document.querySelectorAll('.msg-menu')) o.hidden = true; });

// replyBar shows, above the composer, the message being replied to.
export function replyBar(m, nameOf, cancel) {
  return h('div', { class: 'reply-bar', role: 'status' }, icon('reply'),
    h('span', { class: 'reply-to' }, 'Replying to ', peerText(nameOf(m.from)), ': ', peerText((m.text || '').slice(0, 120))),
    h('button', { type: 'button', class: 'icon', 'aria-label': 'Cancel reply', title: 'Cancel reply', onclick: cancel }, icon('close')));
}

// Typing indicators: who is typing where, each until its time.
const typing = new Map(); // conv -> Map(peer -> until, ms)

export function noteTyping(r) {
  if (!typing.has(r.conv)) typing.set(r.conv, new Map());
  if (r.typing) typing.get(r.conv).set(r.peer, r.until);
  else typing.get(r.conv).delete(r.peer);
}

// typingText says who is typing in conv now ('' for nobody).
export function typingText(conv, nameOf) {
  const now = Date.now();
  const who = [...(typing.get(conv) || new Map())].filter(([, until]) => until > now).map(([p]) => nameOf(p));
  if (!who.length) return '';
  return who.length === 1 ? `${who[0]} is typing…` : `${who.join(', ')} are typing…`;
}

// Typist sends the user's own typing: "started" at most every 3 seconds
// while they type (the SDK also holds to that), "stopped" after a pause or
// a send. Nothing goes when indicators are off.
export class Typist {
  constructor(post, id, on) { this.post = post; this.id = id; this.on = on; this.at = 0; this.stopT = 0; }
  input() {
    if (!this.on()) return;
    clearTimeout(this.stopT);
    this.stopT = setTimeout(() => this.stop(), 5000);
    if (Date.now() - this.at < 3000) return;
    this.at = Date.now();
    this.post('/api/typing', { id: this.id, on: true }).catch(() => {});
  }
  stop() {
    clearTimeout(this.stopT);
    if (!this.at) return;
    this.at = 0;
    this.post('/api/typing', { id: this.id, on: false }).catch(() => {});
  }
}

// profileCard is the settings' card for the user's profile and typing
// indicators.
export function profileCard(p, { field, formOf, post, upload, fail, saved }) {
  const name = h('input', { maxlength: '64', value: p.name || '' });
  const msg = h('p', { class: 'ok small', role: 'status' });
  const pic = h('input', { type: 'file', accept: 'image/jpeg,image/png,image/webp' });
  const img = p.avatar ? h('img', { class: 'avatar-img big', src: p.avatar, alt: 'Your picture' }) : null;
  const typingBox = h('input', { type: 'checkbox', checked: !!p.typing });
  const typingMsg = h('p', { class: 'ok small', role: 'status' });
  typingBox.addEventListener('change', async () => {
    try { await post('/api/settings/typing', { on: typingBox.checked }); saved(typingMsg); } catch (e) { fail(e, typingMsg); }
  });
  return h('article', { class: 'card' }, h('h3', { text: 'Profile' }),
    h('p', { class: 'muted small', text: 'Your name and picture go end to end to your contacts and the members of your groups — never to the server, and never to someone whose request you have not accepted.' }),
    img,
    formOf(async () => {
      try {
        await post('/api/profile/save', { name: name.value.trim() });
        if (pic.files.length) await upload('/api/profile/avatar', {}, pic.files[0]);
        saved(msg, 'Profile saved.');
      } catch (e) { fail(e, msg); }
    }, field('Display name', name), field('Picture', pic, 'Scaled to 256 pixels and sent as a new JPEG: nothing else of the file goes.'), msg,
    h('div', { class: 'row end' }, h('button', { type: 'submit', class: 'primary', text: 'Save profile' }))),
    h('label', { class: 'check' }, typingBox, 'Typing indicators (others see when you type, and you see when they do)'), typingMsg);
}

export { clear };
