package wire

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"google.golang.org/protobuf/proto"
)

func TestRoundTrip(t *testing.T) {
	frames := []*Frame{
		{Body: &Frame_Hello{Hello: &Hello{Versions: []uint32{1, 2}}}},
		{Body: &Frame_Request{Request: &Request{Id: 7, Op: &Request_Send{Send: &Send{Account: "abc", Device: 1, Content: []byte("x")}}}}},
		{Body: &Frame_Push{Push: &Push{Envelopes: []*Envelope{{Id: make([]byte, 16), Content: []byte("c")}}}}},
		{Body: &Frame_Response{Response: &Response{Id: 9, Error: NewError(Code_RATE_LIMITED, "slow down")}}},
	}
	for _, f := range frames {
		b, err := Encode(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b, MaxClientFrameBytes)
		if err != nil || !proto.Equal(got, f) {
			t.Fatalf("Decode(Encode(%v)) = %v, %v", f, got, err)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	big := make([]byte, 100)
	for name, b := range map[string][]byte{
		"empty frame (no body)": {},
		"garbage":               {0xff, 0xff, 0xff},
		"truncated":             mustEncode(t, &Frame{Body: &Frame_Hello{Hello: &Hello{Versions: []uint32{1}}}})[:2],
		"over the limit":        big,
	} {
		if _, err := Decode(b, 50); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func mustEncode(t *testing.T, f *Frame) []byte {
	b, err := Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestErrorIs(t *testing.T) {
	var err error = NewError(Code_QUEUE_FULL, "the recipient's queue is full")
	wrapped := fmt.Errorf("send: %w", err)
	if !errors.Is(wrapped, ErrQueueFull) || errors.Is(wrapped, ErrRateLimited) {
		t.Fatal("errors.Is does not match by code")
	}
	if got := err.Error(); got != "sky server: the recipient's queue is full (QUEUE_FULL)" {
		t.Fatalf("Error() = %q", got)
	}
}

func TestSignedDataIsUnambiguous(t *testing.T) {
	ch := bytes.Repeat([]byte{1}, ChallengeBytes)
	// Account and device are length-delimited: no two pairs share bytes.
	if bytes.Equal(AuthSignedData(ch, "ab", 1), AuthSignedData(ch, "a", 1)) {
		t.Fatal("different accounts sign the same bytes")
	}
	a := AuthSignedData(ch, "abc", 1)
	r := RegisterSignedData(ch, []byte("abc"), nil, 1)
	if bytes.Equal(a, r) || !bytes.HasPrefix(a, []byte("sky/v1 authenticate\x00")) || !bytes.HasPrefix(r, []byte("sky/v1 register\x00")) {
		t.Fatal("authentication and registration signatures are not domain-separated")
	}
	if bytes.Equal(RegisterSignedData(ch, []byte("k"), []byte("ab"), 1), RegisterSignedData(ch, []byte("k"), []byte("a"), 1)) {
		t.Fatal("identity keys of different lengths sign the same bytes")
	}
}

// FuzzDecode checks that no input makes Decode panic, and that whatever it
// accepts re-encodes to something it accepts again.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add(mustEncodeF(&Frame{Body: &Frame_Hello{Hello: &Hello{Versions: []uint32{1}}}}))
	f.Add(mustEncodeF(&Frame{Body: &Frame_Request{Request: &Request{Id: 1, Op: &Request_Ack{Ack: &Ack{Ids: [][]byte{make([]byte, 16)}}}}}}))
	f.Add(mustEncodeF(&Frame{Body: &Frame_Request{Request: &Request{Id: 2, Op: &Request_UploadPrekeys{UploadPrekeys: &UploadPreKeys{OneTimeEc: []*PreKey{{Id: 1, Key: []byte{5}}}}}}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := Decode(b, MaxClientFrameBytes)
		if err != nil {
			return
		}
		again, err := Encode(fr)
		if err != nil {
			t.Fatalf("re-encoding an accepted frame: %v", err)
		}
		if _, err := Decode(again, MaxClientFrameBytes+len(again)); err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
	})
}

func mustEncodeF(f *Frame) []byte {
	b, err := Encode(f)
	if err != nil {
		panic(err)
	}
	return b
}

// TestDecodeGarbageAllocation: decoding 1 MiB of garbage allocates memory
// bounded by a small multiple of the input (acceptance test 13).
func TestDecodeGarbageAllocation(t *testing.T) {
	garbage := bytes.Repeat([]byte{0x1a, 0xff, 0xff, 0x3f}, 1<<18) // claims huge nested lengths
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < 10; i++ {
		if _, err := Decode(garbage, len(garbage)); err == nil {
			t.Fatal("garbage decoded")
		}
	}
	runtime.ReadMemStats(&after)
	if perRun := (after.TotalAlloc - before.TotalAlloc) / 10; perRun > 4*uint64(len(garbage)) {
		t.Fatalf("decoding 1 MiB of garbage allocated %d bytes per run", perRun)
	}
}
