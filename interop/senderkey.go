package interop

import (
	"errors"
	"fmt"
)

// SenderKeyVersion is the version byte of both sender-key messages.
const SenderKeyVersion = 0x33

// SenderKeyDistribution is a parsed SenderKeyDistributionMessage.
type SenderKeyDistribution struct {
	Version        byte
	DistributionID []byte // 16 raw UUID bytes
	ChainID        uint32
	Iteration      uint32
	ChainKey       []byte // 32 bytes
	SigningKey     []byte // 33 bytes, 0x05 ‖ key
}

// ParseSenderKeyDistribution parses a SenderKeyDistributionMessage:
// version byte ‖ protobuf.
func ParseSenderKeyDistribution(b []byte) (SenderKeyDistribution, error) {
	var m SenderKeyDistribution
	if len(b) == 0 {
		return m, errors.New("SenderKeyDistributionMessage is empty")
	}
	m.Version = b[0]
	_, err := eachField("SenderKeyDistributionMessage", b[1:], func(f field) (err error) {
		switch f.Num {
		case 1:
			m.DistributionID, err = bytesField(f, "distribution_uuid", 16)
		case 2:
			m.ChainID, err = uint32Field(f, "chain_id")
		case 3:
			m.Iteration, err = uint32Field(f, "iteration")
		case 4:
			m.ChainKey, err = bytesField(f, "chain_key", 32)
		case 5:
			m.SigningKey, err = bytesField(f, "signing_key", 33)
		}
		return err
	})
	if err != nil {
		return m, err
	}
	if m.DistributionID == nil || m.ChainKey == nil || m.SigningKey == nil {
		return m, errors.New("SenderKeyDistributionMessage: distribution id, chain key or signing key missing")
	}
	return m, nil
}

// SenderKeySignatureSize is the XEdDSA signature at the end of a
// SenderKeyMessage.
const SenderKeySignatureSize = 64

// SenderKeyMessage is a parsed SenderKeyMessage (envelope type 7).
type SenderKeyMessage struct {
	Version        byte
	DistributionID []byte // 16 raw UUID bytes
	ChainID        uint32
	Iteration      uint32
	Ciphertext     []byte
	Signature      []byte
}

// ParseSenderKeyMessage parses version byte ‖ protobuf ‖ 64-byte signature.
// It does not verify the signature.
func ParseSenderKeyMessage(b []byte) (SenderKeyMessage, error) {
	var m SenderKeyMessage
	if len(b) < 1+SenderKeySignatureSize {
		return m, fmt.Errorf("SenderKeyMessage of %d bytes is shorter than version byte and signature", len(b))
	}
	m.Version = b[0]
	m.Signature = b[len(b)-SenderKeySignatureSize:]
	_, err := eachField("SenderKeyMessage", b[1:len(b)-SenderKeySignatureSize], func(f field) (err error) {
		switch f.Num {
		case 1:
			m.DistributionID, err = bytesField(f, "distribution_uuid", 16)
		case 2:
			m.ChainID, err = uint32Field(f, "chain_id")
		case 3:
			m.Iteration, err = uint32Field(f, "iteration")
		case 4:
			m.Ciphertext, err = bytesField(f, "ciphertext", 0)
		}
		return err
	})
	if err != nil {
		return m, err
	}
	if m.DistributionID == nil || m.Ciphertext == nil {
		return m, errors.New("SenderKeyMessage: distribution id or ciphertext missing")
	}
	return m, nil
}
