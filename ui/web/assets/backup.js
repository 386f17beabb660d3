// Encrypted backups in the settings: a backup by hand to a file on this
// computer, the recovery key shown once when a backup makes it, and the
// schedule. Paths are the user's own; nothing here comes from a peer.

import { h, add, clear } from './dom.js';

// keyBox shows a new recovery key, once, with what it is for.
function keyBox(code) {
  return h('div', { class: 'card recovery-key', role: 'alert' },
    h('h4', { text: 'Your recovery key' }),
    h('p', { class: 'mono', text: code }),
    h('p', { class: 'small', text: 'Write it down now and keep it apart from your backups: it is shown only this once, and without it no backup can be restored. Anyone with it and a backup has your account.' }));
}

export function backupCard(st, { field, formOf, get, post, fail, saved }) {
  const status = h('p', { class: 'muted small' });
  const show = (b) => {
    const parts = [b.keySet ? 'A recovery key is set.' : 'No backup yet: the first one makes your recovery key.'];
    if (b.every) parts.push(`Automatic backups every ${Math.round(b.every / 3600)} h to ${b.dir}, keeping ${b.keep}.`);
    if (b.last) parts.push(`Last: ${new Date(b.last).toLocaleString()}${b.lastError ? ` (failed: ${b.lastError})` : ''}.`);
    parts.push(`${b.files.length} backup file${b.files.length === 1 ? '' : 's'} written by this computer (the panic passphrase erases them).`);
    status.textContent = parts.join(' ');
  };
  show(st);
  const keySlot = h('div');
  const showKey = (code) => { clear(keySlot); if (code) add(keySlot, keyBox(code)); };
  const refresh = () => get('/api/backup').then(show).catch((e) => fail(e, status));

  const path = h('input', { class: 'mono', placeholder: '/home/you/sky.skybackup', spellcheck: 'false', autocomplete: 'off' });
  const disappearing = h('input', { type: 'checkbox' });
  const msg = h('p', { class: 'small', role: 'status' });
  const now = formOf(async () => {
    msg.textContent = 'Backing up…';
    try {
      const r = await post('/api/backup/create', { path: path.value.trim(), disappearing: disappearing.checked });
      msg.textContent = `Backed up ${r.messages} messages and ${r.files} files to ${r.path}.${r.leftOut ? ` ${r.leftOut} disappearing messages left out.` : ''}`;
      showKey(r.recoveryKey);
      refresh();
    } catch (e) { fail(e, msg); }
  }, field('Back up to this file', path, 'A new file; everything in it is encrypted under your recovery key.'),
  h('label', { class: 'check' }, disappearing, 'Include disappearing messages (each keeps its deadline, but a copy of the file keeps them past it)'),
  msg, h('div', { class: 'row end' }, h('button', { type: 'submit', class: 'primary', text: 'Back up now' })));

  const dir = h('input', { class: 'mono', placeholder: '/media/usb/sky-backups', spellcheck: 'false', autocomplete: 'off', value: st.dir || '' });
  const every = h('select', {}, [[12 * 3600, 'Every 12 hours'], [86400, 'Every day'], [7 * 86400, 'Every week']].map(([s, l]) => h('option', { value: String(s), text: l })));
  every.value = String(st.every || 86400);
  const keep = h('input', { type: 'number', min: '1', max: '100', value: String(st.keep || 7) });
  const schedMsg = h('p', { class: 'small', role: 'status' });
  const sched = formOf(async () => {
    try {
      const r = await post('/api/backup/schedule', { path: dir.value.trim(), seconds: Number(every.value), n: Number(keep.value) });
      showKey(r.recoveryKey);
      saved(schedMsg, 'Automatic backups are on while Sky runs.');
      refresh();
    } catch (e) { fail(e, schedMsg); }
  }, field('Folder', dir), field('How often', every), field('Keep the newest', keep), schedMsg,
  h('div', { class: 'row end' },
    h('button', { type: 'button', text: 'Turn off', onclick: async () => { try { await post('/api/backup/schedule', { clear: true }); saved(schedMsg, 'Automatic backups are off.'); refresh(); } catch (e) { fail(e, schedMsg); } } }),
    h('button', { type: 'submit', text: 'Save schedule' })));

  return h('article', { class: 'card', id: 'backups' }, h('h3', { text: 'Backups' }), status, keySlot, now,
    h('h4', { text: 'Automatic backups' }), sched);
}
