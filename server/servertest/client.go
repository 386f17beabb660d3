package servertest

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/coder/websocket"

	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/wire"
)

// ErrClosed is returned for calls on a closed connection.
var ErrClosed = errors.New("servertest: connection closed")

// Device is a registered device and its authentication key.
type Device struct {
	Account string
	ID      uint32
	Key     ed25519.PrivateKey
}

// Client is one wire-protocol connection.
type Client struct {
	ws      *websocket.Conn
	Welcome *wire.Welcome

	calls wire.Calls // requests waiting for their responses

	mu    sync.Mutex
	err   error       // why the connection ended
	fatal *wire.Error // the connection-level Error frame, if any

	// Pushes receives every pushed envelope in order.
	Pushes chan *wire.Envelope
	done   chan struct{}
}

// Dial connects and completes the Hello/Welcome handshake.
func Dial(ctx context.Context, url string) (*Client, error) {
	return DialVersions(ctx, url, []uint32{wire.Version})
}

// DialAnonymous connects as an anonymous connection (Hello.anonymous): one
// that only sends sealed messages with delivery tokens.
func DialAnonymous(ctx context.Context, url string) (*Client, error) {
	return dial(ctx, url, &wire.Hello{Versions: []uint32{wire.Version}, Anonymous: true})
}

// DialVersions is Dial offering the given protocol versions.
func DialVersions(ctx context.Context, url string, versions []uint32) (*Client, error) {
	return dial(ctx, url, &wire.Hello{Versions: versions})
}

// DialFrom is Dial from the local address src (127.0.0.0/8 is all
// loopback on Linux, so tests can be several clients).
func DialFrom(ctx context.Context, url string, src net.IP) (*Client, error) {
	return dialWith(ctx, url, &wire.Hello{Versions: []uint32{wire.Version}}, fromClient(src))
}

func fromClient(src net.IP) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: src}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

func dial(ctx context.Context, url string, hello *wire.Hello) (*Client, error) {
	return dialWith(ctx, url, hello, nil)
}

func dialWith(ctx context.Context, url string, hello *wire.Hello, hc *http.Client) (*Client, error) {
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled, HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(wire.MaxServerFrameBytes)
	c := &Client{ws: ws, Pushes: make(chan *wire.Envelope, 1<<16), done: make(chan struct{})}
	if err := c.WriteFrame(ctx, &wire.Frame{Body: &wire.Frame_Hello{Hello: hello}}); err != nil {
		ws.CloseNow()
		return nil, err
	}
	f, err := c.readFrame(ctx)
	if err != nil {
		ws.CloseNow()
		return nil, err
	}
	if e := f.GetError(); e != nil {
		ws.CloseNow()
		return nil, e
	}
	if c.Welcome = f.GetWelcome(); c.Welcome == nil {
		ws.CloseNow()
		return nil, fmt.Errorf("servertest: expected Welcome, got %T", f.GetBody())
	}
	go c.readLoop()
	return c, nil
}

// WriteFrame sends a raw frame.
func (c *Client) WriteFrame(ctx context.Context, f *wire.Frame) error {
	b, err := wire.Encode(f)
	if err != nil {
		return err
	}
	return c.ws.Write(ctx, websocket.MessageBinary, b)
}

// WriteRaw sends raw bytes as one message of type typ.
func (c *Client) WriteRaw(ctx context.Context, typ websocket.MessageType, b []byte) error {
	return c.ws.Write(ctx, typ, b)
}

func (c *Client) readFrame(ctx context.Context) (*wire.Frame, error) {
	_, b, err := c.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	return wire.Decode(b, wire.MaxServerFrameBytes)
}

func (c *Client) readLoop() {
	var err error
	defer func() {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		c.calls.Close()
		close(c.done)
		close(c.Pushes)
	}()
	for {
		var f *wire.Frame
		if f, err = c.readFrame(context.Background()); err != nil {
			return
		}
		switch b := f.GetBody().(type) {
		case *wire.Frame_Response:
			c.calls.Deliver(b.Response)
		case *wire.Frame_Push:
			for _, e := range b.Push.GetEnvelopes() {
				c.Pushes <- e
			}
		case *wire.Frame_Error:
			c.mu.Lock()
			c.fatal = b.Error
			c.mu.Unlock()
		}
	}
}

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Fatal returns the connection-level Error frame the server sent, if any.
func (c *Client) Fatal() *wire.Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fatal
}

// Err returns why the connection ended (after Done is closed).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection.
func (c *Client) Close() error { return c.ws.Close(websocket.StatusNormalClosure, "") }

// CloseNow drops the connection without a closing handshake.
func (c *Client) CloseNow() error { return c.ws.CloseNow() }

// Start sends a request and returns a channel that receives its response
// (closed without one if the connection ends first).
func (c *Client) Start(ctx context.Context, req *wire.Request) (<-chan *wire.Response, error) {
	ch, ok := c.calls.Add(req)
	if !ok {
		return nil, ErrClosed
	}
	if err := c.WriteFrame(ctx, &wire.Frame{Body: &wire.Frame_Request{Request: req}}); err != nil {
		c.calls.Cancel(req.Id)
		return nil, err
	}
	return ch, nil
}

// Call sends a request and waits for its response. A response carrying an
// Error is returned together with that error.
func (c *Client) Call(ctx context.Context, req *wire.Request) (*wire.Response, error) {
	ch, err := c.Start(ctx, req)
	if err != nil {
		return nil, err
	}
	select {
	case r, ok := <-ch:
		if !ok {
			if f := c.Fatal(); f != nil {
				return nil, f
			}
			return nil, ErrClosed
		}
		if r.GetError() != nil {
			return r, r.GetError()
		}
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Register redeems code, creating an account whose device 1 gets a fresh
// key; the connection is then authenticated as that device.
func (c *Client) Register(ctx context.Context, code string) (*Device, error) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	ik := curve.GenerateKeyPair().Public.Bytes() // opaque to the server, but a real key for sender certificates
	reg := &wire.Register{ActivationCode: code, AuthKey: pub, IdentityKey: ik, RegistrationId: 1234}
	reg.Signature = ed25519.Sign(priv, wire.RegisterSignedData(c.Welcome.GetChallenge(), pub, ik, reg.RegistrationId))
	r, err := c.Call(ctx, &wire.Request{Op: &wire.Request_Register{Register: reg}})
	if err != nil {
		return nil, err
	}
	return &Device{Account: r.GetRegistered().GetAccount(), ID: r.GetRegistered().GetDevice(), Key: priv}, nil
}

// AuthRequest is the Authenticate request d would send on this connection.
func (c *Client) AuthRequest(d *Device) *wire.Request {
	sig := ed25519.Sign(d.Key, wire.AuthSignedData(c.Welcome.GetChallenge(), d.Account, d.ID))
	return &wire.Request{Op: &wire.Request_Authenticate{Authenticate: &wire.Authenticate{Account: d.Account, Device: d.ID, Signature: sig}}}
}

// Authenticate proves the connection belongs to d.
func (c *Client) Authenticate(ctx context.Context, d *Device) (*wire.AccountInfo, error) {
	r, err := c.Call(ctx, c.AuthRequest(d))
	if err != nil {
		return nil, err
	}
	return r.GetAuthenticated().GetAccount(), nil
}

// SendRequest builds a Send request as Sky's clients send a message
// request: sealed, on the authenticated connection, content padded to a
// sealed size (Seal; the recipient reads it back with Open). The server
// stores and pushes it without a sender.
func SendRequest(account string, device uint32, content []byte) *wire.Request {
	return &wire.Request{Op: &wire.Request_Send{Send: &wire.Send{Account: account, Device: device, Content: Seal(content), Sealed: true}}}
}

// Seal pads content to the smallest sealed size (wire.SealedSizes) that
// holds it and its 4-byte length, as a test's stand-in for a sealed
// envelope. Content over the largest is left as it is (the server refuses
// it).
func Seal(content []byte) []byte {
	n, ok := wire.SealedSize(len(content) + 4)
	if !ok {
		return content
	}
	b := make([]byte, n)
	binary.BigEndian.PutUint32(b, uint32(len(content)))
	copy(b[4:], content)
	return b
}

// Open returns the content Seal padded (b itself if it is not such).
func Open(b []byte) []byte {
	if !wire.IsSealedSize(len(b)) {
		return b
	}
	n := binary.BigEndian.Uint32(b)
	if int64(n) > int64(len(b)-4) {
		return b
	}
	return b[4 : 4+n]
}

// Send sends content to one device as a sealed request (SendRequest) and
// waits until the server committed it.
func (c *Client) Send(ctx context.Context, account string, device uint32, content []byte) error {
	_, err := c.Call(ctx, SendRequest(account, device, content))
	return err
}

// SendSealed sends sealed content with the recipient's delivery token (on
// an anonymous connection) or, with a nil token, as a sealed request (on an
// authenticated one).
func (c *Client) SendSealed(ctx context.Context, account string, device uint32, content, token []byte) error {
	_, err := c.Call(ctx, &wire.Request{Op: &wire.Request_Send{Send: &wire.Send{Account: account, Device: device, Content: content,
		DeliveryToken: token, Sealed: token == nil}}})
	return err
}

// AckRequest builds an Ack request.
func AckRequest(ids ...[]byte) *wire.Request {
	return &wire.Request{Op: &wire.Request_Ack{Ack: &wire.Ack{Ids: ids}}}
}

// Ack acknowledges envelopes by ID and waits for the commit.
func (c *Client) Ack(ctx context.Context, ids ...[]byte) error {
	_, err := c.Call(ctx, AckRequest(ids...))
	return err
}

// Next waits for the next pushed envelope.
func (c *Client) Next(ctx context.Context) (*wire.Envelope, error) {
	select {
	case e, ok := <-c.Pushes:
		if !ok {
			return nil, ErrClosed
		}
		return e, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
