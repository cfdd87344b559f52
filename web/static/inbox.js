// The moderation inbox: pending photos of every user, decided one or many at a time.
import * as api from './api.js';
import { h, heading, showError, announce, time, fileName, labelList, picture, sensitive, pct, setInboxCount } from './ui.js';

export async function inboxPage(root) {
  document.title = 'Inbox – photoflow';
  root.append(heading('Moderation inbox'));
  if (api.session.user.role !== 'reviewer') {
    root.append(h('p', {}, 'Only reviewers can see the moderation inbox.'));
    return;
  }
  const all = h('input', { type: 'checkbox', id: 'select-all' });
  const count = h('span', { class: 'meta', 'aria-live': 'polite' });
  const reason = h('input', { id: 'decision-reason', name: 'reason', type: 'text', maxlength: 500, autocomplete: 'off' });
  const approve = h('button', { type: 'button', id: 'approve-selected' }, 'Approve selected');
  const reject = h('button', { type: 'button', id: 'reject-selected', class: 'danger' }, 'Reject selected');
  const refresh = h('button', { type: 'button', class: 'small' }, 'Refresh');
  const results = h('ul', { class: 'results', 'aria-label': 'Decision results' });
  const list = h('ul', { class: 'inbox', 'aria-label': 'Photos waiting for review' });
  const empty = h('p', { hidden: true }, 'Nothing is waiting for review.');
  root.append(
    h('div', { class: 'toolbar' },
      h('label', { class: 'check' }, all, ' Select all'), count,
      h('label', { class: 'field', for: 'decision-reason' }, h('span', {}, 'Reason (optional, shown to the owner)')), reason,
      h('div', { class: 'actions' }, approve, reject, refresh)),
    results, empty, list);

  // Decided photos leave the list at once: the store shows the outcome a moment later.
  const decided = new Set();
  const boxes = () => [...list.querySelectorAll('input[type=checkbox][data-image-id]')];
  function syncAll() {
    const b = boxes(), n = b.filter(x => x.checked).length;
    all.checked = n > 0 && n === b.length;
    all.indeterminate = n > 0 && n < b.length;
    count.textContent = `${n} of ${b.length} selected`;
  }
  all.addEventListener('change', () => { boxes().forEach(b => { b.checked = all.checked; }); syncAll(); });
  list.addEventListener('change', syncAll);

  async function load() {
    const keep = new Set(boxes().filter(b => b.checked).map(b => b.dataset.imageId));
    const { records: all = [] } = await api.get('/api/reviews');
    const records = all.filter(r => !decided.has(r.imageID));
    setInboxCount(records.length);
    empty.hidden = records.length > 0;
    list.replaceChildren(...records.map(r => item(r, keep.has(r.imageID))));
    syncAll();
  }

  async function decide(decision) {
    const ids = boxes().filter(b => b.checked).map(b => b.dataset.imageId);
    if (!ids.length) return showError(new Error('Select at least one photo first.'));
    approve.disabled = reject.disabled = true;
    try {
      const res = await api.post('/api/reviews/decisions', { imageIDs: ids, decision, reason: reason.value.trim() });
      const out = res?.results || [];
      const ok = out.filter(x => x.accepted).length;
      out.filter(x => x.accepted).forEach(x => decided.add(x.imageID));
      results.replaceChildren(...out.map(x => h('li', { class: x.accepted ? 'ok' : 'err' },
        `${fileName(x.imageID)}: `,
        x.accepted ? `${decision === 'approve' ? 'approved' : 'rejected'}${x.status ? ` (now ${x.status})` : ''}`
          : `not accepted${x.error ? `: ${x.error}` : ''}${x.status ? ` (${x.status})` : ''}`)));
      announce(`${ok} of ${out.length} ${decision === 'approve' ? 'approved' : 'rejected'}.`);
      reason.value = '';
      await load();
    } catch (e) {
      showError(e);
    } finally {
      approve.disabled = reject.disabled = false;
    }
  }
  approve.addEventListener('click', () => decide('approve'));
  reject.addEventListener('click', () => decide('reject'));
  refresh.addEventListener('click', () => load().then(() => announce('Inbox refreshed.'), showError));
  await load();
}

function item(r, checked) {
  const name = fileName(r.imageID);
  const m = r.moderation || {};
  // thumbnails are made after review, so the reviewer sees the original (blurred)
  const src = api.media(r.thumbnail?.key ? 'thumbnail' : 'original', r.imageID);
  return h('li', { class: 'inbox-item' },
    sensitive(picture(src, `${name} (pending review)`), true),
    h('div', { class: 'card-body' },
      h('label', { class: 'check' },
        h('input', { type: 'checkbox', checked, dataset: { imageId: r.imageID } }), ' ',
        h('strong', {}, name)),
      h('p', { class: 'meta' }, `Owner ${r.userID} · album ${r.albumID} · `,
        h('a', { href: `#/photo/${api.enc(r.imageID)}` }, 'details')),
      h('p', {}, `Moderation score ${pct(m.score)}`),
      labelList(m.labels),
      h('p', { class: 'meta' }, 'Waiting since ', time(r.updateTime, 'ago') || time(r.uploadTime, 'ago') || '?',
        m.deadlineAt ? ['; deadline ', time(m.deadlineAt, 'ago')] : '')));
}
