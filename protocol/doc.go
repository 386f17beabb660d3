// Package protocol is Sky's implementation of the Signal protocol for 1:1
// sessions, byte-compatible with libsignal 0.103 (@signalapp/libsignal-client):
// PQXDH session setup from prekey bundles, the Double Ratchet with SPQR
// beside it, session records with archived states (Sesame), and the stores
// they are kept in.
//
// The package is pure: it does no I/O and reads no clock. Stores are small
// interfaces the caller implements, the current time is a parameter, and
// randomness comes from crypto/rand.
//
// The subpackages are the parts: curve (Curve25519 keys, XEdDSA), kem
// (Kyber1024), identity, prekey (prekeys and bundles), message (wire
// formats), pqxdh (the key agreement), ratchet (one session's Double
// Ratchet state), spqr (the Sparse Post-Quantum Ratchet: the ML-KEM Braid
// and its symmetric chain) and fingerprint (safety numbers).
package protocol
