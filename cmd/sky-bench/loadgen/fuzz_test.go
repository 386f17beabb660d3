package loadgen

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/wire"
)

// FuzzServerFrame feeds the load generator's hand-written parsers of server
// frames arbitrary bytes: they return fields inside the input or an error,
// never panic.
func FuzzServerFrame(f *testing.F) {
	push := wire.PushEnvelope{ID: make([]byte, 16), ServerTime: 5, Content: make([]byte, 20)}
	f.Add(push.AppendField(wire.AppendPushPrefix(nil, push.FieldLen())))
	f.Add(wire.AppendSentResponse(nil, 7))
	f.Add([]byte{0x22, 0x05, 0x08, 0x01, 0x12, 0x01, 0x08})
	f.Add([]byte{0x2a, 0x80, 0x80, 0x80, 0x80, 0x10})
	f.Fuzz(func(t *testing.T, b []byte) {
		num, body, err := parseFrame(b)
		if err != nil {
			return
		}
		if num < 0 || len(body) > len(b) {
			t.Fatalf("frame field %d with %d body bytes from %d", num, len(body), len(b))
		}
		eachField(body, func(n protowire.Number, v uint64, p []byte) {
			if len(p) > len(body) {
				t.Fatalf("field %d of %d bytes inside %d", n, len(p), len(body))
			}
			eachField(p, func(protowire.Number, uint64, []byte) {})
		})
	})
}
