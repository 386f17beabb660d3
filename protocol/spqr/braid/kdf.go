package braid

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"

	"github.com/skymsg/sky/internal/mlkem768"
)

const epochSecretLabel = "Signal_PQCKA_V1_MLKEM768:SCKA Key"

// epochSecret derives the secret of epoch from the ML-KEM shared key:
// HKDF-SHA256(salt = 0³², ikm = K, info = label ‖ BE64(epoch), 32).
func epochSecret(epoch uint64, sharedKey [mlkem768.SharedKeySize]byte) EpochSecret {
	var zero [32]byte
	info := binary.BigEndian.AppendUint64([]byte(epochSecretLabel), epoch)
	out, err := hkdf.Key(sha256.New, sharedKey[:], zero[:], string(info), 32)
	if err != nil {
		panic("braid: " + err.Error()) // unreachable for a 32-byte output
	}
	e := EpochSecret{Epoch: epoch}
	copy(e.Secret[:], out)
	clear(out)
	return e
}
