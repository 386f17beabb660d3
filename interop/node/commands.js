// The commands of PEER-PROTOCOL.md, each implemented with libsignal's own API.

import * as SignalClient from '@signalapp/libsignal-client';
// The server-side splitter of sealed sender v2 messages; the package ships it
// but does not re-export it from its index.
import SealedSenderMultiRecipientMessage from '@signalapp/libsignal-client/dist/SealedSenderMultiRecipientMessage.js';
import * as arg from './args.js';
import * as stores from './stores.js';
import { failure } from './errors.js';

const { encode } = arg;
const VERSION = '0.103.0';
const FINGERPRINT_ITERATIONS = 5200; // what the Signal apps use
const FINGERPRINT_VERSION = 2; // 16-byte ACI identifiers

// State is everything one peer knows. init replaces it whole.
class State {
  constructor(name, deviceId, registrationId) {
    this.name = name;
    this.deviceId = deviceId;
    this.registrationId = registrationId;
    this.identity = SignalClient.IdentityKeyPair.generate();
    this.address = SignalClient.ProtocolAddress.new(name, deviceId);
    this.sessions = new stores.SessionStore();
    this.identities = new stores.IdentityStore(this.identity, registrationId);
    this.preKeys = new stores.PreKeyStore();
    this.signedPreKeys = new stores.SignedPreKeyStore();
    this.kyberPreKeys = new stores.KyberPreKeyStore();
    this.senderKeys = new stores.SenderKeyStore();
    this.nextPreKeyId = 1;
    this.signed = null; // { id, publicKey, signature }
    this.kyber = null; // { id, publicKey, signature }
    this.sealed = null; // { trustRoot, senderCertificate }
  }

  async newSignedPreKey() {
    const id = this.signed === null ? 1 : this.signed.id + 1;
    const priv = SignalClient.PrivateKey.generate();
    const pub = priv.getPublicKey();
    const signature = this.identity.privateKey.sign(pub.serialize());
    const record = SignalClient.SignedPreKeyRecord.new(id, Date.now(), pub, priv, signature);
    await this.signedPreKeys.saveSignedPreKey(id, record);
    this.signed = { id, publicKey: pub, signature };
  }

  async newKyberPreKey() {
    const id = this.kyber === null ? 1 : this.kyber.id + 1;
    const pair = SignalClient.KEMKeyPair.generate();
    const pub = pair.getPublicKey();
    const signature = this.identity.privateKey.sign(pub.serialize());
    const record = SignalClient.KyberPreKeyRecord.new(id, Date.now(), pair, signature);
    await this.kyberPreKeys.saveKyberPreKey(id, record);
    this.kyber = { id, publicKey: pub, signature };
  }

  async newPreKey() {
    const id = this.nextPreKeyId++;
    const priv = SignalClient.PrivateKey.generate();
    await this.preKeys.savePreKey(id, SignalClient.PreKeyRecord.new(id, priv.getPublicKey(), priv));
    return { id, publicKey: priv.getPublicKey() };
  }

  async bundle(oneTimePreKey) {
    const pre = oneTimePreKey ? await this.newPreKey() : null;
    return {
      registration_id: this.registrationId,
      device_id: this.deviceId,
      pre_key_id: pre === null ? null : pre.id,
      pre_key: pre === null ? null : encode(pre.publicKey.serialize()),
      signed_pre_key_id: this.signed.id,
      signed_pre_key: encode(this.signed.publicKey.serialize()),
      signed_pre_key_signature: encode(this.signed.signature),
      identity_key: encode(this.identity.publicKey.serialize()),
      kyber_pre_key_id: this.kyber.id,
      kyber_pre_key: encode(this.kyber.publicKey.serialize()),
      kyber_pre_key_signature: encode(this.kyber.signature),
    };
  }
}

let state = null;

function need() {
  if (state === null) throw failure('BadRequest', 'send "init" first');
  return state;
}

function remote(req) {
  return SignalClient.ProtocolAddress.new(arg.string(req, 'peer'), arg.deviceId(req));
}

function uuidBytes(name, what) {
  const hex = name.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex) || hex.length + 4 !== name.length) {
    throw failure('BadRequest', `${what} ${JSON.stringify(name)} is not a UUID; pass it explicitly`);
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

// parse wraps deserialization: a message libsignal cannot even parse is an
// InvalidMessage, whatever libsignal's own error code says.
function parse(what, fn) {
  try {
    return fn();
  } catch (err) {
    throw failure('InvalidMessage', `invalid ${what}: ${err.message}`);
  }
}

function bundleFrom(b) {
  const key = (name) => parse(`bundle field ${name}`, () => SignalClient.PublicKey.deserialize(arg.bytes(b, name)));
  const hasPreKey = b.pre_key_id !== null && b.pre_key_id !== undefined;
  return SignalClient.PreKeyBundle.new(
    arg.integer(b, 'registration_id'),
    arg.integer(b, 'device_id', undefined, 1, 127),
    hasPreKey ? arg.integer(b, 'pre_key_id') : null,
    hasPreKey ? key('pre_key') : null,
    arg.integer(b, 'signed_pre_key_id'),
    key('signed_pre_key'),
    arg.bytes(b, 'signed_pre_key_signature'),
    key('identity_key'),
    arg.integer(b, 'kyber_pre_key_id'),
    parse('bundle field kyber_pre_key', () => SignalClient.KEMPublicKey.deserialize(arg.bytes(b, 'kyber_pre_key'))),
    arg.bytes(b, 'kyber_pre_key_signature'),
  );
}

function messageType(req) {
  const t = req.type;
  if (t === 2 || t === 'whisper') return 2;
  if (t === 3 || t === 'prekey') return 3;
  throw failure('BadRequest', `argument "type" must be 2, 3, "whisper" or "prekey", got ${JSON.stringify(t)}`);
}

export const commands = {
  async ping() {
    return { pong: true, implementation: `libsignal ${VERSION}` };
  },

  async init(req) {
    const name = arg.string(req, 'name');
    const deviceId = arg.deviceId(req);
    const registrationId = arg.integer(req, 'registration_id', 1 + Math.floor(Math.random() * 16380), 1, 0x3fff);
    const s = new State(name, deviceId, registrationId);
    await s.newSignedPreKey();
    await s.newKyberPreKey();
    const bundle = await s.bundle(arg.boolean(req, 'one_time_pre_key', true));
    state = s;
    return {
      name,
      device_id: deviceId,
      registration_id: registrationId,
      identity_key: encode(s.identity.publicKey.serialize()),
      bundle,
    };
  },

  async bundle(req) {
    const s = need();
    if (arg.boolean(req, 'new_signed', false)) await s.newSignedPreKey();
    if (arg.boolean(req, 'new_kyber', false)) await s.newKyberPreKey();
    return { bundle: await s.bundle(arg.boolean(req, 'one_time_pre_key', true)) };
  },

  async process_bundle(req) {
    const s = need();
    const bundle = bundleFrom(arg.object(req, 'bundle'));
    await SignalClient.processPreKeyBundle(bundle, remote(req), s.address, s.sessions, s.identities);
    return { session: true };
  },

  async encrypt(req) {
    const s = need();
    const plaintext = arg.bytes(req, 'plaintext');
    const msg = await SignalClient.signalEncrypt(plaintext, remote(req), s.address, s.sessions, s.identities);
    return { type: msg.type(), ciphertext: encode(msg.serialize()) };
  },

  async decrypt(req) {
    const s = need();
    const type = messageType(req);
    const ciphertext = arg.bytes(req, 'ciphertext');
    const from = remote(req);
    let plaintext;
    if (type === 2) {
      const msg = parse('SignalMessage', () => SignalClient.SignalMessage.deserialize(ciphertext));
      plaintext = await SignalClient.signalDecrypt(msg, from, s.address, s.sessions, s.identities);
    } else {
      const msg = parse('PreKeySignalMessage', () => SignalClient.PreKeySignalMessage.deserialize(ciphertext));
      plaintext = await SignalClient.signalDecryptPreKey(
        msg, from, s.address, s.sessions, s.identities, s.preKeys, s.signedPreKeys, s.kyberPreKeys);
    }
    return { plaintext: encode(plaintext) };
  },

  async fingerprint(req) {
    const s = need();
    const from = remote(req);
    const remoteKey = await s.identities.getIdentity(from);
    if (remoteKey === null) throw failure('NoSession', `no identity key recorded for ${from.name()}.${from.deviceId()}`);
    const local = arg.bytes(req, 'local_identifier', null) ?? uuidBytes(s.name, 'own name');
    const other = arg.bytes(req, 'remote_identifier', null) ?? uuidBytes(from.name(), 'peer');
    const fp = SignalClient.Fingerprint.new(
      FINGERPRINT_ITERATIONS, FINGERPRINT_VERSION, local, s.identity.publicKey, other, remoteKey);
    return {
      displayable: fp.displayableFingerprint().toString(),
      scannable: encode(fp.scannableFingerprint().toBuffer()),
    };
  },

  async sealed_config(req) {
    const s = need();
    const rootPriv = SignalClient.PrivateKey.deserialize(arg.bytes(req, 'trust_root_private', new Uint8Array(32)));
    const serverPriv = SignalClient.PrivateKey.deserialize(
      arg.bytes(req, 'server_key_private', new Uint8Array(32).fill(0x11)));
    const keyId = arg.integer(req, 'server_key_id', 1);
    const expires = arg.integer(req, 'expires_ms', Date.now() + 24 * 3600 * 1000, 0, Number.MAX_SAFE_INTEGER);
    const server = SignalClient.ServerCertificate.new(keyId, serverPriv.getPublicKey(), rootPriv);
    const sender = SignalClient.SenderCertificate.new(
      s.name, null, s.deviceId, s.identity.publicKey, expires, server, serverPriv);
    s.sealed = { trustRoot: rootPriv.getPublicKey(), senderCertificate: sender };
    return {
      trust_root_public: encode(rootPriv.getPublicKey().serialize()),
      server_certificate: encode(server.serialize()),
      sender_certificate: encode(sender.serialize()),
    };
  },

  async sealed_encrypt(req) {
    const s = need();
    if (s.sealed === null) throw failure('BadRequest', 'send "sealed_config" first');
    const to = remote(req);
    const plaintext = arg.bytes(req, 'plaintext');
    const hint = arg.integer(req, 'content_hint', 0);
    const groupId = arg.bytes(req, 'group_id', null);
    const inner = await SignalClient.signalEncrypt(plaintext, to, s.address, s.sessions, s.identities);
    const usmc = SignalClient.UnidentifiedSenderMessageContent.new(inner, s.sealed.senderCertificate, hint, groupId);
    return { ciphertext: encode(await SignalClient.sealedSenderEncrypt(usmc, to, s.identities)) };
  },

  async sealed_decrypt(req) {
    const s = need();
    if (s.sealed === null) throw failure('BadRequest', 'send "sealed_config" first');
    const ciphertext = arg.bytes(req, 'ciphertext');
    const now = arg.integer(req, 'timestamp_ms', Date.now(), 0, Number.MAX_SAFE_INTEGER);
    // Open the outer layer first to learn the fields the decryption result
    // does not carry, and to tell a rejected certificate from a bad message.
    let usmc;
    try {
      usmc = await SignalClient.sealedSenderDecryptToUsmc(ciphertext, s.identities);
    } catch (err) {
      throw failure('InvalidMessage', `invalid sealed sender message: ${err.message}`);
    }
    if (!usmc.senderCertificate().validate(s.sealed.trustRoot, now)) {
      throw failure('InvalidSenderCertificate', 'sender certificate rejected: not signed under the trust root, or expired');
    }
    const groupId = usmc.groupId();
    const fields = {
      message_type: usmc.msgType(),
      content_hint: usmc.contentHint(),
      group_id: groupId === null || groupId.length === 0 ? null : encode(groupId),
    };
    if (usmc.msgType() === SignalClient.CiphertextMessageType.SenderKey) {
      // libsignal's sealedSenderDecryptMessage takes 1:1 messages only; a
      // sender-key content is decrypted as group_decrypt does, from the
      // device the (validated) certificate names.
      const cert = usmc.senderCertificate();
      if (cert.senderUuid() === s.name && cert.senderDeviceId() === s.deviceId) {
        throw failure('InvalidMessage', 'sealed sender message from this device itself');
      }
      const from = SignalClient.ProtocolAddress.new(cert.senderUuid(), cert.senderDeviceId());
      const plaintext = await SignalClient.groupDecrypt(from, s.senderKeys, usmc.contents());
      return { sender_uuid: cert.senderUuid(), sender_device_id: cert.senderDeviceId(), ...fields, plaintext: encode(plaintext) };
    }
    const result = await SignalClient.sealedSenderDecryptMessage(
      ciphertext, s.sealed.trustRoot, now, null, s.name, s.deviceId,
      s.sessions, s.identities, s.preKeys, s.signedPreKeys, s.kyberPreKeys);
    return {
      sender_uuid: result.senderUuid(),
      sender_device_id: result.deviceId(),
      ...fields,
      plaintext: encode(result.message()),
    };
  },

  async sealed_multi_encrypt(req) {
    const s = need();
    if (s.sealed === null) throw failure('BadRequest', 'send "sealed_config" first');
    const list = req.recipients;
    if (!Array.isArray(list) || list.some((r) => r === null || typeof r !== 'object' || Array.isArray(r))) {
      throw failure('BadRequest', 'argument "recipients" must be an array of objects');
    }
    const recipients = list.map((r) => remote(r));
    const excludedNames = req.excluded ?? [];
    if (!Array.isArray(excludedNames) || excludedNames.some((n) => typeof n !== 'string')) {
      throw failure('BadRequest', 'argument "excluded" must be an array of strings');
    }
    const excludedRecipients = excludedNames.map((n) => SignalClient.ServiceId.parseFromServiceIdString(n));
    const inner = await SignalClient.groupEncrypt(
      s.address, arg.uuid(req, 'distribution_id'), s.senderKeys, arg.bytes(req, 'plaintext'));
    const usmc = SignalClient.UnidentifiedSenderMessageContent.new(
      inner, s.sealed.senderCertificate, arg.integer(req, 'content_hint', 0), arg.bytes(req, 'group_id', null));
    const sent = await SignalClient.sealedSenderMultiRecipientEncrypt({
      content: usmc, recipients, excludedRecipients, identityStore: s.identities, sessionStore: s.sessions,
    });
    return { ciphertext: encode(sent) };
  },

  async sealed_multi_split(req) {
    const name = arg.string(req, 'peer');
    let msg;
    try {
      msg = new SealedSenderMultiRecipientMessage(arg.bytes(req, 'ciphertext'));
    } catch (err) {
      throw failure('InvalidMessage', `invalid sealed sender v2 message: ${err.message}`);
    }
    const recipient = msg.recipientsByServiceIdString()[name.toLowerCase()];
    if (recipient === undefined) throw failure('InvalidMessage', `${name} is not a recipient of this message`);
    return {
      ciphertext: encode(msg.messageForRecipient(recipient)),
      device_ids: recipient.deviceIds,
      excluded: [...msg.excludedRecipientServiceIdStrings()],
    };
  },

  async group_create(req) {
    const s = need();
    const skdm = await SignalClient.SenderKeyDistributionMessage.create(s.address, arg.uuid(req, 'distribution_id'), s.senderKeys);
    return { skdm: encode(skdm.serialize()) };
  },

  async group_process(req) {
    const s = need();
    const skdm = parse('SenderKeyDistributionMessage',
      () => SignalClient.SenderKeyDistributionMessage.deserialize(arg.bytes(req, 'skdm')));
    await SignalClient.processSenderKeyDistributionMessage(remote(req), skdm, s.senderKeys);
    return { distribution_id: skdm.distributionId(), chain_id: skdm.chainId(), iteration: skdm.iteration() };
  },

  async group_encrypt(req) {
    const s = need();
    const msg = await SignalClient.groupEncrypt(
      s.address, arg.uuid(req, 'distribution_id'), s.senderKeys, arg.bytes(req, 'plaintext'));
    return { type: msg.type(), ciphertext: encode(msg.serialize()) };
  },

  async group_decrypt(req) {
    const s = need();
    const plaintext = await SignalClient.groupDecrypt(remote(req), s.senderKeys, arg.bytes(req, 'ciphertext'));
    return { plaintext: encode(plaintext) };
  },
};
