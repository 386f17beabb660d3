// Measures libsignal's own 1:1 calls from Node, for comparison with Sky's Go
// benchmarks (go test -bench Libsignal ./interop runs it).
//
// Usage: node bench.js CASE N
//   steady100   encrypt + decrypt of a 100-byte message, one direction (steady chain)
//   steady10k   the same with 10 KiB
//   turn        messages alternate direction, so every decrypt is a DH-ratchet step
//   initiator   processPreKeyBundle (verify bundle, PQXDH as initiator)
//   recipient   decrypt of the first PreKey message (PQXDH as recipient)
// Prints one JSON line: {"case": ..., "n": ..., "ns_per_op": ...}. Session
// records are kept serialized in the stores, as a persistent store keeps them.

import * as SignalClient from '@signalapp/libsignal-client';
import * as stores from './stores.js';

class Party {
  constructor(name) {
    this.identity = SignalClient.IdentityKeyPair.generate();
    this.registrationId = 1 + Math.floor(Math.random() * 16000);
    this.address = SignalClient.ProtocolAddress.new(name, 1);
    this.sessions = new stores.SessionStore();
    this.identities = new stores.IdentityStore(this.identity, this.registrationId);
    this.preKeys = new stores.PreKeyStore();
    this.signedPreKeys = new stores.SignedPreKeyStore();
    this.kyberPreKeys = new stores.KyberPreKeyStore();
    this.nextId = 1;
  }

  async setup() {
    const spk = SignalClient.PrivateKey.generate();
    this.spk = { pub: spk.getPublicKey(), sig: this.identity.privateKey.sign(spk.getPublicKey().serialize()) };
    await this.signedPreKeys.saveSignedPreKey(1, SignalClient.SignedPreKeyRecord.new(1, Date.now(), this.spk.pub, spk, this.spk.sig));
    const kem = SignalClient.KEMKeyPair.generate();
    this.kem = { pub: kem.getPublicKey(), sig: this.identity.privateKey.sign(kem.getPublicKey().serialize()) };
    await this.kyberPreKeys.saveKyberPreKey(1, SignalClient.KyberPreKeyRecord.new(1, Date.now(), kem, this.kem.sig));
  }

  async bundle() {
    const id = this.nextId++;
    const pk = SignalClient.PrivateKey.generate();
    await this.preKeys.savePreKey(id, SignalClient.PreKeyRecord.new(id, pk.getPublicKey(), pk));
    return SignalClient.PreKeyBundle.new(this.registrationId, 1, id, pk.getPublicKey(), 1, this.spk.pub, this.spk.sig,
      this.identity.publicKey, 1, this.kem.pub, this.kem.sig);
  }

  encrypt(to, pt) {
    return SignalClient.signalEncrypt(pt, to.address, this.address, this.sessions, this.identities);
  }

  decrypt(from, msg) {
    if (msg.type() === SignalClient.CiphertextMessageType.PreKey) {
      return SignalClient.signalDecryptPreKey(SignalClient.PreKeySignalMessage.deserialize(msg.serialize()), from.address,
        this.address, this.sessions, this.identities, this.preKeys, this.signedPreKeys, this.kyberPreKeys);
    }
    return SignalClient.signalDecrypt(SignalClient.SignalMessage.deserialize(msg.serialize()), from.address, this.address,
      this.sessions, this.identities);
  }
}

async function pair() {
  const a = new Party('aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee');
  const b = new Party('bbbbbbbb-cccc-4ddd-8eee-ffffffffffff');
  await a.setup();
  await b.setup();
  await SignalClient.processPreKeyBundle(await b.bundle(), b.address, a.address, a.sessions, a.identities);
  await b.decrypt(a, await a.encrypt(b, Buffer.from('hello')));
  await a.decrypt(b, await b.encrypt(a, Buffer.from('hello')));
  return [a, b];
}

async function timed(n, fn) {
  for (let i = 0; i < Math.min(n, 50); i++) await fn(i); // warm up
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn(i);
  return Number(process.hrtime.bigint() - start) / n;
}

const cases = {
  async steady100(n) {
    const [a, b] = await pair();
    const pt = Buffer.alloc(100, 120);
    return timed(n, async () => b.decrypt(a, await a.encrypt(b, pt)));
  },
  async steady10k(n) {
    const [a, b] = await pair();
    const pt = Buffer.alloc(10 << 10, 120);
    return timed(n, async () => b.decrypt(a, await a.encrypt(b, pt)));
  },
  async turn(n) {
    const [a, b] = await pair();
    const pt = Buffer.alloc(100, 120);
    return timed(n, async (i) => {
      const [from, to] = i % 2 === 0 ? [a, b] : [b, a];
      await to.decrypt(from, await from.encrypt(to, pt));
    });
  },
  async initiator(n) {
    const a = new Party('aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee');
    const b = new Party('bbbbbbbb-cccc-4ddd-8eee-ffffffffffff');
    await a.setup();
    await b.setup();
    const bundles = [];
    for (let i = 0; i < n + 50; i++) bundles.push(await b.bundle());
    let k = 0;
    return timed(n, () => SignalClient.processPreKeyBundle(bundles[k++], b.address, a.address, a.sessions, a.identities));
  },
  async recipient(n) {
    const b = new Party('bbbbbbbb-cccc-4ddd-8eee-ffffffffffff');
    await b.setup();
    const firsts = [];
    for (let i = 0; i < n + 50; i++) {
      const a = new Party(`aaaaaaaa-bbbb-4ccc-8ddd-${String(i).padStart(12, '0')}`);
      await a.setup();
      await SignalClient.processPreKeyBundle(await b.bundle(), b.address, a.address, a.sessions, a.identities);
      firsts.push([a, await a.encrypt(b, Buffer.from('hello'))]);
    }
    let k = 0;
    return timed(n, () => {
      const [a, msg] = firsts[k++];
      return b.decrypt(a, msg);
    });
  },
};

const [name, nArg] = process.argv.slice(2);
const n = Number.parseInt(nArg ?? '1000', 10);
if (!(name in cases) || !(n > 0)) {
  console.error(`usage: node bench.js {${Object.keys(cases).join('|')}} N`);
  process.exit(2);
}
const ns = await cases[name](n);
console.log(JSON.stringify({ case: name, n, ns_per_op: ns }));
