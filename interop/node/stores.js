// In-memory implementations of libsignal's store interfaces for the test peer.
//
// Records are kept serialized, exactly as a persistent store would keep them,
// so every call goes through libsignal's own (de)serialization. The identity
// store trusts every key it is shown and records it.

import * as SignalClient from '@signalapp/libsignal-client';

const key = (address) => `${address.name()}.${address.deviceId()}`;

export class SessionStore extends SignalClient.SessionStore {
  #sessions = new Map();

  async saveSession(address, record) {
    this.#sessions.set(key(address), record.serialize());
  }

  async getSession(address) {
    const bytes = this.#sessions.get(key(address));
    return bytes === undefined ? null : SignalClient.SessionRecord.deserialize(bytes);
  }

  async getExistingSessions(addresses) {
    return addresses.map((address) => {
      const bytes = this.#sessions.get(key(address));
      if (bytes === undefined) {
        throw new Error(`no session for ${key(address)}`);
      }
      return SignalClient.SessionRecord.deserialize(bytes);
    });
  }
}

export class IdentityStore extends SignalClient.IdentityKeyStore {
  #identity;
  #registrationId;
  #known = new Map();

  constructor(identity, registrationId) {
    super();
    this.#identity = identity;
    this.#registrationId = registrationId;
  }

  async getIdentityKey() {
    return this.#identity.privateKey;
  }

  async getLocalRegistrationId() {
    return this.#registrationId;
  }

  async saveIdentity(address, publicKey) {
    const previous = this.#known.get(key(address));
    this.#known.set(key(address), publicKey);
    if (previous !== undefined && !previous.equals(publicKey)) {
      return SignalClient.IdentityChange.ReplacedExisting;
    }
    return SignalClient.IdentityChange.NewOrUnchanged;
  }

  // The test peer trusts every identity; saveIdentity records what it saw.
  async isTrustedIdentity() {
    return true;
  }

  async getIdentity(address) {
    return this.#known.get(key(address)) ?? null;
  }
}

// Missing prekeys are reported with a message the error mapping recognises as
// InvalidKey.
class MissingKeyError extends Error {
  constructor(what, id) {
    super(`invalid key: no ${what} with id ${id}`);
    this.sky_error_type = 'InvalidKey';
  }
}

export class PreKeyStore extends SignalClient.PreKeyStore {
  #keys = new Map();

  async savePreKey(id, record) {
    this.#keys.set(id, record.serialize());
  }

  async getPreKey(id) {
    const bytes = this.#keys.get(id);
    if (bytes === undefined) throw new MissingKeyError('one-time prekey', id);
    return SignalClient.PreKeyRecord.deserialize(bytes);
  }

  async removePreKey(id) {
    this.#keys.delete(id);
  }
}

export class SignedPreKeyStore extends SignalClient.SignedPreKeyStore {
  #keys = new Map();

  async saveSignedPreKey(id, record) {
    this.#keys.set(id, record.serialize());
  }

  async getSignedPreKey(id) {
    const bytes = this.#keys.get(id);
    if (bytes === undefined) throw new MissingKeyError('signed prekey', id);
    return SignalClient.SignedPreKeyRecord.deserialize(bytes);
  }
}

// Kyber prekeys are kept after use: the peer's Kyber keys act as last-resort
// keys, and old private keys stay usable as PEER-PROTOCOL.md asks.
export class KyberPreKeyStore extends SignalClient.KyberPreKeyStore {
  #keys = new Map();
  used = [];

  async saveKyberPreKey(id, record) {
    this.#keys.set(id, record.serialize());
  }

  async getKyberPreKey(id) {
    const bytes = this.#keys.get(id);
    if (bytes === undefined) throw new MissingKeyError('Kyber prekey', id);
    return SignalClient.KyberPreKeyRecord.deserialize(bytes);
  }

  async markKyberPreKeyUsed(id, signedPreKeyId, baseKey) {
    this.used.push({ id, signedPreKeyId, baseKey: baseKey.serialize() });
  }
}

export class SenderKeyStore extends SignalClient.SenderKeyStore {
  #keys = new Map();

  async saveSenderKey(sender, distributionId, record) {
    this.#keys.set(`${key(sender)}/${distributionId}`, record.serialize());
  }

  async getSenderKey(sender, distributionId) {
    const bytes = this.#keys.get(`${key(sender)}/${distributionId}`);
    return bytes === undefined ? null : SignalClient.SenderKeyRecord.deserialize(bytes);
  }
}
