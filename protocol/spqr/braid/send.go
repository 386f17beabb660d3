package braid

import "github.com/skymsg/sky/internal/mlkem768"

// Send advances the state for one outgoing message and returns the message,
// and the epoch secret when this message is the one that fixes it (the first
// ct1 chunk of an epoch in which we encapsulate).
func (s *State) Send() (Message, *EpochSecret, error) {
	msg := Message{Epoch: s.epoch}
	var sec *EpochSecret
	switch s.phase {
	case keysUnsampled:
		s.sampleKeys()
		msg.Type, msg.Chunk = MsgHdr, s.enc.Next()
	case keysSampled:
		msg.Type, msg.Chunk = MsgHdr, s.enc.Next()
	case headerSent:
		msg.Type, msg.Chunk = MsgEk, s.enc.Next()
	case ct1Received:
		msg.Type, msg.Chunk = MsgEkCt1Ack, s.enc.Next()
	case ekSentCt1Received:
		msg.Type = MsgCt1Ack
	case noHeaderReceived, ct1Acknowledged:
		msg.Type = MsgNone
	case headerReceived:
		sec = s.encapsulate1()
		msg.Type, msg.Chunk = MsgCt1, s.enc.Next()
	case ct1Sampled, ekReceivedCt1Sampled:
		msg.Type, msg.Chunk = MsgCt1, s.enc.Next()
	case ct2Sampled:
		msg.Type, msg.Chunk = MsgCt2, s.enc.Next()
	default:
		return Message{}, nil, ErrState
	}
	return msg, sec, nil
}

// sampleKeys starts an epoch we own: a new key pair, and its header with MAC
// to stream.
func (s *State) sampleKeys() {
	random(s.seed[:])
	s.dk = nil
	hdr := s.decapsulationKey().Header()
	mac := s.auth.HeaderMAC(s.epoch, hdr[:])
	s.enc = mustEncoder(append(hdr[:], mac[:]...))
	s.phase = keysSampled
}

// encapsulate1 starts encapsulating to the peer's header: the epoch secret is
// fixed now and goes into the authenticator at once; ct1 is what we stream.
func (s *State) encapsulate1() *EpochSecret {
	random(s.m[:])
	ct1, k := mlkem768.Encapsulate1(&s.hdr, &s.m)
	sec := epochSecret(s.epoch, k)
	s.auth.Update(s.epoch, sec.Secret[:])
	s.ct1 = &ct1
	s.enc = mustEncoder(ct1[:])
	s.phase = ct1Sampled // the t̂ decoder made when the header arrived stays
	return &sec
}

// encapsulate2 finishes the encapsulation with the peer's t̂ and streams
// ct2 ‖ MAC(ct1 ‖ ct2).
func (s *State) encapsulate2(vector *[mlkem768.VectorSize]byte) error {
	ct2, err := mlkem768.Encapsulate2(&s.hdr, vector, &s.m)
	if err != nil {
		return ErrKeyMismatch
	}
	ct := append(s.ct1[:], ct2[:]...)
	mac := s.auth.CiphertextMAC(s.epoch, ct)
	s.enc = mustEncoder(append(ct2[:], mac[:]...))
	s.dec = nil
	s.phase = ct2Sampled
	s.forgetEpoch()
	return nil
}

// forgetEpoch erases the key material of the finished epoch.
func (s *State) forgetEpoch() {
	clear(s.seed[:])
	s.dk = nil
	clear(s.hdr[:])
	clear(s.m[:])
	s.ct1, s.vector = nil, nil
}
