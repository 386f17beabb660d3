// Package sealed implements sealed sender (version 1) as libsignal 0.103
// does it: a message whose sender is hidden from the server and revealed,
// with proof, only to the recipient.
//
// The sender wraps its ordinary ciphertext (a Signal, PreKey, sender-key or
// plaintext message) in a Content (libsignal's
// UnidentifiedSenderMessageContent) together with a SenderCertificate, then
// seals that for the recipient's identity key with Encrypt. The recipient
// opens it with its own identity (Open), which proves the envelope was made
// with the private key of the identity key named in the certificate, and
// Decrypt then checks the certificate: signed by a server certificate that a
// trust root signed and that is not revoked, and not expired at the given
// time. Self-sends are refused.
//
// Certificates form a two-link chain. The operator's TrustRoot, kept
// offline, signs a ServerCertificate for each server key; the server, through
// an Issuer, signs short-lived SenderCertificates for authenticated devices.
// Clients pin the trust root's public key.
//
// Like the rest of the protocol core the package is pure: no I/O, no clock
// (the time is a parameter), randomness from crypto/rand. Wire formats are
// byte-compatible with libsignal; the tests check them against bytes that
// libsignal produced and against libsignal itself.
package sealed
