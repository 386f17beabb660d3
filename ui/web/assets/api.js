// The page's only network peer is the local sky process that served it.

export class APIError extends Error {
  constructor(message, status, data) {
    super(message);
    this.status = status;
    this.data = data || {};
  }
}

async function call(method, path, body) {
  const init = { method, headers: {}, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new APIError('Sky (the sky web process on this computer) does not answer. Is it still running?', 0);
  }
  let data = null;
  try {
    data = await res.json();
  } catch (e) {
    throw new APIError(`Sky answered ${res.status} without data; reload the page.`, res.status);
  }
  if (!res.ok) throw new APIError(data.error || `Sky answered ${res.status}`, res.status, data);
  return data;
}

export const get = (path, params) => call('GET', params ? `${path}?${new URLSearchParams(params)}` : path);
export const post = (path, body = {}) => call('POST', path, body);

// upload sends a file (a Blob) as the body of a POST; the answer is JSON.
export async function upload(path, params, blob) {
  let res;
  try {
    res = await fetch(`${path}?${new URLSearchParams(params)}`, {
      method: 'POST', credentials: 'same-origin', cache: 'no-store',
      headers: { 'Content-Type': 'application/octet-stream' }, body: blob,
    });
  } catch (e) {
    throw new APIError('Sky (the sky web process on this computer) does not answer. Is it still running?', 0);
  }
  let data = {};
  try { data = await res.json(); } catch (e) { /* reported below */ }
  if (!res.ok) throw new APIError(data.error || `Sky answered ${res.status}`, res.status, data);
  return data;
}
