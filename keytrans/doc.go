// Package keytrans is Sky's key transparency: the statements the key
// directory makes and how anyone checks them.
//
// The directory keeps every account's identity key. An account's entry sits
// in a prefix tree (package prefix) at the VRF output of its account ID
// (package vrf), and holds a version and a commitment to the key, so the
// tree reveals neither who has an account nor any key. Each epoch the
// directory appends a leaf (epoch number, time, prefix root) to an
// append-only log (package logtree) and signs a Head of the log with a
// directory key that the operator's offline trust root certified. Clients
// check every key they fetch against a head (VerifyLookup), check that
// each new head extends the last they saw (VerifyConsistency), and watch
// their own entry; auditors replay each epoch's updates (Auditor) and
// countersign the heads they checked.
//
// Everything here is pure: no I/O, no clock; randomness from crypto/rand
// only for commitments' openings.
package keytrans
