// Records a conversation between two libsignal instances, for SPQR test
// vectors. Usage (after npm ci --prefix interop/node):
//
//   node gen-libsignal-session.js SEED MESSAGES MAXBURST [states]
//
// The two parties alternate, each sending a burst of 1..MAXBURST messages
// (chosen by a generator seeded with SEED) that the other decrypts in order.
// Output: one JSON object per line. {"dir":"A2B"|"B2A","pq":hex} is the
// pq_ratchet field (SPQR message) of each message, in sending order. With
// "states", lines {"side":"A"|"B","state":hex} also give a party's serialized
// SPQR state (SessionStructure.pq_ratchet_state) at the start and after every
// operation that changed its state machine's phase.
const path = require('path').join(__dirname, '../../../../interop/node/node_modules/@signalapp/libsignal-client');
const withStates = process.argv[5] === 'states';
const S = require(path);

class Stores {
  constructor(name, idkp, regId) {
    this.name = name; this.idkp = idkp; this.regId = regId;
    this.sessions = new Map(); this.ids = new Map();
    this.prekeys = new Map(); this.signed = new Map(); this.kyber = new Map();
    const self = this;
    this.sessionStore = new (class extends S.SessionStore {
      async saveSession(a, r) { self.sessions.set(a.toString(), r.serialize()); }
      async getSession(a) { const b = self.sessions.get(a.toString()); return b ? S.SessionRecord.deserialize(b) : null; }
      async getExistingSessions(as) { return as.map(a => S.SessionRecord.deserialize(self.sessions.get(a.toString()))); }
    })();
    this.identityStore = new (class extends S.IdentityKeyStore {
      async getIdentityKey() { return self.idkp.privateKey; }
      async getLocalRegistrationId() { return self.regId; }
      async saveIdentity(a, k) { self.ids.set(a.toString(), k); return S.IdentityChange.NewOrUnchanged; }
      async isTrustedIdentity() { return true; }
      async getIdentity(a) { return self.ids.get(a.toString()) || null; }
    })();
    this.preKeyStore = new (class extends S.PreKeyStore {
      async savePreKey(id, r) { self.prekeys.set(id, r); }
      async getPreKey(id) { return self.prekeys.get(id); }
      async removePreKey(id) { self.prekeys.delete(id); }
    })();
    this.signedStore = new (class extends S.SignedPreKeyStore {
      async saveSignedPreKey(id, r) { self.signed.set(id, r); }
      async getSignedPreKey(id) { return self.signed.get(id); }
    })();
    this.kyberStore = new (class extends S.KyberPreKeyStore {
      async saveKyberPreKey(id, r) { self.kyber.set(id, r); }
      async getKyberPreKey(id) { return self.kyber.get(id); }
      async markKyberPreKeyUsed() {}
    })();
  }
}

// field want (bytes) of a protobuf message
function field(buf, want) {
  let i = 0;
  const varint = () => { let v = 0, s = 0, b; do { b = buf[i++]; v += (b & 0x7f) * 2 ** s; s += 7; } while (b & 0x80); return v; };
  while (i < buf.length) {
    const key = varint(); const f = Math.floor(key / 8), wt = key & 7;
    if (wt === 0) varint();
    else if (wt === 2) { const l = varint(); if (f === want) return buf.subarray(i, i + l); i += l; }
    else throw new Error('wire type ' + wt);
  }
  return null;
}

function rng(seed) { let s = seed >>> 0; return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; }; }

async function main() {
  const seed = Number(process.argv[2] || 1), total = Number(process.argv[3] || 600), maxBurst = Number(process.argv[4] || 6);
  const A = new Stores('a', S.IdentityKeyPair.generate(), 1111);
  const B = new Stores('b', S.IdentityKeyPair.generate(), 2222);
  const aAddr = S.ProtocolAddress.new('aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee', 1);
  const bAddr = S.ProtocolAddress.new('bbbbbbbb-bbbb-4ccc-8ddd-eeeeeeeeeeee', 1);
  const spk = S.PrivateKey.generate(), kkp = S.KEMKeyPair.generate(), opk = S.PrivateKey.generate();
  const spkSig = B.idkp.privateKey.sign(spk.getPublicKey().serialize());
  const kSig = B.idkp.privateKey.sign(kkp.getPublicKey().serialize());
  B.signed.set(1, S.SignedPreKeyRecord.new(1, Date.now(), spk.getPublicKey(), spk, spkSig));
  B.kyber.set(1, S.KyberPreKeyRecord.new(1, Date.now(), kkp, kSig));
  B.prekeys.set(1, S.PreKeyRecord.new(1, opk.getPublicKey(), opk));
  const bundle = S.PreKeyBundle.new(2222, 1, 1, opk.getPublicKey(), 1, spk.getPublicKey(), spkSig, B.idkp.publicKey, 1, kkp.getPublicKey(), kSig);
  await S.processPreKeyBundle(bundle, bAddr, aAddr, A.sessionStore, A.identityStore);
  const lastPhase = {};
  const dump = (side, stores, peer) => {
    if (!withStates) return;
    const rec = stores.sessions.get(peer.toString());
    const st = field(field(rec, 1), 15);
    const v1 = field(st, 3);
    const phase = v1[0] >> 3; // field number of V1State.inner_state
    if (lastPhase[side] === phase) return;
    lastPhase[side] = phase;
    console.log(JSON.stringify({ side, state: Buffer.from(st).toString('hex') }));
  };
  // Bob's session exists only after the first message; dump Alice's now.
  dump('A', A, bAddr);
  const r = rng(seed);
  let sent = 0, turn = 0;
  while (sent < total) {
    const [from, to, fromAddr, toAddr, dir] = turn % 2 === 0 ? [A, B, aAddr, bAddr, 'A2B'] : [B, A, bAddr, aAddr, 'B2A'];
    const burst = 1 + Math.floor(r() * maxBurst);
    for (let k = 0; k < burst && sent < total; k++, sent++) {
      const ct = await S.signalEncrypt(Buffer.from('m' + sent), toAddr, fromAddr, from.sessionStore, from.identityStore);
      const bytes = ct.serialize();
      let sm = bytes;
      if (ct.type() === 3) {
        sm = field(bytes.subarray(1), 4);
        await S.signalDecryptPreKey(S.PreKeySignalMessage.deserialize(bytes), fromAddr, toAddr, to.sessionStore, to.identityStore, to.preKeyStore, to.signedStore, to.kyberStore);
      } else {
        await S.signalDecrypt(S.SignalMessage.deserialize(bytes), fromAddr, toAddr, to.sessionStore, to.identityStore);
      }
      const pq = field(sm.subarray(1, sm.length - 8), 5);
      console.log(JSON.stringify({ dir, pq: Buffer.from(pq).toString('hex') }));
      const [fs, ts] = dir === 'A2B' ? ['A', 'B'] : ['B', 'A'];
      dump(fs, from, toAddr);
      dump(ts, to, fromAddr);
    }
    turn++;
  }
}
main().catch(e => { console.error(e); process.exit(1); });
