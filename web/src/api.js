// The console's only way to the server: JSON over fetch with the session cookie. Writes carry the CSRF token from
// the session body; a 401 anywhere calls the handler set by onUnauthorized (the app returns to sign-in).

let csrf = '';
let unauthorized = () => {};

/** setCSRF keeps the session's CSRF token for every later write. */
export function setCSRF(token) {
  csrf = token || '';
}

/** upload posts a FormData with the CSRF token, reporting progress(sent, total) while the body goes out (fetch
 * cannot): it resolves to the decoded body or rejects with an ApiError, as request does. */
export function upload(path, form, progress) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('POST', path);
    x.withCredentials = true;
    x.setRequestHeader('Accept', 'application/json');
    if (csrf) x.setRequestHeader('X-CSRF-Token', csrf);
    if (progress) x.upload.onprogress = (e) => e.lengthComputable && progress(e.loaded, e.total);
    x.onerror = () => reject(new ApiError(0, 'network', 'The server cannot be reached.'));
    x.onload = () => {
      let data = null;
      try {
        data = x.responseText ? JSON.parse(x.responseText) : null;
      } catch (e) {
        data = null;
      }
      if (x.status >= 200 && x.status < 300) return resolve(data);
      const err = (data && data.error) || {};
      const e = new ApiError(x.status, err.code, err.message || (x.status === 413 ? 'The file is too large.' : ''));
      if (x.status === 401) unauthorized(e);
      reject(e);
    };
    x.send(form);
  });
}

/** csrfToken is the session's CSRF token, for a write made with fetch itself (a streamed upload). */
export function csrfToken() {
  return csrf;
}

/** onUnauthorized sets what a 401 from any call does. */
export function onUnauthorized(fn) {
  unauthorized = fn;
}

/** ApiError is a refused call: status, the contract's error code and message, and Retry-After seconds if sent. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || code || 'HTTP ' + status);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** request performs one call; it resolves to the decoded body (null for 204) or rejects with an ApiError. */
export async function request(method, path, body, { quiet401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers['X-CSRF-Token'] = csrf;
  let resp;
  try {
    resp = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'network', 'The server cannot be reached.');
  }
  if (resp.status === 204) return null;
  let data = null;
  const text = await resp.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (e) {
      data = null;
    }
  }
  if (!resp.ok) {
    const err = (data && data.error) || {};
    const ra = parseInt(resp.headers.get('Retry-After') || '', 10);
    const e = new ApiError(resp.status, err.code, err.message, Number.isFinite(ra) ? ra : undefined);
    if (err.field) e.field = err.field; // the custom field a contact refusal names, when the API says
    if (resp.status === 401 && !quiet401) unauthorized(e);
    throw e;
  }
  return data;
}

export const get = (path, opts) => request('GET', path, undefined, opts);
export const post = (path, body) => request('POST', path, body === undefined ? {} : body);
export const put = (path, body) => request('PUT', path, body);
export const del = (path) => request('DELETE', path);

/** qs builds a query string from the defined, non-empty values of params. */
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  }
  const s = u.toString();
  return s ? '?' + s : '';
}
