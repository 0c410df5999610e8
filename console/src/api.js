// The page's only door to the service: same-origin fetches under /v1, with the session cookie.
// Every refusal comes back as RFC 9457 problem+json and is turned into words here.

export class ApiError extends Error {
  constructor(status, problem) {
    super(describe(problem, status));
    this.status = status;
    this.problem = problem || {};
  }
}

const listeners = new Set();
/** Called when a request is answered 401: the session has ended (expired or signed out). */
export function onSessionEnded(fn) { listeners.add(fn); }

/** Words for a problem: "Invalid input: lower_m must be below upper_m (field volumes[0].lower_m)". */
export function describe(problem, status) {
  if (!problem || typeof problem !== 'object') return `The service answered ${status}.`;
  const title = problem.title ? problem.title[0].toUpperCase() + problem.title.slice(1) : `Error ${status}`;
  const detail = problem.detail ? `: ${problem.detail}` : '';
  const field = problem.field ? ` (field ${problem.field})` : '';
  return `${title}${detail}${field}`;
}

export async function api(path, { method = 'GET', body, signal } = {}) {
  const init = { method, credentials: 'same-origin', signal, headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    if (res.status === 401 && !path.startsWith('/session')) for (const fn of listeners) fn(err);
    throw err;
  }
  return data;
}

export const session = {
  who: () => api('/session'),
  signIn: (token) => api('/session', { method: 'POST', body: { token } }),
  signOut: () => api('/session', { method: 'DELETE' }),
};
