package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"

	"github.com/skymsg/sky/server/ws"
	"github.com/skymsg/sky/wire"
)

// Capture is a net.Listener that keeps a copy of every byte every accepted
// connection carries, in both directions: a recording of the server's
// traffic, taken inside the process (before TLS would apply).
type Capture struct {
	net.Listener
	mu    sync.Mutex
	conns []*recorded
}

// NewCapture records the connections ln accepts.
func NewCapture(ln net.Listener) *Capture { return &Capture{Listener: ln} }

// Accept accepts the next connection and starts recording it.
func (c *Capture) Accept() (net.Conn, error) {
	nc, err := c.Listener.Accept()
	if err != nil {
		return nil, err
	}
	r := &recorded{Conn: nc}
	c.mu.Lock()
	c.conns = append(c.conns, r)
	c.mu.Unlock()
	return r, nil
}

// Stream is one recorded connection.
type Stream struct {
	Remote     string // the client's address, as the server saw it
	FromClient []byte
	FromServer []byte
}

// Streams returns a copy of every connection recorded so far.
func (c *Capture) Streams() []Stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Stream, len(c.conns))
	for i, r := range c.conns {
		r.mu.Lock()
		out[i] = Stream{Remote: r.RemoteAddr().String(), FromClient: bytes.Clone(r.in), FromServer: bytes.Clone(r.out)}
		r.mu.Unlock()
	}
	return out
}

type recorded struct {
	net.Conn
	mu      sync.Mutex
	in, out []byte
}

func (r *recorded) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	r.in = append(r.in, p[:n]...)
	r.mu.Unlock()
	return n, err
}

func (r *recorded) Write(p []byte) (int, error) {
	n, err := r.Conn.Write(p)
	r.mu.Lock()
	r.out = append(r.out, p[:n]...)
	r.mu.Unlock()
	return n, err
}

// Conversation is a recorded connection decoded into protocol frames.
type Conversation struct {
	Remote     string
	Hello      *wire.Hello
	Requests   []*wire.Request  // in the order the client sent them
	Responses  []*wire.Response // in the order the server sent them
	Pushes     []*wire.Envelope
	Account    string // the account the connection authenticated (or registered) as; "" if none
	Anonymous  bool   // the Hello asked for an anonymous connection
	HTTPHeader []byte // the client's upgrade request
}

// Decode turns a recorded connection back into the frames both sides sent.
// A stream cut short (a connection closed mid-frame) ends at its last
// complete frame.
func Decode(s Stream) (*Conversation, error) {
	c := &Conversation{Remote: s.Remote}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(s.FromClient)))
	if err != nil {
		return nil, fmt.Errorf("audit: the client's upgrade request: %w", err)
	}
	req.Body.Close()
	end := bytes.Index(s.FromClient, []byte("\r\n\r\n"))
	c.HTTPHeader = s.FromClient[:end+4]
	clientFrames, err := frames(s.FromClient[end+4:], true)
	if err != nil {
		return nil, err
	}
	endOut := bytes.Index(s.FromServer, []byte("\r\n\r\n"))
	if endOut < 0 {
		return nil, errors.New("audit: no upgrade response from the server")
	}
	serverFrames, err := frames(s.FromServer[endOut+4:], false)
	if err != nil {
		return nil, err
	}
	for i, m := range clientFrames {
		f, err := wire.Decode(m, wire.MaxClientFrameBytes)
		if err != nil {
			return nil, fmt.Errorf("audit: client frame %d: %w", i, err)
		}
		switch {
		case f.GetHello() != nil:
			c.Hello, c.Anonymous = f.GetHello(), f.GetHello().GetAnonymous()
		case f.GetRequest() != nil:
			c.Requests = append(c.Requests, f.GetRequest())
			if a := f.GetRequest().GetAuthenticate(); a != nil {
				c.Account = a.GetAccount()
			}
		}
	}
	for i, m := range serverFrames {
		f, err := wire.Decode(m, wire.MaxServerFrameBytes)
		if err != nil {
			return nil, fmt.Errorf("audit: server frame %d: %w", i, err)
		}
		switch {
		case f.GetResponse() != nil:
			c.Responses = append(c.Responses, f.GetResponse())
			if r := f.GetResponse().GetRegistered(); r != nil {
				c.Account = r.GetAccount()
			}
		case f.GetPush() != nil:
			c.Pushes = append(c.Pushes, f.GetPush().GetEnvelopes()...)
		}
	}
	return c, nil
}

// frames returns the binary messages of a WebSocket byte stream (fromClient:
// masked frames), reassembling fragmented ones and skipping control frames.
func frames(b []byte, fromClient bool) ([][]byte, error) {
	r := ws.NewReader(bytes.NewReader(b), nil, 1<<21, fromClient)
	var out [][]byte
	var msg []byte
	for {
		h, p, err := r.Next()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("audit: WebSocket framing: %w", err)
		}
		switch h.Op {
		case ws.OpBinary, ws.OpContinuation:
			msg = append(msg, p...)
			if h.Fin {
				out = append(out, msg)
				msg = nil
			}
		case ws.OpClose:
			return out, nil
		}
	}
}
