// Failed photos, with a re-run for failures the server calls transient.
import * as api from './api.js';
import { h, heading, showError, announce, time, fileName } from './ui.js';

let transient = null;

// The server owns the list of transient error types; fetch it once for the photo page.
export async function transientErrors() {
  if (!transient) transient = (await api.get('/api/failures')).transient || [];
  return transient;
}

export function rerunButton(r) {
  const name = fileName(r.imageID);
  const btn = h('button', { type: 'button', class: 'small' }, 'Re-run');
  btn.setAttribute('aria-label', `Re-run ${name}`);
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    try {
      await api.post(`/api/images/${api.enc(r.imageID)}/rerun`);
      const note = h('span', { class: 'meta', role: 'status' }, 'Re-run started. ',
        h('a', { href: `#/albums/${api.enc(r.albumID)}` }, 'Watch it in the album'));
      btn.replaceWith(note);
      note.querySelector('a').focus();
      announce(`Re-run of ${name} started.`);
    } catch (e) {
      btn.disabled = false;
      showError(e);
    }
  });
  return btn;
}

export async function failuresPage(root) {
  document.title = 'Failures – photoflow';
  const list = h('ul', { class: 'failures', 'aria-label': 'Failed photos' });
  const empty = h('p', { hidden: true }, 'No failed photos.');
  const refresh = h('button', { type: 'button', class: 'small' }, 'Refresh');
  root.append(heading('Failures'), h('p', {}, refresh), empty, list);

  async function load() {
    const data = await api.get('/api/failures');
    transient = data.transient || [];
    const records = data.records || [];
    empty.hidden = records.length > 0;
    list.replaceChildren(...records.map(r => h('li', { class: 'failure', dataset: { imageId: r.imageID, status: r.status } },
      h('h2', {}, h('a', { href: `#/photo/${api.enc(r.imageID)}` }, fileName(r.imageID))),
      h('p', { class: 'meta' }, `Album ${r.albumID} · uploaded `, time(r.uploadTime)),
      h('p', { class: 'err' }, h('strong', {}, r.errorType || 'Error'), r.errReason ? `: ${r.errReason}` : ''),
      transient.includes(r.errorType) ? rerunButton(r) : h('p', { class: 'meta' }, 'Not retryable: the input must change.'))));
  }
  refresh.addEventListener('click', () => load().then(() => announce('Failures refreshed.'), showError));
  await load();
}
