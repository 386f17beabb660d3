package loadgen

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/skymsg/sky/server/ws"
	"github.com/skymsg/sky/wire"
)

// TestHandEncodedRequests checks the hand-made (sealed) Send and Ack frames against
// protobuf's encoding of the same requests, numbered in order.
func TestHandEncodedRequests(t *testing.T) {
	c := &Conn{rng: rand.NewChaCha8([32]byte{7})}
	to := Device{Account: "acct123", ID: 300}
	content := bytes.Repeat([]byte{0xC3}, 200)
	ids := [][]byte{bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 16)}
	var buf []byte
	token := bytes.Repeat([]byte{0x5A}, wire.DeliveryTokenBytes)
	buf = c.appendSend(buf, to, token, content)
	buf = c.appendAck(buf, ids)
	for i, want := range []*wire.Request{
		{Id: 1, Op: &wire.Request_Send{Send: &wire.Send{Account: to.Account, Device: to.ID, Content: content, DeliveryToken: token}}},
		{Id: 2, Op: &wire.Request_Ack{Ack: &wire.Ack{Ids: ids}}},
	} {
		h, n, err := ws.ParseHeader(buf, 1<<20)
		if err != nil || n == 0 || !h.Fin || h.Op != ws.OpBinary || !h.Masked || int64(len(buf)-n) < h.Length {
			t.Fatalf("request %d: header %+v, %d bytes, %v", i+1, h, n, err)
		}
		payload := bytes.Clone(buf[n : n+int(h.Length)])
		ws.MaskBytes(h.Mask, 0, payload)
		wantBytes, err := wire.Encode(&wire.Frame{Body: &wire.Frame_Request{Request: want}})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(payload, wantBytes) {
			t.Errorf("request %d:\n%x\nwant protobuf's\n%x", i+1, payload, wantBytes)
		}
		buf = buf[n+int(h.Length):]
	}
	if len(buf) != 0 {
		t.Fatalf("%d bytes left over", len(buf))
	}
}
