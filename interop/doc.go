// Package interop drives interop test peers: processes that speak the line
// protocol of shared/interop/PEER-PROTOCOL.md on stdin and stdout.
//
// Two peers exist: the Go peer (cmd/sky-interop-peer, on Sky's protocol core)
// and the Node peer (interop/node, on @signalapp/libsignal-client 0.103.0, the
// reference implementation). The tests of this package run the same scenarios
// over every pairing of the two, so that any difference between Sky's core and
// libsignal shows up as a failing scenario naming the step that differs.
//
// Peer is the process driver: it pipelines requests, checks that every reply
// answers the request it belongs to, and gives up on a peer that stops
// answering instead of hanging. The message parsers (ParseSignalMessage,
// ParsePreKeySignalMessage, ParsePQRatchet, ParseScannable) read the wire
// formats the peers produce, so tests can check fields such as the 36-byte
// addresses field or the SPQR epoch without trusting either implementation.
package interop
