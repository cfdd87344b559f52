// One photo: the original, the whole record, and the run's stages (live while it runs).
import * as api from './api.js';
import { h, heading, poller, time, fmtBytes, fileName, badge, statusText, hidden, labelList, picture, sensitive, pct } from './ui.js';
import { rerunButton, transientErrors } from './failures.js';

export async function photoPage(root, scope, imageID) {
  const name = fileName(imageID);
  document.title = `${name} – photoflow`;
  const back = h('a', { href: '#/albums' }, '← Albums');
  const figure = h('figure', { class: 'photo' });
  const details = h('div', { class: 'details' });
  root.append(h('p', {}, back), heading(name), figure, details);

  let last = '', shownStatus = null;
  const poll = poller(scope, async () => {
    const [rec, prog] = await Promise.all([
      api.get(`/api/images/${api.enc(imageID)}`),
      api.get(`/api/images/${api.enc(imageID)}/progress`).catch(e => {
        // no run history (yet, or any more) is not an error for this page
        if (e.status === 404) return null;
        throw e;
      }),
    ]);
    const r = prog?.record?.imageID && rec.status === 'PROCESSING' ? { ...rec, ...prog.record } : rec;
    r.progress = prog;
    const transient = r.status === 'FAILED' ? await transientErrors() : [];
    const sig = JSON.stringify([r, transient]);
    if (sig !== last) {
      last = sig;
      back.setAttribute('href', `#/albums/${api.enc(r.albumID)}`);
      back.textContent = `← ${r.albumID}`;
      // the full image is re-created only when its blur state changes, to avoid reloading it
      if (hidden(r) !== shownStatus) {
        shownStatus = hidden(r);
        figure.replaceChildren(sensitive(picture(api.media('original', imageID), `${name} (${statusText(r)})`), hidden(r)));
      }
      details.replaceChildren(recordList(r, transient), stageTable(prog));
    }
    return r.status === 'PROCESSING';
  });
  await poll.now();
}

function row(term, ...value) {
  if (value.every(v => v == null || v === '')) return null;
  return [h('dt', {}, term), h('dd', {}, ...value)];
}

function recordList(r, transient) {
  const m = r.moderation;
  const g = r.geo;
  const lat = Number(g?.latitude), lon = Number(g?.longitude);
  const geo = g && Number.isFinite(lat) && Number.isFinite(lon)
    ? h('a', { href: `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=15/${lat}/${lon}`, rel: 'noopener noreferrer', target: '_blank' },
      `${lat.toFixed(5)}, ${lon.toFixed(5)} (OpenStreetMap, opens a new tab)`)
    : null;
  const ui = api.session?.temporalUI;
  const temporal = ui && /^https?:\/\//.test(ui) && r.workflowId && r.runId
    ? h('a', { href: `${ui}/namespaces/default/workflows/${api.enc(r.workflowId)}/${api.enc(r.runId)}/history`, target: '_blank', rel: 'noopener noreferrer' }, 'Open run in Temporal')
    : null;
  const dims = r.dimensions ? `${r.dimensions.width} × ${r.dimensions.height} px` : null;
  return h('dl', { class: 'record' },
    row('Status', badge(r), r.status === 'FAILED' && transient.includes(r.errorType) ? [' ', rerunButton(r)] : null),
    row('Labels', labelList(r.labels)),
    row('Tags', (r.tags || []).join(', ')),
    row('Album', r.albumID), row('Owner', r.userID),
    row('Uploaded', time(r.uploadTime)), row('Updated', time(r.updateTime)),
    // the camera's own local time and offset, shown as recorded
    row('Taken', r.creationTime ? r.creationTime.replace('T', ' ') : null),
    row('Location', geo),
    row('Camera', [r.exifMake, r.exifModel].filter(Boolean).join(' ')),
    row('File size', r.fileSize ? fmtBytes(r.fileSize) : null),
    row('Dimensions', dims), row('Format', r.format), row('Orientation', r.orientation),
    row('Thumbnail', r.thumbnail?.width ? `${r.thumbnail.width} × ${r.thumbnail.height} px` : null),
    row('Moderation score', m ? pct(m.score) : null),
    row('Moderation labels', m && labelList(m.labels)),
    row('Decision', m?.decision), row('Reviewer', m?.reviewer), row('Reason', m?.reason),
    row('Decided', time(m?.decidedAt)), row('Review deadline', time(m?.deadlineAt)),
    row('Error type', r.errorType), row('Error', r.errReason),
    row('Run', r.workflowId ? h('code', {}, r.workflowId) : null, temporal ? [' ', temporal] : null));
}

function stageTable(p) {
  if (!p?.stages?.length) return h('p', { class: 'meta' }, 'No stage timings available.');
  const secs = (a, b) => (a && b ? `${((new Date(b) - new Date(a)) / 1000).toFixed(2)} s` : '');
  return h('section', {},
    h('h2', {}, 'Stages'),
    p.status === 'PROCESSING' && p.stage
      ? h('p', {}, `Now: ${p.stage}`, p.attempt > 1 ? `, attempt ${p.attempt}` : '', p.lastError ? ` (last error: ${p.lastError})` : '')
      : null,
    h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, ['Stage', 'Started', 'Finished', 'Took', 'Attempts', 'Error'].map(t => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, p.stages.map(s => h('tr', {},
        h('th', { scope: 'row' }, s.stage),
        h('td', {}, time(s.started, 'time')),
        h('td', {}, s.finished ? time(s.finished, 'time') : 'running'),
        h('td', {}, secs(s.started, s.finished)),
        h('td', {}, s.attempts || ''),
        h('td', {}, s.error || '')))))));
}
