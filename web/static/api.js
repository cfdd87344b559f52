// The JSON API client. The session cookie is HttpOnly; we only carry the CSRF token.

export let session = null;
let authLost = () => {};

export function setSession(s) { session = s; }
export function onAuthLost(fn) { authLost = fn; }

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

// These answer 401 as part of their normal flow, so they must not bounce to sign-in.
const authPaths = new Set(['/api/session', '/api/login', '/api/setup']);

function parse(text) {
  if (!text) return null;
  try { return JSON.parse(text); } catch { return null; }
}

function fail(status, statusText, data, path) {
  if (status === 401 && !authPaths.has(path)) authLost();
  const fallback = status ? `${status} ${statusText || 'error'}` : 'Network error: the server could not be reached.';
  return new ApiError(status, (data && data.error) || fallback, data);
}

export async function request(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && session) headers['X-CSRF-Token'] = session.csrf;
  let res;
  try {
    res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw fail(0, '', null, path);
  }
  const data = parse(await res.text());
  if (!res.ok) throw fail(res.status, res.statusText, data, path);
  return data;
}

export const get = path => request('GET', path);
export const post = (path, body) => request('POST', path, body);
export const patch = (path, body) => request('PATCH', path, body);
export const del = path => request('DELETE', path);

export const enc = encodeURIComponent;
export const media = (kind, imageID) => `/media/${kind}/${enc(imageID)}`;

// XHR rather than fetch: fetch has no upload progress events.
export function upload(file, albumID, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open('POST', '/api/images');
    if (session) xhr.setRequestHeader('X-CSRF-Token', session.csrf);
    xhr.upload.onprogress = e => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      const data = parse(xhr.responseText);
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(fail(xhr.status, xhr.statusText, data, '/api/images'));
    };
    xhr.onerror = () => reject(fail(0, '', null, '/api/images'));
    xhr.onabort = () => reject(new ApiError(0, 'Upload cancelled.', { aborted: true }));
    const form = new FormData();
    // album first so a streaming server knows where the file goes before the bytes arrive
    form.append('album', albumID);
    form.append('file', file, file.name);
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}
