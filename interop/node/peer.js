// Sky's libsignal test peer.
//
// It speaks the interop peer protocol (shared/interop/PEER-PROTOCOL.md): one
// JSON request per line on stdin, one JSON reply per line on stdout, in
// request order. Every command is carried out by @signalapp/libsignal-client
// with in-memory stores, so Sky's Go protocol core can be tested against the
// reference implementation. Logs go to stderr; stdout carries replies only.

import { createInterface } from 'node:readline';
import { commands } from './commands.js';
import { errorType } from './errors.js';

// Anything printed by accident must not corrupt the reply stream.
console.log = console.error;
console.info = console.error;

const out = process.stdout;

function reply(obj) {
  out.write(JSON.stringify(obj) + '\n');
}

async function handle(line) {
  let req;
  try {
    req = JSON.parse(line);
  } catch (err) {
    return { id: null, ok: false, error: `request is not JSON: ${err.message}`, error_type: 'BadRequest' };
  }
  if (req === null || typeof req !== 'object' || Array.isArray(req)) {
    return { id: null, ok: false, error: 'request must be a JSON object', error_type: 'BadRequest' };
  }
  const id = req.id ?? null;
  if (req.cmd === 'quit') return { id, ok: true, result: { bye: true }, quit: true };
  const command = typeof req.cmd === 'string' && Object.hasOwn(commands, req.cmd) ? commands[req.cmd] : null;
  if (command === null) {
    return { id, ok: false, error: `unknown command ${JSON.stringify(req.cmd)}`, error_type: 'BadRequest' };
  }
  try {
    return { id, ok: true, result: await command(req) };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { id, ok: false, error: `${req.cmd}: ${message}`, error_type: errorType(err) };
  }
}

// Requests run strictly one after another, so replies come in request order.
let queue = Promise.resolve();
let quitting = false;

const input = createInterface({ input: process.stdin, crlfDelay: Infinity });
input.on('line', (line) => {
  if (line.trim() === '' || quitting) return;
  queue = queue.then(async () => {
    if (quitting) return;
    const { quit, ...answer } = await handle(line);
    if (quit) {
      quitting = true;
      out.write(JSON.stringify(answer) + '\n', () => process.exit(0));
      return;
    }
    reply(answer);
  });
});
input.on('close', () => {
  queue.then(() => {
    if (!quitting) out.write('', () => process.exit(0));
  });
});
