// DOM and formatting helpers. Everything goes through createElement/textContent so
// user-controlled strings (album names, file names, EXIF) can never become markup.

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function heading(text) { return h('h1', { tabindex: -1 }, text); }

const alertBox = document.getElementById('alert');
const alertText = document.getElementById('alert-text');
document.getElementById('alert-close').addEventListener('click', () => clearError());

export function showError(err) {
  if (err?.body?.aborted) return;
  alertText.textContent = err?.message || String(err);
  alertBox.hidden = false;
  console.error(err);
}
export function clearError() { alertBox.hidden = true; alertText.textContent = ''; }

const live = document.getElementById('live');
export function announce(msg) {
  // clearing first makes screen readers repeat an identical message
  live.textContent = '';
  setTimeout(() => { live.textContent = msg; }, 50);
}

export function setInboxCount(n) {
  const badge = document.getElementById('inbox-count');
  badge.hidden = !n;
  badge.textContent = n ? String(n) : '';
  badge.setAttribute('aria-label', `${n} waiting`);
}

// A page's lifetime: timers die with it, so polling stops when the user navigates away.
export function makeScope() {
  const timers = new Set();
  const scope = {
    active: true,
    later(fn, ms) {
      if (!scope.active) return;
      const t = setTimeout(() => { timers.delete(t); if (scope.active) fn(); }, ms);
      timers.add(t);
    },
    dispose() { scope.active = false; timers.forEach(clearTimeout); timers.clear(); },
  };
  return scope;
}

// Runs tick now or on kick(), then again every ms while tick returns true; never overlaps.
export function poller(scope, tick, ms = 1500) {
  let scheduled = false, busy = false, again = false;
  async function run() {
    scheduled = false; busy = true;
    let more = false, delay = ms;
    try { more = await tick(); } catch (e) {
      showError(e);
      // a client error will not fix itself; the server being down or busy may
      more = !(e.status >= 400 && e.status < 500) || e.status === 429;
      delay = ms * 4;
    }
    busy = false;
    if (again || more) { again = false; schedule(delay); }
  }
  function schedule(delay = ms) {
    if (scheduled || !scope.active) return;
    scheduled = true;
    scope.later(run, delay);
  }
  return { now: run, kick: () => (busy ? (again = true) : schedule(0)) };
}

export function confirmDialog(title, text, okLabel) {
  return new Promise(resolve => {
    const cancel = h('button', { value: 'cancel' }, 'Cancel');
    const dlg = h('dialog', { 'aria-labelledby': 'dlg-title', 'aria-describedby': 'dlg-text' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'dlg-title' }, title),
        h('p', { id: 'dlg-text' }, text),
        h('div', { class: 'actions' }, cancel, h('button', { value: 'ok', class: 'danger' }, okLabel))));
    const back = document.activeElement;
    dlg.addEventListener('close', () => { dlg.remove(); back?.focus?.(); resolve(dlg.returnValue === 'ok'); });
    document.body.append(dlg);
    dlg.showModal();
    cancel.focus(); // the safe choice is the default for a destructive action
  });
}

// Go writes zero times as year 1; treat them as absent.
const validDate = s => { const d = new Date(s); return s && !isNaN(d) && d.getFullYear() > 1970 ? d : null; };

export function time(s, style = 'full') {
  const d = validDate(s);
  if (!d) return null;
  const text = style === 'ago' ? ago(d) : style === 'time' ? d.toLocaleTimeString() : d.toLocaleString();
  return h('time', { datetime: s, title: d.toLocaleString() }, text);
}

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
function ago(d) {
  const s = (d - Date.now()) / 1000, a = Math.abs(s);
  if (a < 60) return rtf.format(Math.round(s), 'second');
  if (a < 3600) return rtf.format(Math.round(s / 60), 'minute');
  if (a < 86400) return rtf.format(Math.round(s / 3600), 'hour');
  return rtf.format(Math.round(s / 86400), 'day');
}

export function fmtBytes(n) {
  if (!Number.isFinite(n)) return '';
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(n < 10 ? 1 : 0) : n} ${units[i]}`;
}

export const fileName = id => String(id || '').split('/').pop();
export const pct = c => `${Number(c || 0).toFixed(1)}%`;

const statusNames = {
  UPLOADED: 'Uploaded', PROCESSING: 'Running', SUCCEEDED: 'Succeeded',
  PENDING_REVIEW: 'Pending review', REJECTED: 'Rejected', FAILED: 'Failed',
};
export function statusText(r) {
  const p = r.progress;
  if (r.status === 'PROCESSING' && p?.stage) {
    return `Running: ${p.stage}${p.attempt > 1 ? `, attempt ${p.attempt}` : ''}`;
  }
  return statusNames[r.status] || r.status || 'Unknown';
}
export const badge = r =>
  h('span', { class: `badge s-${String(r.status || '').toLowerCase()}` }, statusText(r));
export const hidden = r => r.status === 'PENDING_REVIEW' || r.status === 'REJECTED';

export function labelList(labels, limit = Infinity) {
  const top = [...(labels || [])].sort((a, b) => b.confidence - a.confidence).slice(0, limit);
  if (!top.length) return null;
  return h('ul', { class: 'labels' }, top.map(l =>
    h('li', {},
      h('span', { class: 'label-name' }, l.name),
      h('meter', { min: 0, max: 100, value: l.confidence, 'aria-hidden': 'true' }),
      h('span', { class: 'label-conf' }, pct(l.confidence)))));
}

// An image that shows a placeholder instead of a broken icon (e.g. a file that is not an image).
export function picture(src, alt) {
  const img = h('img', { src, alt, loading: 'lazy', decoding: 'async' });
  img.addEventListener('error', () => img.replaceWith(h('span', { class: 'noimg' }, 'No preview')), { once: true });
  return img;
}

// Wraps a possibly sensitive image: blurred until hovered, focused, or revealed by the toggle.
export function sensitive(img, blur) {
  const box = h('div', { class: `thumb${blur ? ' blur' : ''}` }, img);
  if (!blur) return box;
  const toggle = h('button', { type: 'button', class: 'reveal', 'aria-pressed': 'false' }, 'Reveal');
  toggle.addEventListener('click', () => {
    const on = box.classList.toggle('revealed');
    toggle.setAttribute('aria-pressed', String(on));
    toggle.textContent = on ? 'Hide' : 'Reveal';
  });
  box.append(toggle);
  return box;
}
