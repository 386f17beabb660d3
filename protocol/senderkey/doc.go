// Package senderkey implements Signal's sender keys, the group messaging
// scheme of libsignal 0.103, byte-compatible with it.
//
// A sender has one sender key per distribution (a group, named by a UUID).
// It hands the key to every member in a DistributionMessage sent over the
// 1:1 sessions; then it encrypts each group message once, as a Message that
// every member decrypts. A sender key is a hash chain: step i gives the
// message key of iteration i (HMAC-SHA256 with 0x01, then HKDF "WhisperGroup"
// into an AES-256-CBC key and IV) and the next chain key (HMAC with 0x02).
// Every message is signed (XEdDSA) with a signing key whose public half is in
// the distribution message.
//
// A Record holds what one device knows about one (sender, distribution):
// up to MaxStates chains, newest first, each with the message keys it skipped
// (at most MaxSkippedKeys) so late messages still decrypt. A receiver jumps at
// most MaxForwardJump iterations ahead; a message seen before is a duplicate.
// A failed decryption leaves the record as it was.
//
// Records are kept through the Store interface in Sky's own versioned
// encoding (Record.MarshalBinary). The package is pure: no I/O, no clock;
// randomness from crypto/rand.
package senderkey
