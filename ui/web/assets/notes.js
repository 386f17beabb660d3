// Notes to self: the encrypted notes vault, kept only in the local store.

import { h, add, peerText, clear, countdown, when } from './dom.js';
import { get, post } from './api.js';
import { icon } from './icons.js';

export async function notesView(pane, { pageHead, field, formOf, timerSelect, fail, toast }) {
  const list = h('nav', { class: 'notes-list', 'aria-label': 'Notes' });
  const editor = h('div', { class: 'note-editor' });
  const newBtn = h('button', { class: 'primary', type: 'button', onclick: () => edit(null) }, icon('plus'), ' New note');
  add(pane, h('section', { class: 'page notes', 'aria-labelledby': 'notes-title' },
    pageHead('notes-title', 'Notes to self', newBtn),
    h('p', { class: 'muted', text: 'A private notebook. Notes stay encrypted on this computer and are never sent anywhere.' }),
    h('div', { class: 'notes-grid' }, list, editor)));

  let notes = [];
  let touched = false; // the user opened a note or a new one: the first load leaves the editor be
  async function load(selectID) {
    try {
      notes = await get('/api/notes');
    } catch (e) {
      return fail(e);
    }
    clear(list);
    if (!notes.length) add(list, h('p', { class: 'muted empty', text: 'No notes yet.' }));
    for (const n of notes) {
      add(list, h('button', { class: 'note-item', 'data-note': n.id, onclick: () => edit(n) },
        h('strong', {}, peerText(n.title)),
        h('span', { class: 'muted small' }, when(n.updated),
          n.expires ? h('span', { class: 'countdown', 'data-expires': String(n.expires), title: 'Disappears' }, icon('timer'), h('span', { text: countdown(n.expires) })) : null)));
    }
    const sel = notes.find((n) => n.id === selectID);
    if (sel) edit(sel);
    else if (selectID !== undefined || !touched) edit(notes[0] || null, true);
  }

  function edit(n, auto = false) {
    if (!auto) touched = true;
    for (const b of list.querySelectorAll('.note-item')) b.classList.toggle('active', !!n && b.dataset.note === n.id);
    const title = h('input', { value: n ? n.title : '', maxlength: '200', required: true });
    const text = h('textarea', { rows: '12', value: n ? n.text : '' });
    const timer = timerSelect(n ? n.timer : 0, 'Disappears after');
    const err = h('p', { class: 'error', role: 'alert' });
    add(clear(editor), formOf(async () => {
      try {
        const saved = await post('/api/notes/save', { id: n ? n.id : '', title: title.value, text: text.value, seconds: Number(timer.querySelector('select').value) });
        toast('Note saved.');
        load(saved.id);
      } catch (e) {
        fail(e, err);
      }
    }, field('Title', title), field('Note', text), timer, err,
    h('div', { class: 'row end' },
      n ? h('button', { type: 'button', class: 'danger', text: 'Delete note', onclick: async () => {
        if (!confirm('Delete this note?')) return;
        try {
          await post('/api/notes/delete', { id: n.id });
          toast('Note deleted.');
          load('');
        } catch (e) {
          fail(e, err);
        }
      } }) : null,
      h('button', { type: 'submit', class: 'primary', text: 'Save note' }))));
    if (!n && !auto) title.focus();
  }
  load();
}
