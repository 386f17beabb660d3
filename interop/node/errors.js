// Mapping of libsignal's errors onto the error_type names of PEER-PROTOCOL.md.
//
// libsignal's Node binding gives most protocol errors the code Generic and
// tells them apart only by message, so after the specific codes the mapping
// goes by the message text libsignal 0.103 uses (the Display texts of SignalProtocolError
// in rust/protocol/src/error.rs).

import { ErrorCode, LibSignalErrorBase } from '@signalapp/libsignal-client';

// failure makes an error that carries its protocol error_type.
export function failure(type, message) {
  const err = new Error(message);
  err.sky_error_type = type;
  return err;
}

const byCode = new Map([
  [ErrorCode.DuplicatedMessage, 'DuplicatedMessage'],
  [ErrorCode.UntrustedIdentity, 'UntrustedIdentity'],
  [ErrorCode.InvalidSession, 'NoSession'], // "invalid session": no usable session state
  [ErrorCode.InvalidSenderKeySession, 'NoSession'],
  [ErrorCode.InvalidProtocolAddress, 'BadRequest'],
]);

// Checked in order; the first match wins. The texts are the Display strings
// of libsignal's SignalProtocolError.
const byMessage = [
  [/^invalid signature detected/, 'InvalidSignature'],
  [/^session (with .* )?not found|^missing sender key state/, 'NoSession'],
  [/^unknown server certificate ID|^invalid sealed sender message: trust root validation failed/, 'InvalidSenderCertificate'],
  [
    /^(no key type identifier|bad key type|bad key length|invalid key agreement|invalid (prekey|signed prekey|Kyber prekey) identifier|bad KEM key|unexpected KEM key type)|invalid key: no /,
    'InvalidKey',
  ],
  [
    /^(protobuf encoding was invalid|ciphertext serialized bytes were too short|ciphertext version was|unrecognized message version|invalid \w+ message|invalid MAC key length|bad KEM ciphertext length|invalid sealed sender message|unknown sealed sender message version)/,
    'InvalidMessage',
  ],
];

export function errorType(err) {
  if (typeof err?.sky_error_type === 'string') return err.sky_error_type;
  if (!(err instanceof LibSignalErrorBase)) return 'Generic';
  const type = byCode.get(err.code);
  if (type !== undefined) return type;
  for (const [pattern, name] of byMessage) {
    if (pattern.test(err.message)) return name;
  }
  return 'Generic';
}
