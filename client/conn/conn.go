// Package conn is the Sky client's connection to skyd: one WebSocket
// speaking the wire protocol of docs/protocol.md. It does the Hello/Welcome
// handshake, registers or authenticates the device, matches pipelined
// requests to their responses, and hands pushed envelopes to its owner in
// the order the server sent them.
//
// Everything the server sends is untrusted input: frames are size-checked and
// decoded by package wire, unsolicited responses are dropped, and nothing here
// interprets message content. What a push may do to the client is decided by
// the client package, never here.
package conn

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/proto"

	"github.com/skymsg/sky/wire"
)

// Errors of a connection. Server refusals are *wire.Error values (compare
// with errors.Is against the wire sentinels).
var (
	ErrClosed    = errors.New("the connection to the Sky server is closed; reconnect")
	ErrBadURL    = errors.New("the server address is not a ws://, wss://, http:// or https:// URL; check it (for example ws://127.0.0.1:7443)")
	ErrHandshake = errors.New("the Sky server's handshake went wrong; check the server address and that it runs skyd")
)

// pingInterval and pingTimeout detect a connection that died silently.
const (
	pingInterval = 30 * time.Second
	pingTimeout  = 15 * time.Second
	// PushBuffer is how many pushes may wait for the owner before the
	// connection stops reading (the server then holds the rest).
	PushBuffer = 16
	// MaxQueuedPushBytes bounds the decoded size of the pushes waiting for
	// the owner (the first one waits whatever its size): past it the
	// connection stops reading, and the server holds the rest.
	MaxQueuedPushBytes = 8 << 20
)

// NormalizeURL turns what a user types (ws://host:port, wss://host,
// http(s)://host, with or without the /v1/websocket path) into the
// WebSocket URL of the endpoint.
func NormalizeURL(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Host == "" {
		return "", ErrBadURL
	}
	switch u.Scheme {
	case "ws", "wss":
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", ErrBadURL
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = wire.Path
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String(), nil
}

// Conn is one authenticated (or about to be) connection. Its methods are
// safe for concurrent use.
type Conn struct {
	ws      *websocket.Conn
	welcome *wire.Welcome

	calls wire.Calls // requests waiting for their responses

	// rb is the frame read buffer, used by dial and then readLoop only and
	// kept between frames (decoding copies what it keeps), so a run of
	// large frames (attachment chunks) does not grow a new one each.
	rb bytes.Buffer

	mu    sync.Mutex
	err   error       // why the connection ended
	fatal *wire.Error // the connection-level Error frame, if any

	pushes    chan []*wire.Envelope // to the owner, from forward
	queued    chan queuedPush       // from readLoop to forward
	queue     pushBudget
	done      chan struct{}
	quit      chan struct{} // closed by Close
	closeOnce sync.Once
}

// Dial connects to the server at rawURL (see NormalizeURL) and completes the
// handshake. The connection is not yet authenticated.
func Dial(ctx context.Context, rawURL string) (*Conn, error) {
	return dial(ctx, rawURL, false)
}

// DialAnonymous is Dial for an anonymous connection: one that never
// authenticates and only sends sealed messages with delivery tokens, so the
// server cannot tie them to an account (docs/protocol.md).
func DialAnonymous(ctx context.Context, rawURL string) (*Conn, error) {
	return dial(ctx, rawURL, true)
}

func dial(ctx context.Context, rawURL string, anonymous bool) (*Conn, error) {
	u, err := NormalizeURL(rawURL)
	if err != nil {
		return nil, err
	}
	ws, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return nil, dialError(ctx, u, resp, err)
	}
	ws.SetReadLimit(wire.MaxServerFrameBytes)
	c := &Conn{ws: ws, pushes: make(chan []*wire.Envelope), queued: make(chan queuedPush, PushBuffer), done: make(chan struct{}), quit: make(chan struct{})}
	c.queue.freed = make(chan struct{}, 1)
	if err := c.write(ctx, &wire.Frame{Body: &wire.Frame_Hello{Hello: &wire.Hello{Versions: []uint32{wire.Version}, Anonymous: anonymous}}}); err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	f, err := c.read(ctx)
	if err != nil {
		ws.CloseNow()
		if ctx.Err() != nil {
			return nil, &DialError{URL: u, Reason: "the server accepted the connection but sent no Welcome in time (is this skyd?)", Err: ctx.Err()}
		}
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	if e := f.GetError(); e != nil {
		ws.CloseNow()
		return nil, e
	}
	w := f.GetWelcome()
	if w == nil || w.GetVersion() != wire.Version || len(w.GetChallenge()) != wire.ChallengeBytes {
		ws.CloseNow()
		return nil, fmt.Errorf("%w: no valid Welcome", ErrHandshake)
	}
	c.welcome = w
	go c.readLoop()
	go c.forward()
	go c.pingLoop()
	return c, nil
}

// Welcome returns the server's Welcome (limits, server time).
func (c *Conn) Welcome() *wire.Welcome { return c.welcome }

func (c *Conn) write(ctx context.Context, f *wire.Frame) error {
	bp := frameBufs.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= wire.MaxClientFrameBytes+(4<<10) {
			frameBufs.Put(bp)
		}
	}()
	b, err := proto.MarshalOptions{}.MarshalAppend((*bp)[:0], f)
	if err != nil {
		return err
	}
	*bp = b
	if len(b) > wire.MaxClientFrameBytes {
		return wire.NewError(wire.Code_TOO_LARGE, "the request is larger than the server accepts")
	}
	// Write copies b (masking it) before it returns, so b can be reused.
	return c.ws.Write(ctx, websocket.MessageBinary, b)
}

// frameBufs are the buffers requests are encoded into: an upload's
// chunks would otherwise each allocate a frame for the collector.
var frameBufs = sync.Pool{New: func() any { return new([]byte) }}

func (c *Conn) read(ctx context.Context) (*wire.Frame, error) {
	typ, r, err := c.ws.Reader(ctx)
	if err != nil {
		return nil, err
	}
	c.rb.Reset()
	if _, err := c.rb.ReadFrom(r); err != nil {
		return nil, err
	}
	b := c.rb.Bytes()
	if typ != websocket.MessageBinary {
		return nil, fmt.Errorf("%w: a text frame", wire.ErrMalformed)
	}
	if err := checkFrameShape(b); err != nil {
		return nil, err
	}
	if f, ok := decodeBlobData(b); ok {
		c.rb = nextReadBuf() // the chunk keeps this one (see RecycleChunk)
		return f, nil
	}
	return wire.Decode(b, wire.MaxServerFrameBytes)
}

func (c *Conn) readLoop() {
	var err error
	defer func() {
		c.mu.Lock()
		if c.fatal != nil {
			err = c.fatal
		}
		c.err = err
		c.mu.Unlock()
		c.calls.Close()
		close(c.done)
		c.ws.CloseNow()
	}()
	for {
		var f *wire.Frame
		if f, err = c.read(context.Background()); err != nil {
			return
		}
		switch b := f.GetBody().(type) {
		case *wire.Frame_Response:
			c.calls.Deliver(b.Response)
		case *wire.Frame_Push:
			if len(b.Push.GetEnvelopes()) == 0 {
				continue
			}
			if !c.enqueue(b.Push.GetEnvelopes()) {
				err = ErrClosed
				return
			}
		case *wire.Frame_Error:
			c.mu.Lock()
			c.fatal = b.Error
			c.mu.Unlock()
		default:
			err = fmt.Errorf("%w: unexpected %T from the server", wire.ErrMalformed, b)
			return
		}
	}
}

func (c *Conn) pingLoop() {
	t := time.NewTicker(pingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
			err := c.ws.Ping(ctx)
			cancel()
			if err != nil {
				c.ws.CloseNow()
				return
			}
		}
	}
}

// Pushes delivers the envelopes of each Push frame, in the server's order.
// It is never closed; watch Done.
func (c *Conn) Pushes() <-chan []*wire.Envelope { return c.pushes }

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended (after Done is closed): the server's
// connection-level *wire.Error if it sent one, else the transport error.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection and waits until its reader has stopped.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() { close(c.quit) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	go func() {
		select {
		case <-ctx.Done():
			c.ws.CloseNow()
		case <-c.done:
		}
	}()
	err := c.ws.Close(websocket.StatusNormalClosure, "")
	<-c.done
	return err
}

// Start sends a request and returns a channel that receives its response,
// or is closed without one if the connection ends first.
func (c *Conn) Start(ctx context.Context, req *wire.Request) (<-chan *wire.Response, error) {
	ch, ok := c.calls.Add(req)
	if !ok {
		return nil, ErrClosed
	}
	if err := c.write(ctx, &wire.Frame{Body: &wire.Frame_Request{Request: req}}); err != nil {
		c.calls.Cancel(req.Id)
		return nil, err
	}
	return ch, nil
}

// Call sends a request and waits for its response. A refusal is returned as
// the *wire.Error the server sent.
func (c *Conn) Call(ctx context.Context, req *wire.Request) (*wire.Response, error) {
	ch, err := c.Start(ctx, req)
	if err != nil {
		return nil, err
	}
	select {
	case r, ok := <-ch:
		if !ok {
			if e := c.Err(); e != nil {
				var we *wire.Error
				if errors.As(e, &we) {
					return nil, we
				}
			}
			return nil, ErrClosed
		}
		if e := r.GetError(); e != nil {
			return nil, e
		}
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Register redeems an activation code and creates an account whose device 1
// authenticates with authKey; the connection is then authenticated as it.
func (c *Conn) Register(ctx context.Context, code string, authKey ed25519.PrivateKey, identityKey []byte, registrationID uint32) (*wire.Registered, error) {
	pub := authKey.Public().(ed25519.PublicKey)
	reg := &wire.Register{ActivationCode: code, AuthKey: pub, IdentityKey: identityKey, RegistrationId: registrationID}
	reg.Signature = ed25519.Sign(authKey, wire.RegisterSignedData(c.welcome.GetChallenge(), pub, identityKey, registrationID))
	r, err := c.Call(ctx, &wire.Request{Op: &wire.Request_Register{Register: reg}})
	if err != nil {
		return nil, err
	}
	res := r.GetRegistered()
	if res == nil || res.GetAccount() == "" || res.GetDevice() == 0 {
		return nil, fmt.Errorf("%w: an empty registration answer", ErrHandshake)
	}
	return res, nil
}

// Authenticate proves that the connection belongs to the device.
func (c *Conn) Authenticate(ctx context.Context, account string, device uint32, authKey ed25519.PrivateKey) (*wire.AccountInfo, error) {
	sig := ed25519.Sign(authKey, wire.AuthSignedData(c.welcome.GetChallenge(), account, device))
	r, err := c.Call(ctx, &wire.Request{Op: &wire.Request_Authenticate{Authenticate: &wire.Authenticate{Account: account, Device: device, Signature: sig}}})
	if err != nil {
		return nil, err
	}
	return r.GetAuthenticated().GetAccount(), nil
}
