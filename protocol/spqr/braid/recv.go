package braid

import (
	"github.com/skymsg/sky/internal/mlkem768"
	"github.com/skymsg/sky/protocol/spqr/erasure"
)

// Recv processes a received message and returns the epoch secret when this
// message completes one (the last ct2 chunk of an epoch in which we own the
// key pair). Messages of earlier epochs are accepted and change nothing. On
// error the state is unchanged.
func (s *State) Recv(m Message) (*EpochSecret, error) {
	if m.Epoch > s.epoch {
		// Only the encapsulator, once done, may see the peer move on.
		if s.phase == ct2Sampled && m.Epoch == s.epoch+1 {
			s.epoch++
			s.phase = keysUnsampled
			s.enc = nil
			return nil, nil
		}
		return nil, ErrEpoch
	}
	if m.Epoch < s.epoch {
		return nil, nil
	}
	switch {
	case s.phase == keysSampled && m.Type == MsgCt1:
		// The peer has our header; stream t̂ and collect ct1.
		// t̂ is not stored while the header streams (a one-way stream stays
		// in that phase, and its state is encoded with every message); the
		// cached key pair gives it, or the seed once more after a restore.
		v := s.decapsulationKey().Vector()
		s.enc = mustEncoder(v[:])
		s.dec = mustDecoder(ct1BlobSize)
		s.dec.Add(m.Chunk)
		s.phase = headerSent
	case s.phase == headerSent && m.Type == MsgCt1:
		s.dec.Add(m.Chunk)
		if b, ok := s.dec.Decode(); ok {
			s.ct1 = (*[mlkem768.Ciphertext1Size]byte)(b)
			s.dec = nil
			s.phase = ct1Received
		}
	case s.phase == ct1Received && m.Type == MsgCt2:
		s.dec = mustDecoder(ct2BlobSize)
		s.dec.Add(m.Chunk)
		s.enc = nil
		s.phase = ekSentCt1Received
	case s.phase == ekSentCt1Received && m.Type == MsgCt2:
		return s.collect(m.Chunk, s.recvCt2)
	case s.phase == noHeaderReceived && m.Type == MsgHdr:
		return s.collect(m.Chunk, s.recvHeader)
	case s.phase == ct1Sampled && (m.Type == MsgEk || m.Type == MsgEkCt1Ack):
		acked := m.Type == MsgEkCt1Ack
		return s.collect(m.Chunk, func() (*EpochSecret, error) { return nil, s.recvVector(acked) })
	case s.phase == ekReceivedCt1Sampled && (m.Type == MsgCt1Ack || m.Type == MsgEkCt1Ack):
		return nil, s.encapsulate2(s.vector)
	case s.phase == ct1Acknowledged && (m.Type == MsgEk || m.Type == MsgEkCt1Ack):
		return s.collect(m.Chunk, func() (*EpochSecret, error) { return nil, s.recvVector(true) })
	}
	return nil, nil
}

// MayYieldSecret reports whether Recv(m) can return an epoch secret: only
// a ct2 chunk of the current epoch received by the side that owns the key
// pair (its last chunk completes the epoch). A caller that must make room
// for the secret before Recv (package spqr) asks this first.
func (s *State) MayYieldSecret(m Message) bool {
	return m.Epoch == s.epoch && s.phase == ekSentCt1Received && m.Type == MsgCt2
}

// collect adds a chunk to the blob being collected and runs next, which
// acts on the blob if it is complete. If next fails, the chunk is taken out
// again, so that the state is as it was.
func (s *State) collect(c erasure.Chunk, next func() (*EpochSecret, error)) (*EpochSecret, error) {
	dec := s.dec
	added := dec.Add(c)
	sec, err := next()
	if err != nil && added {
		dec.Remove(c.Index)
	}
	return sec, err
}

// recvHeader collects a header chunk; a complete header must carry a valid
// MAC, and then we wait to send ct1 and start collecting t̂.
func (s *State) recvHeader() (*EpochSecret, error) {
	b, ok := s.dec.Decode()
	if !ok {
		return nil, nil
	}
	hdr, mac := b[:mlkem768.HeaderSize], b[mlkem768.HeaderSize:]
	if err := s.auth.VerifyHeader(s.epoch, hdr, mac); err != nil {
		return nil, err
	}
	copy(s.hdr[:], hdr)
	s.dec = mustDecoder(vectorBlobSize)
	s.phase = headerReceived
	return nil, nil
}

// recvVector collects a t̂ chunk while we stream or have streamed ct1. acked
// says whether the peer has all of ct1; with both t̂ and the acknowledgement
// we can produce ct2.
func (s *State) recvVector(acked bool) error {
	b, ok := s.dec.Decode()
	if !ok {
		if acked {
			s.enc = nil
			s.phase = ct1Acknowledged
		}
		return nil
	}
	vector := (*[mlkem768.VectorSize]byte)(b)
	if _, err := mlkem768.CheckVector(&s.hdr, vector); err != nil {
		return ErrKeyMismatch
	}
	if acked {
		return s.encapsulate2(vector)
	}
	s.vector = vector
	s.dec = nil
	s.phase = ekReceivedCt1Sampled
	return nil
}

// recvCt2 collects a ct2 chunk; with ct2 complete we decapsulate, update the
// authenticator with the epoch secret, check the ciphertext MAC, and move to
// the next epoch, in which the peer owns the key pair.
func (s *State) recvCt2() (*EpochSecret, error) {
	b, ok := s.dec.Decode()
	if !ok {
		return nil, nil
	}
	ct2, mac := b[:mlkem768.Ciphertext2Size], b[mlkem768.Ciphertext2Size:]
	ct := append(s.ct1[:], ct2...)
	k, err := s.decapsulationKey().Decapsulate(ct)
	if err != nil {
		return nil, ErrState
	}
	sec := epochSecret(s.epoch, k)
	auth := s.auth
	auth.Update(s.epoch, sec.Secret[:])
	if err := auth.VerifyCiphertext(s.epoch, ct, mac); err != nil {
		return nil, err
	}
	s.auth = auth
	s.epoch++
	s.phase = noHeaderReceived
	s.dec = mustDecoder(headerBlobSize)
	s.forgetEpoch()
	return &sec, nil
}
