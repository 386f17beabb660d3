package wire

import "google.golang.org/protobuf/encoding/protowire"

// Hand-written encoders for the frames skyd sends most: the answers to Send
// and Ack, and Push frames. They produce exactly the bytes proto.Marshal
// produces for the same messages (fields in number order, proto3 defaults
// omitted), which the tests check, but append into the caller's buffer
// without building message structs, so pushing a message costs no
// allocation.

// Field numbers used below (see sky.proto).
const (
	frameResponse = 4
	framePush     = 5

	responseID    = 1
	responseSent  = 12
	responseAcked = 13

	pushEnvelopes = 1

	envelopeID         = 1
	envelopeServerTime = 2
	envelopeContent    = 4 // 3 was the removed sender of identified messages
)

// AppendSentResponse appends the Frame holding Response{id, sent: {}}.
func AppendSentResponse(dst []byte, id uint64) []byte {
	return appendEmptyResult(dst, id, responseSent)
}

// AppendAckedResponse appends the Frame holding Response{id, acked: {}}.
func AppendAckedResponse(dst []byte, id uint64) []byte {
	return appendEmptyResult(dst, id, responseAcked)
}

// EmptyResultLen is the encoded length of AppendSentResponse's (and
// AppendAckedResponse's) frame for id.
func EmptyResultLen(id uint64) int {
	n := responseLen(id)
	return protowire.SizeTag(frameResponse) + protowire.SizeBytes(n)
}

func responseLen(id uint64) int {
	n := protowire.SizeTag(responseSent) + 1 // the empty result message
	if id != 0 {
		n += protowire.SizeTag(responseID) + protowire.SizeVarint(id)
	}
	return n
}

func appendEmptyResult(dst []byte, id uint64, field protowire.Number) []byte {
	dst = protowire.AppendTag(dst, frameResponse, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(responseLen(id)))
	if id != 0 {
		dst = protowire.AppendTag(dst, responseID, protowire.VarintType)
		dst = protowire.AppendVarint(dst, id)
	}
	dst = protowire.AppendTag(dst, field, protowire.BytesType)
	return append(dst, 0)
}

// PushEnvelope is one Envelope to encode into a Push frame. Every message
// is sealed: an envelope names no sender.
type PushEnvelope struct {
	ID         []byte
	ServerTime int64
	Content    []byte
}

// bodyLen is the length of the Envelope message itself.
func (e *PushEnvelope) bodyLen() int {
	n := 0
	if len(e.ID) > 0 {
		n += protowire.SizeTag(envelopeID) + protowire.SizeBytes(len(e.ID))
	}
	if e.ServerTime != 0 {
		n += protowire.SizeTag(envelopeServerTime) + protowire.SizeVarint(uint64(e.ServerTime))
	}
	if len(e.Content) > 0 {
		n += protowire.SizeTag(envelopeContent) + protowire.SizeBytes(len(e.Content))
	}
	return n
}

// FieldLen is the length AppendField adds: the envelope as one repeated
// field of Push.
func (e *PushEnvelope) FieldLen() int {
	return protowire.SizeTag(pushEnvelopes) + protowire.SizeBytes(e.bodyLen())
}

// AppendField appends the envelope as one element of Push.envelopes. Call
// it after AppendPushPrefix, once per envelope.
func (e *PushEnvelope) AppendField(dst []byte) []byte {
	dst = protowire.AppendTag(dst, pushEnvelopes, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(e.bodyLen()))
	if len(e.ID) > 0 {
		dst = protowire.AppendTag(dst, envelopeID, protowire.BytesType)
		dst = protowire.AppendBytes(dst, e.ID)
	}
	if e.ServerTime != 0 {
		dst = protowire.AppendTag(dst, envelopeServerTime, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(e.ServerTime))
	}
	if len(e.Content) > 0 {
		dst = protowire.AppendTag(dst, envelopeContent, protowire.BytesType)
		dst = protowire.AppendBytes(dst, e.Content)
	}
	return dst
}

// PushFrameLen is the length of a Push frame whose envelopes' FieldLen
// values sum to fields.
func PushFrameLen(fields int) int {
	return protowire.SizeTag(framePush) + protowire.SizeBytes(fields)
}

// AppendPushPrefix starts a Push frame whose envelopes' FieldLen values
// sum to fields; the envelopes' AppendField calls complete it.
func AppendPushPrefix(dst []byte, fields int) []byte {
	dst = protowire.AppendTag(dst, framePush, protowire.BytesType)
	return protowire.AppendVarint(dst, uint64(fields))
}
