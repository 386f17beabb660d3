// Package core is the client core of Sky: one account on one device, its
// encrypted store and its connection, and the two pipelines every part of
// the client shares — sending (a durable outbox of sealed envelopes) and
// receiving (one store transaction per push, acknowledged after it
// committed, with dedupe and sender-order release) — and the event stream.
//
// The concerns of the client (groups, message requests, verification,
// timers, broadcast lists, and those to come) are packages of their own
// built on this one's exported API: they keep their state under their own
// setting names with the helpers of settings.go, add what they show to a
// Batch, and queue what they send with AddOutgoing or EnqueueControl. This
// package imports none of them; package client wires them together and
// sets the Receiver that hands each received envelope to its owner. See
// package client for what the SDK guarantees against a hostile server.
package core
