// One album: uploads with progress, then the photo grid with live pipeline status.
import * as api from './api.js';
import { h, heading, showError, announce, poller, time, fmtBytes, fileName, badge, statusText, hidden, labelList, picture } from './ui.js';

// Kept per album across page visits: uploads keep running when the user looks elsewhere,
// and their rows and "just uploaded" cards must still be there on return.
const uploadLists = new Map();
const fresh = new Map(); // albumID → Map(imageID → time the upload finished)
const kicks = new Map(); // albumID → restart polling of the page showing it
const FRESH_MS = 5 * 60 * 1000;
const MAX_PROGRESS = 20; // bound the /progress requests one poll makes

const running = s => s === 'PROCESSING' || s === 'UPLOADED';
const recordStatuses = new Set(['PROCESSING', 'PENDING_REVIEW', 'SUCCEEDED', 'REJECTED', 'FAILED']);

export async function albumPage(root, scope, albumID) {
  const title = heading('Album');
  const input = h('input', { type: 'file', id: 'upload-input', multiple: true, accept: 'image/*' });
  const max = api.session.maxUpload;
  const drop = h('div', { class: 'dropzone' },
    h('label', { for: 'upload-input' }, 'Add photos: choose files, or drop them anywhere on this page'),
    input,
    max ? h('p', { class: 'meta' }, `Up to ${fmtBytes(max)} per file.`) : null);
  if (!uploadLists.has(albumID)) uploadLists.set(albumID, h('ul', { class: 'uploads', 'aria-label': 'Uploads' }));
  const uploads = uploadLists.get(albumID);
  const clear = h('button', { type: 'button', class: 'small' }, 'Clear finished uploads');
  clear.addEventListener('click', () => uploads.querySelectorAll('li.done, li.error').forEach(li => li.remove()));
  const grid = h('ul', { class: 'grid', 'aria-label': 'Photos' });
  const empty = h('p', { hidden: true }, 'No photos in this album yet.');
  root.append(h('p', {}, h('a', { href: '#/albums' }, '← Albums')), title, drop, uploads, clear,
    h('h2', {}, 'Photos'), empty, grid);

  input.addEventListener('change', () => { send([...input.files]); input.value = ''; });
  // counting enter/leave because they also fire for every child element crossed
  let depth = 0;
  const hasFiles = e => [...(e.dataTransfer?.types || [])].includes('Files');
  root.addEventListener('dragenter', e => { if (hasFiles(e)) { depth++; drop.classList.add('over'); } });
  root.addEventListener('dragleave', () => { if (--depth <= 0) { depth = 0; drop.classList.remove('over'); } });
  root.addEventListener('dragover', e => { if (hasFiles(e)) { e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; } });
  root.addEventListener('drop', e => {
    e.preventDefault();
    depth = 0;
    drop.classList.remove('over');
    send([...(e.dataTransfer?.files || [])]);
  });

  function send(files) {
    for (const f of files) startUpload(f, albumID, uploads);
  }

  const cards = new Map(); // imageID → { el, sig, status }
  let order = '';
  const poll = poller(scope, async () => {
    const { records = [] } = await api.get(`/api/albums/${api.enc(albumID)}/images`);
    const seen = new Set(records.map(r => r.imageID));
    const mine = fresh.get(albumID) || new Map();
    const now = Date.now();
    const pending = [...mine.keys()].filter(id => !seen.has(id)).reverse()
      .map(id => ({ imageID: id, albumID, status: 'UPLOADED' }));
    const items = [...pending, ...records];
    await Promise.all(items.filter(r => running(r.status)).slice(0, MAX_PROGRESS).map(async r => {
      try {
        const p = await api.get(`/api/images/${api.enc(r.imageID)}/progress`);
        if (p?.record?.imageID) Object.assign(r, p.record);
        else if (recordStatuses.has(p?.status)) r.status = p.status;
        r.progress = p;
      } catch (e) {
        // a just-uploaded photo may not have a record yet
        if (!(e.status === 404 && r.status === 'UPLOADED')) throw e;
      }
    }));
    for (const r of items) {
      const t = mine.get(r.imageID);
      if (t && (!running(r.status) || now - t > FRESH_MS)) mine.delete(r.imageID);
    }
    render(items);
    return items.some(r => running(r.status) || mine.has(r.imageID));
  });
  kicks.set(albumID, poll.kick);

  function render(items) {
    const focusedId = document.activeElement?.closest?.('[data-image-id]')?.dataset.imageId;
    const next = new Map();
    for (const r of items) {
      const sig = JSON.stringify([r, r.progress?.stage, r.progress?.attempt, r.progress?.lastError]);
      const old = cards.get(r.imageID);
      if (old && old.sig === sig) { next.set(r.imageID, old); continue; }
      const el = card(r);
      if (old) {
        old.el.replaceWith(el);
        if (old.status !== r.status) announce(`${fileName(r.imageID)}: ${statusText(r)}`);
      }
      next.set(r.imageID, { el, sig, status: r.status });
    }
    cards.clear();
    next.forEach((v, k) => cards.set(k, v));
    const ids = items.map(r => r.imageID).join('\n');
    if (ids !== order) { order = ids; grid.replaceChildren(...items.map(r => next.get(r.imageID).el)); }
    empty.hidden = items.length > 0;
    if (focusedId && !grid.contains(document.activeElement)) {
      grid.querySelector(`[data-image-id="${CSS.escape(focusedId)}"] a`)?.focus();
    }
  }

  const load = api.get('/api/albums').then(({ albums = [] }) => {
    const a = albums.find(x => x.albumID === albumID);
    title.textContent = a ? a.name : albumID;
    document.title = `${title.textContent} – photoflow`;
    if (!a) showError(new Error(`There is no album “${albumID}”. It may have been deleted.`));
  });
  await Promise.all([load, poll.now()]);
}

function card(r) {
  const name = fileName(r.imageID);
  const status = statusText(r);
  let img;
  if (r.thumbnail?.key) img = picture(api.media('thumbnail', r.imageID), `${name} (${status})`);
  else if (r.status === 'PENDING_REVIEW' || r.status === 'REJECTED' || r.status === 'SUCCEEDED') {
    // review happens before the thumbnail exists, so fall back to the original (blurred)
    img = picture(api.media('original', r.imageID), `${name} (${status})`);
  } else {
    img = h('span', { class: 'noimg', role: 'img', 'aria-label': `${name} (${status})` },
      running(r.status) ? 'Processing…' : 'No preview');
  }
  const m = r.moderation;
  return h('li', { class: 'card', dataset: { imageId: r.imageID, status: r.status } },
    h('div', { class: `thumb${hidden(r) ? ' blur' : ''}` }, img),
    h('div', { class: 'card-body' },
      h('a', { class: 'name', href: `#/photo/${api.enc(r.imageID)}` }, name),
      h('div', {}, badge(r)),
      r.status === 'PROCESSING' && r.progress?.lastError
        ? h('p', { class: 'meta' }, `Retrying after: ${r.progress.lastError}`) : null,
      r.status === 'FAILED' && (r.errReason || r.errorType)
        ? h('p', { class: 'err' }, [r.errorType, r.errReason].filter(Boolean).join(': ')) : null,
      // Decisions are auto-approved, auto-rejected, approved, rejected, default-approved or
      // default-rejected; the routine auto-approval is not worth a line on every card.
      m?.decision && m.decision !== 'auto-approved' ? h('p', { class: 'meta' }, `${m.decision.includes('reject') ? 'Rejected' : 'Approved'} by ${m.reviewer || 'automatic moderation'}`,
        m.decidedAt ? [', ', time(m.decidedAt)] : '', m.reason ? `: ${m.reason}` : '') : null,
      labelList(r.labels, 3),
      r.uploadTime ? h('p', { class: 'meta' }, 'Uploaded ', time(r.uploadTime)) : null));
}

function startUpload(file, albumID, list) {
  const bar = h('progress', { max: 100, value: 0, 'aria-label': `Upload of ${file.name}` });
  const msg = h('span', { class: 'upload-msg' }, 'Starting…');
  const cancel = h('button', { type: 'button', class: 'small' }, 'Cancel');
  const row = h('li', { class: 'upload' },
    h('span', { class: 'upload-name' }, file.name), h('span', { class: 'meta' }, fmtBytes(file.size)), bar, msg, cancel);
  list.prepend(row);
  const finish = (cls, text) => {
    row.classList.add(cls);
    msg.textContent = text;
    cancel.remove();
    announce(`${file.name}: ${text}`);
  };
  const max = api.session?.maxUpload;
  if (max && file.size > max) {
    bar.remove();
    return finish('error', `Not uploaded: ${fmtBytes(file.size)} is over the ${fmtBytes(max)} limit.`);
  }
  const { promise, abort } = api.upload(file, albumID, p => {
    bar.value = Math.round(p * 100);
    msg.textContent = p < 1 ? `Uploading ${bar.value}%` : 'Sent, waiting for the server…';
  });
  cancel.addEventListener('click', abort);
  promise.then(res => {
    bar.value = 100;
    finish('done', 'Uploaded; its progress shows on the photo below.');
    if (!fresh.has(albumID)) fresh.set(albumID, new Map());
    fresh.get(albumID).set(res.imageID, Date.now());
    kicks.get(albumID)?.();
  }, err => {
    const text = err.status === 413 ? `Too large for the server: ${err.message}` : err.message;
    finish('error', `Not uploaded: ${text}`);
  });
}
