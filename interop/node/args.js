// Argument checking for peer requests. Every failure here is a BadRequest:
// the request itself is malformed, no libsignal call was made.

export class BadRequest extends Error {
  constructor(message) {
    super(message);
    this.sky_error_type = 'BadRequest';
  }
}

const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function has(req, name) {
  return req[name] !== undefined && req[name] !== null;
}

export function string(req, name, fallback) {
  if (!has(req, name)) {
    if (fallback !== undefined) return fallback;
    throw new BadRequest(`missing string argument "${name}"`);
  }
  if (typeof req[name] !== 'string') throw new BadRequest(`argument "${name}" must be a string`);
  return req[name];
}

export function uuid(req, name) {
  const value = string(req, name);
  if (!uuidPattern.test(value)) throw new BadRequest(`argument "${name}" must be a UUID string, got ${JSON.stringify(value)}`);
  return value.toLowerCase();
}

export function integer(req, name, fallback, min = 0, max = 0xffffffff) {
  if (!has(req, name)) {
    if (fallback !== undefined) return fallback;
    throw new BadRequest(`missing integer argument "${name}"`);
  }
  const value = req[name];
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new BadRequest(`argument "${name}" must be an integer in ${min}..${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function boolean(req, name, fallback) {
  if (!has(req, name)) return fallback;
  if (typeof req[name] !== 'boolean') throw new BadRequest(`argument "${name}" must be true or false`);
  return req[name];
}

// bytes decodes standard base64 with padding, strictly: Node's own decoder
// silently skips invalid characters, which would hide a broken driver.
export function bytes(req, name, fallback) {
  if (!has(req, name)) {
    if (fallback !== undefined) return fallback;
    throw new BadRequest(`missing base64 argument "${name}"`);
  }
  return decode(req[name], name);
}

export function decode(value, name) {
  if (typeof value !== 'string' || !base64.test(value)) {
    throw new BadRequest(`argument "${name}" must be standard base64 with padding`);
  }
  return new Uint8Array(Buffer.from(value, 'base64'));
}

export function object(req, name) {
  const value = req[name];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new BadRequest(`argument "${name}" must be an object`);
  }
  return value;
}

export function deviceId(req) {
  return integer(req, 'device_id', 1, 1, 127);
}

export function encode(data) {
  return Buffer.from(data).toString('base64');
}
