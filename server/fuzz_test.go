package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/wire"
)

// FuzzServerFrame sends arbitrary bytes as a frame on an authenticated
// connection to a real skyd. Whatever the input, the server must not panic,
// must answer with a response, an error frame or a close, and must keep
// serving a fresh connection afterwards.
func FuzzServerFrame(f *testing.F) {
	seeds := []*wire.Frame{
		{Body: &wire.Frame_Request{Request: &wire.Request{Id: 1, Op: &wire.Request_GetAccount{GetAccount: &wire.GetAccount{}}}}},
		{Body: &wire.Frame_Request{Request: &wire.Request{Id: 2, Op: &wire.Request_Ack{Ack: &wire.Ack{Ids: [][]byte{make([]byte, 16), {1}}}}}}},
		{Body: &wire.Frame_Request{Request: &wire.Request{Id: 3, Op: &wire.Request_Send{Send: &wire.Send{Account: "2345678923", Device: 1, Content: []byte{1}}}}}},
		{Body: &wire.Frame_Request{Request: &wire.Request{Id: 4, Op: &wire.Request_UploadPrekeys{UploadPrekeys: &wire.UploadPreKeys{SignedEc: &wire.PreKey{Key: []byte{1}}}}}}},
		{Body: &wire.Frame_Request{Request: &wire.Request{Id: 5, Op: &wire.Request_FetchBundles{FetchBundles: &wire.FetchBundles{Account: "x"}}}}},
		{Body: &wire.Frame_Request{Request: &wire.Request{Id: 6, Op: &wire.Request_Register{Register: &wire.Register{ActivationCode: "abc"}}}}},
		{Body: &wire.Frame_Hello{Hello: &wire.Hello{}}},
	}
	for _, s := range seeds {
		f.Add(mustEncode(s))
	}
	f.Add([]byte{0x1a, 0x80, 0x80, 0x80, 0x80, 0x10})
	// A request with the ID the harness's own probe gets next (after
	// Authenticate's 1), answered with an error in the probe's place.
	f.Add(mustEncode(&wire.Frame{Body: &wire.Frame_Request{Request: &wire.Request{Id: 2}}}))

	// One server for the whole run (a per-input server would make fuzzing
	// far too slow).
	srv, dev := fuzzServer(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := servertest.Dial(ctx, srv.URL)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.CloseNow()
		if _, err := c.Authenticate(ctx, dev); err != nil {
			t.Fatalf("authenticate: %v", err)
		}
		if err := c.WriteRaw(ctx, websocket.MessageBinary, data); err != nil {
			return
		}
		// Either the connection still works or it was closed with a reason.
		if !probe(ctx, c, dev) {
			select {
			case <-c.Done():
			case <-ctx.Done():
				t.Fatalf("no answer and no close after input %x", data)
			}
		}
		// The server still serves others.
		c2, err := servertest.Dial(ctx, srv.URL)
		if err != nil {
			t.Fatalf("server stopped serving after input %x: %v", data, err)
		}
		c2.CloseNow()
	})
}

// probe reports whether c still answers a GetAccount for dev. The input may
// be a request with the ID the probe gets, whose answer then arrives in the
// probe's place; a probe answered with anything but dev's account is
// repeated once, under the next ID, which the one input request cannot
// also have.
func probe(ctx context.Context, c *servertest.Client, dev *servertest.Device) bool {
	for range 2 {
		r, err := c.Call(ctx, &wire.Request{Op: &wire.Request_GetAccount{GetAccount: &wire.GetAccount{}}})
		if err == nil && r.GetAccount().GetAccount() == dev.Account {
			return true
		}
		if ctx.Err() != nil || errors.Is(err, servertest.ErrClosed) {
			return false
		}
	}
	return false
}

// fuzzServer starts a long-lived server with generous limits for fuzzing.
func fuzzServer(t *testing.F) (*servertest.Server, *servertest.Device) {
	lots := server.Rate{Per: 1e9, Burst: 1 << 30}
	srv := servertest.Start(t, server.Config{ConnRate: lots, SendRate: lots, BundleRate: lots, RegisterRate: lots})
	st := srv.Store
	codes, err := server.CreateCodes(context.Background(), st, 1, time.Hour, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	c, err := servertest.Dial(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	d, err := c.Register(context.Background(), codes[0])
	if err != nil {
		t.Fatal(err)
	}
	return srv, d
}
