// The album list: create, rename inline, delete (in the background, so we poll until it is gone).
import * as api from './api.js';
import { h, heading, showError, announce, poller, confirmDialog, time } from './ui.js';

// Survives page changes: a deletion keeps running while the user looks elsewhere.
const deleting = new Set();

export async function albumsPage(root, scope) {
  const input = h('input', { name: 'name', id: 'album-name', required: true, maxlength: 100, autocomplete: 'off' });
  const form = h('form', { id: 'album-form', class: 'inline-form' },
    h('label', { for: 'album-name' }, 'New album'), input, h('button', { type: 'submit' }, 'Create album'));
  const list = h('ul', { class: 'albums', 'aria-label': 'Albums' });
  const empty = h('p', { hidden: true }, 'No albums yet. Create one to start uploading photos.');
  root.append(heading('Albums'), form, empty, list);

  let last = '';
  let editing = null;
  let refocus = null;
  const poll = poller(scope, async () => {
    const { albums = [] } = await api.get('/api/albums');
    for (const id of deleting) {
      if (!albums.some(a => a.albumID === id)) { deleting.delete(id); announce(`Album ${id} deleted.`); }
    }
    const sig = JSON.stringify([albums, [...deleting]]);
    // re-rendering only on change keeps focus and an open rename form intact while we poll
    if (sig !== last && !editing) {
      last = sig;
      empty.hidden = albums.length > 0;
      list.replaceChildren(...albums.map(card));
    }
    if (refocus && !editing) {
      list.querySelector(`[data-album-id="${CSS.escape(refocus)}"] h2 a`)?.focus();
      refocus = null;
    }
    return deleting.size > 0;
  });

  form.addEventListener('submit', async e => {
    e.preventDefault();
    const name = input.value.trim();
    if (!name) return;
    try {
      const a = await api.post('/api/albums', { name });
      input.value = '';
      announce(`Album “${a.name}” created.`);
      poll.kick();
    } catch (err) { showError(err); }
  });

  function card(a) {
    const busy = deleting.has(a.albumID);
    const count = a.photoCount ?? 0;
    const title = h('h2', {}, h('a', { href: `#/albums/${api.enc(a.albumID)}` }, a.name));
    const cover = typeof a.cover === 'string' && a.cover.startsWith('/media/')
      ? h('img', { src: a.cover, alt: '', loading: 'lazy' })
      : h('span', { class: 'noimg' }, 'No photos');
    const rename = h('button', { type: 'button', disabled: busy }, 'Rename');
    const remove = h('button', { type: 'button', class: 'danger', disabled: busy }, 'Delete');
    rename.addEventListener('click', () => renameForm(a, title));
    remove.addEventListener('click', () => removeAlbum(a, count));
    return h('li', { class: 'album', dataset: { albumId: a.albumID } },
      h('div', { class: 'thumb' }, cover), title,
      h('p', { class: 'meta' }, `${count} photo${count === 1 ? '' : 's'} · created `, time(a.createdAt)),
      busy ? h('p', { class: 'meta' }, 'Deleting…') : h('div', { class: 'actions' }, rename, remove));
  }

  function renameForm(a, title) {
    const field = h('input', { value: a.name, required: true, maxlength: 100, 'aria-label': `New name for ${a.name}` });
    const done = () => { editing = null; refocus = a.albumID; last = ''; poll.kick(); };
    const f = h('form', { class: 'inline-form rename' }, field,
      h('button', { type: 'submit' }, 'Save'), h('button', { type: 'button', onclick: done }, 'Cancel'));
    f.addEventListener('keydown', e => { if (e.key === 'Escape') done(); });
    f.addEventListener('submit', async e => {
      e.preventDefault();
      try {
        const r = await api.patch(`/api/albums/${api.enc(a.albumID)}`, { name: field.value.trim() });
        announce(`Album renamed to “${r?.name ?? field.value}”.`);
        done();
      } catch (err) { showError(err); field.focus(); }
    });
    editing = a.albumID;
    title.replaceWith(f);
    field.select();
  }

  async function removeAlbum(a, count) {
    const ok = await confirmDialog(`Delete album “${a.name}”?`,
      `Its ${count} photo${count === 1 ? '' : 's'} will be deleted too, with their thumbnails and records. This cannot be undone.`,
      'Delete album and photos');
    if (!ok) return;
    try {
      await api.del(`/api/albums/${api.enc(a.albumID)}`);
      deleting.add(a.albumID);
      announce(`Deleting album “${a.name}”…`);
      poll.kick();
    } catch (err) { showError(err); }
  }

  await poll.now();
}
