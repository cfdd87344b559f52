// Entry point: session, sign-in, header and hash routing.
import * as api from './api.js';
import { h, heading, showError, clearError, makeScope, setInboxCount } from './ui.js';
import { albumsPage } from './albums.js';
import { albumPage } from './album.js';
import { photoPage } from './photo.js';
import { inboxPage } from './inbox.js';
import { failuresPage } from './failures.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
let scope = null;

const routes = [
  [/^#\/albums$/, albumsPage],
  [/^#\/albums\/([^/]+)$/, albumPage],
  [/^#\/photo\/(.+)$/, photoPage],
  [/^#\/inbox$/, inboxPage],
  [/^#\/failures$/, failuresPage],
];

function leavePage() {
  scope?.dispose();
  scope = null;
}

function route() {
  if (!api.session) return;
  const hash = location.hash;
  for (const [re, page] of routes) {
    const m = re.exec(hash);
    if (!m) continue;
    let arg;
    try { arg = m[1] && decodeURIComponent(m[1]); } catch { break; }
    leavePage();
    clearError();
    scope = makeScope();
    const root = h('div', { class: 'page' });
    main.replaceChildren(root);
    page(root, scope, arg).catch(showError);
    // move focus to the new page's title so screen readers hear the navigation
    root.querySelector('h1')?.focus();
    for (const a of nav.querySelectorAll('a')) {
      if (hash.startsWith(`#/${a.dataset.nav}`)) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    refreshInboxCount();
    return;
  }
  location.replace('#/albums');
}

export async function refreshInboxCount() {
  if (api.session?.user.role !== 'reviewer') return;
  try {
    const { records = [] } = await api.get('/api/reviews');
    setInboxCount(records.length);
  } catch (e) { showError(e); }
}

function renderChrome() {
  const s = api.session;
  nav.hidden = !s;
  document.getElementById('inbox-link').hidden = s?.user.role !== 'reviewer';
  document.getElementById('who').textContent = s ? `${s.user.name} (${s.user.role})` : '';
  document.getElementById('logout').hidden = !s;
}

function start(s) {
  api.setSession(s);
  renderChrome();
  route();
}

async function boot() {
  leavePage();
  api.setSession(null);
  renderChrome();
  try {
    start(await api.get('/api/session'));
  } catch (e) {
    if (e.status === 401) return signIn(Boolean(e.body?.setupRequired));
    showError(e);
    main.replaceChildren(h('p', {}, 'Could not reach photoflow. ',
      h('button', { type: 'button', onclick: boot }, 'Try again')));
  }
}

function field(label, input) {
  return h('label', { class: 'field' }, h('span', {}, label), input);
}

function signIn(setup) {
  leavePage();
  api.setSession(null);
  renderChrome();
  const submit = h('button', { type: 'submit' }, setup ? 'Create account' : 'Sign in');
  const form = h('form', { id: 'login-form', class: 'auth', 'data-mode': setup ? 'setup' : 'login' },
    heading(setup ? 'Create the first account' : 'Sign in'),
    setup && h('p', {}, 'No account exists yet. The first account can review photos for everyone.'),
    field('Name', h('input', { name: 'name', autocomplete: 'username', required: true, autocapitalize: 'none' })),
    field('Password', h('input', { name: 'password', type: 'password', required: true,
      autocomplete: setup ? 'new-password' : 'current-password' })),
    submit);
  form.addEventListener('submit', async e => {
    e.preventDefault();
    const data = new FormData(form);
    submit.disabled = true;
    try {
      const s = await api.post(setup ? '/api/setup' : '/api/login',
        { name: String(data.get('name')).trim(), password: data.get('password') });
      clearError();
      start(s);
    } catch (err) {
      if (err.status === 401 && !err.body?.error) err.message = 'Wrong name or password.';
      if (err.status === 429 && !err.body?.error) err.message = 'Too many attempts. Wait a minute and try again.';
      showError(err);
      submit.disabled = false;
      form.elements.password.select();
    }
  });
  main.replaceChildren(form);
  form.elements.name.focus();
}

document.getElementById('logout').addEventListener('click', async () => {
  try {
    await api.post('/api/logout');
    clearError();
    signIn(false);
  } catch (e) { showError(e); }
});

// A file dropped outside the drop target would make the browser navigate away from the app.
for (const type of ['dragover', 'drop']) window.addEventListener(type, e => e.preventDefault());

// several requests can fail at once; only the first sign-out matters
api.onAuthLost(() => { if (api.session) boot(); });
window.addEventListener('hashchange', route);
setInterval(refreshInboxCount, 30000);
boot();
