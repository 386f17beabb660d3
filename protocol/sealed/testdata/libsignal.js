// Sealed sender facts from @signalapp/libsignal-client 0.103.0, for the Go
// tests of protocol/sealed. Needs `npm ci --prefix interop/node` first.
//
//   node libsignal.js vectors > libsignal-vectors.json
//       Writes certificates, contents of every message type and sealed
//       envelopes made by libsignal from fixed keys, with libsignal's own
//       validation verdicts. Run once; the output is checked in.
//
//   node libsignal.js oracle
//       Speaks the framing of the interop peer protocol (one JSON request
//       per line, {"id", "cmd", ...}; replies {"id", "ok", "result"} or
//       {"id", "ok": false, "error", "error_type"}), so that Go tests can
//       drive it with interop.Peer and have libsignal open what Sky sealed
//       and seal what Sky encoded:
//         {"cmd":"open","recipient":B64,"envelope":B64,"trust_root":B64,"time":MS}
//         {"cmd":"seal","sender":B64,"recipient_public":B64,"content":B64}
//       (B64: standard base64; recipient and sender are 32-byte private keys.)
const S = require(require('path').join(__dirname, '../../../interop/node/node_modules/@signalapp/libsignal-client'));

const b64 = (u8) => Buffer.from(u8).toString('base64');
const hex = (u8) => Buffer.from(u8).toString('hex');
const unb64 = (s) => new Uint8Array(Buffer.from(s, 'base64'));
const fill = (byte) => new Uint8Array(32).fill(byte);

// Identity store of one party whose single contact has the key theirs.
class Identities extends S.IdentityKeyStore {
  constructor(priv, theirs) { super(); this.priv = priv; this.theirs = theirs; this.known = new Map(); }
  async getIdentityKey() { return this.priv; }
  async getLocalRegistrationId() { return 1; }
  async saveIdentity(a, k) { this.known.set(a.toString(), k); return S.IdentityChange.NewOrUnchanged; }
  async isTrustedIdentity() { return true; }
  async getIdentity(a) { return this.known.get(a.toString()) || this.theirs || null; }
}

class Sessions extends S.SessionStore {
  constructor() { super(); this.m = new Map(); }
  async saveSession(a, r) { this.m.set(a.toString(), r.serialize()); }
  async getSession(a) { const b = this.m.get(a.toString()); return b ? S.SessionRecord.deserialize(b) : null; }
  async getExistingSessions(as) { return Promise.all(as.map((a) => this.getSession(a))); }
}

class PreKeys extends S.PreKeyStore {
  constructor() { super(); this.m = new Map(); }
  async savePreKey(id, r) { this.m.set(id, r); }
  async getPreKey(id) { return this.m.get(id); }
  async removePreKey(id) { this.m.delete(id); }
}
class SignedPreKeys extends S.SignedPreKeyStore {
  constructor() { super(); this.m = new Map(); }
  async saveSignedPreKey(id, r) { this.m.set(id, r); }
  async getSignedPreKey(id) { return this.m.get(id); }
}
class KyberPreKeys extends S.KyberPreKeyStore {
  constructor() { super(); this.m = new Map(); }
  async saveKyberPreKey(id, r) { this.m.set(id, r); }
  async getKyberPreKey(id) { return this.m.get(id); }
  async markKyberPreKeyUsed() {}
}
class SenderKeys extends S.SenderKeyStore {
  constructor() { super(); this.m = new Map(); }
  async saveSenderKey(a, d, r) { this.m.set(a.toString() + d, r); }
  async getSenderKey(a, d) { return this.m.get(a.toString() + d) || null; }
}

function usmcFields(u) {
  const cert = u.senderCertificate();
  return {
    type: u.msgType(),
    hint: u.contentHint(),
    group_id: u.groupId() === null ? null : b64(u.groupId()),
    content: b64(u.contents()),
    sender_certificate: b64(cert.serialize()),
    sender_uuid: cert.senderUuid(),
    sender_device: cert.senderDeviceId(),
    sender_e164: cert.senderE164(),
    identity_key: b64(cert.key().serialize()),
    expires: cert.expiration(),
  };
}

async function vectors() {
  const rootPriv = S.PrivateKey.deserialize(fill(0x01));
  const otherRootPriv = S.PrivateKey.deserialize(fill(0x02));
  const serverPriv = S.PrivateKey.deserialize(fill(0x11));
  const alicePriv = S.PrivateKey.deserialize(fill(0x0a));
  const bobPriv = S.PrivateKey.deserialize(fill(0x0b));
  const alice = { uuid: 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', device: 3 };
  const bob = { uuid: 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', device: 1 };
  const expires = 1700000000000;

  const server = S.ServerCertificate.new(7, serverPriv.getPublicKey(), rootPriv);
  const revoked = S.ServerCertificate.new(0xdeadc357, serverPriv.getPublicKey(), rootPriv);
  const foreign = S.ServerCertificate.new(7, serverPriv.getPublicKey(), otherRootPriv);
  const cert = (signer, e164) => S.SenderCertificate.new(
    alice.uuid, e164, alice.device, alicePriv.getPublicKey(), expires, signer, serverPriv);
  const certs = {
    plain: cert(server, null),
    e164: cert(server, '+14155550100'),
    revoked: cert(revoked, null),
    foreign: cert(foreign, null),
  };
  const times = [expires - 1, expires, expires + 1];
  const out = {
    provenance: '@signalapp/libsignal-client 0.103.0, protocol/sealed/testdata/libsignal.js vectors',
    trust_root_private: hex(fill(0x01)),
    trust_root_public: hex(rootPriv.getPublicKey().serialize()),
    other_trust_root_public: hex(otherRootPriv.getPublicKey().serialize()),
    server_private: hex(fill(0x11)),
    server_public: hex(serverPriv.getPublicKey().serialize()),
    sender_private: hex(fill(0x0a)),
    sender_public: hex(alicePriv.getPublicKey().serialize()),
    sender_uuid: alice.uuid,
    sender_device: alice.device,
    recipient_private: hex(fill(0x0b)),
    recipient_public: hex(bobPriv.getPublicKey().serialize()),
    recipient_uuid: bob.uuid,
    expires,
    server_certificates: {},
    sender_certificates: {},
    contents: [],
  };
  for (const [name, c] of [['plain', server], ['revoked', revoked], ['foreign', foreign]]) {
    out.server_certificates[name] = { id: c.keyId(), bytes: hex(c.serialize()), certificate: hex(c.certificateData()) };
  }
  for (const [name, c] of Object.entries(certs)) {
    const valid = {};
    for (const [rootName, root] of [['root', rootPriv], ['other', otherRootPriv]]) {
      valid[rootName] = times.map((t) => c.validate(root.getPublicKey(), t));
    }
    out.sender_certificates[name] = {
      bytes: hex(c.serialize()), certificate: hex(c.certificate()), e164: c.senderE164(), valid_at: times, valid,
    };
  }

  // Real messages of every type, from Alice to Bob.
  const aAddr = S.ProtocolAddress.new(alice.uuid, alice.device);
  const bAddr = S.ProtocolAddress.new(bob.uuid, bob.device);
  const aIds = new Identities(alicePriv, bobPriv.getPublicKey());
  const bIds = new Identities(bobPriv, alicePriv.getPublicKey());
  const aSessions = new Sessions();
  const bSessions = new Sessions();
  const bPre = new PreKeys(); const bSigned = new SignedPreKeys(); const bKyber = new KyberPreKeys();
  const spk = S.PrivateKey.generate();
  const kyber = S.KEMKeyPair.generate();
  await bSigned.saveSignedPreKey(1, S.SignedPreKeyRecord.new(1, Date.now(), spk.getPublicKey(), spk, bobPriv.sign(spk.getPublicKey().serialize())));
  await bKyber.saveKyberPreKey(1, S.KyberPreKeyRecord.new(1, Date.now(), kyber, bobPriv.sign(kyber.getPublicKey().serialize())));
  const bundle = S.PreKeyBundle.new(1, bob.device, null, null, 1, spk.getPublicKey(),
    bobPriv.sign(spk.getPublicKey().serialize()), bobPriv.getPublicKey(), 1, kyber.getPublicKey(),
    bobPriv.sign(kyber.getPublicKey().serialize()));
  await S.processPreKeyBundle(bundle, bAddr, aAddr, aSessions, aIds);
  const first = await S.signalEncrypt(new TextEncoder().encode('first'), bAddr, aAddr, aSessions, aIds);
  await S.signalDecryptPreKey(S.PreKeySignalMessage.deserialize(first.serialize()), aAddr, bAddr, bSessions, bIds, bPre, bSigned, bKyber);
  const reply = await S.signalEncrypt(new TextEncoder().encode('reply'), aAddr, bAddr, bSessions, bIds);
  await S.signalDecrypt(S.SignalMessage.deserialize(reply.serialize()), bAddr, aAddr, aSessions, aIds);
  const whisper = await S.signalEncrypt(new TextEncoder().encode('whisper'), bAddr, aAddr, aSessions, aIds);
  const senderKeys = new SenderKeys();
  const dist = 'dddddddd-dddd-4ddd-8ddd-dddddddddddd';
  await S.SenderKeyDistributionMessage.create(aAddr, dist, senderKeys);
  const group = await S.groupEncrypt(aAddr, dist, senderKeys, new TextEncoder().encode('group'));
  const plaintext = S.PlaintextContent.from(S.DecryptionErrorMessage.forOriginal(
    whisper.serialize(), whisper.type(), 1700000000123, alice.device)).asCiphertextMessage();

  const groupId = new Uint8Array(Buffer.from('0123456789abcdef0123456789abcdef', 'hex'));
  const cases = [
    ['prekey', first, 0, null, certs.plain],
    ['whisper', whisper, 1, groupId, certs.plain],
    ['senderkey', group, 2, groupId, certs.e164],
    ['plaintext', plaintext, 0, new Uint8Array(0), certs.plain],
    ['unknown hint', whisper, 7, null, certs.plain],
    ['hint above 2^31', whisper, 0x80000001, null, certs.plain],
  ];
  for (const [name, msg, hint, gid, c] of cases) {
    const usmc = S.UnidentifiedSenderMessageContent.new(msg, c, hint, gid);
    const envelope = await S.sealedSenderEncrypt(usmc, bAddr, aIds);
    const opened = await S.sealedSenderDecryptToUsmc(envelope, bIds);
    out.contents.push({
      name, usmc: hex(usmc.serialize()), envelope: hex(envelope), opened: usmcFields(opened),
    });
  }
  process.stdout.write(JSON.stringify(out, null, 1) + '\n');
}

async function answer(req) {
  switch (req.cmd) {
    case 'open': {
      const ids = new Identities(S.PrivateKey.deserialize(unb64(req.recipient)), null);
      const u = await S.sealedSenderDecryptToUsmc(unb64(req.envelope), ids);
      const f = usmcFields(u);
      f.valid = u.senderCertificate().validate(S.PublicKey.deserialize(unb64(req.trust_root)), req.time);
      return f;
    }
    case 'seal': {
      const ids = new Identities(S.PrivateKey.deserialize(unb64(req.sender)), S.PublicKey.deserialize(unb64(req.recipient_public)));
      const usmc = S.UnidentifiedSenderMessageContent.deserialize(unb64(req.content));
      const to = S.ProtocolAddress.new('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 1);
      return { envelope: b64(await S.sealedSenderEncrypt(usmc, to, ids)) };
    }
  }
  throw new Error(`unknown command ${req.cmd}`);
}

async function oracle() {
  const lines = require('readline').createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    const req = JSON.parse(line);
    let reply;
    try {
      reply = { id: req.id, ok: true, result: await answer(req) };
    } catch (err) {
      reply = { id: req.id, ok: false, error: String(err && err.message ? err.message : err), error_type: 'Generic' };
    }
    process.stdout.write(JSON.stringify(reply) + '\n');
  }
}

(process.argv[2] === 'oracle' ? oracle() : vectors()).catch((err) => { console.error(err); process.exit(1); });
