// Package loadgen simulates many Sky clients against a running skyd, over
// real WebSocket connections, to measure it: delivery throughput and
// send-to-deliver latency of senders and receivers in pairs, and how many
// idle authenticated connections the server holds and at what memory cost.
// cmd/sky-bench is its command-line front end.
//
// The simulated clients speak the wire protocol directly (no encryption,
// no local store: the server cannot tell ciphertext from the padding bytes
// they send) and are built to cost the load generator little, since it
// usually shares the machine with the server: requests are encoded by hand
// and many are written with one system call, and an idle connection holds
// no goroutine.
package loadgen

import (
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/skymsg/sky/server/ws"
	"github.com/skymsg/sky/wire"
)

// Conn is one client connection that has completed the Hello/Welcome
// handshake. Its methods are not safe for concurrent use, except that one
// goroutine may read (Next) while another writes.
type Conn struct {
	nc      net.Conn
	rd      *ws.Reader
	rng     *rand.ChaCha8 // masking keys
	Welcome *wire.Welcome
	nextID  uint64
	wbuf    []byte
}

// DialOptions configures Dial.
type DialOptions = ws.DialOptions

// Dial connects to a skyd WebSocket URL and completes the handshake.
func Dial(ctx context.Context, url string, opts DialOptions) (*Conn, error) {
	return dial(ctx, url, opts, false)
}

// DialAnonymous connects as Sky's clients do to send sealed messages with
// delivery tokens: an anonymous connection, which never authenticates.
func DialAnonymous(ctx context.Context, url string, opts DialOptions) (*Conn, error) {
	return dial(ctx, url, opts, true)
}

func dial(ctx context.Context, url string, opts DialOptions, anonymous bool) (*Conn, error) {
	nc, rest, err := ws.Dial(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	var seed [32]byte
	crand.Read(seed[:])
	c := &Conn{nc: nc, rd: ws.NewReader(nc, rest, wire.MaxServerFrameBytes, false), rng: rand.NewChaCha8(seed)}
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
		defer nc.SetDeadline(time.Time{})
	}
	hello := &wire.Frame{Body: &wire.Frame_Hello{Hello: &wire.Hello{Versions: []uint32{wire.Version}, Anonymous: anonymous}}}
	if err := c.writeProto(hello); err != nil {
		nc.Close()
		return nil, err
	}
	f, err := c.nextProto()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("reading Welcome: %w", err)
	}
	if c.Welcome = f.GetWelcome(); c.Welcome == nil {
		nc.Close()
		if e := f.GetError(); e != nil {
			return nil, e
		}
		return nil, fmt.Errorf("expected Welcome, got %T", f.GetBody())
	}
	return c, nil
}

// Close closes the connection without a closing handshake.
func (c *Conn) Close() error { return c.nc.Close() }

// mask returns a fresh masking key.
func (c *Conn) mask() [4]byte {
	var m [4]byte
	v := c.rng.Uint64()
	m[0], m[1], m[2], m[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	return m
}

// appendFrame appends payload as one masked binary frame.
func (c *Conn) appendFrame(dst, payload []byte) []byte {
	m := c.mask()
	return ws.AppendFrame(dst, ws.OpBinary, payload, &m)
}

func (c *Conn) writeProto(f *wire.Frame) error {
	b, err := wire.Encode(f)
	if err != nil {
		return err
	}
	c.wbuf = c.appendFrame(c.wbuf[:0], b)
	_, err = c.nc.Write(c.wbuf)
	return err
}

// nextData returns the next data frame's payload (answering pings, and
// returning an error on a close frame). It is valid until the next call.
func (c *Conn) nextData() ([]byte, error) {
	for {
		h, p, err := c.rd.Next()
		if err != nil {
			return nil, err
		}
		switch h.Op {
		case ws.OpBinary:
			if !h.Fin {
				return nil, errors.New("loadgen: fragmented server frames are not supported")
			}
			return p, nil
		case ws.OpClose:
			code, reason, _ := ws.ParseClose(p)
			return nil, &CloseError{Code: code, Reason: reason}
		case ws.OpPing:
			m := c.mask()
			c.nc.Write(ws.AppendFrame(nil, ws.OpPong, p, &m))
		}
	}
}

// CloseError is the server's close frame.
type CloseError struct {
	Code   ws.StatusCode
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("server closed the connection: %d %s", e.Code, e.Reason)
}

func (c *Conn) nextProto() (*wire.Frame, error) {
	p, err := c.nextData()
	if err != nil {
		return nil, err
	}
	return wire.Decode(p, wire.MaxServerFrameBytes)
}

// call sends one request and waits for its response, skipping pushes. For
// setup only: the connection must have no reading goroutine.
func (c *Conn) call(ctx context.Context, req *wire.Request) (*wire.Response, error) {
	if dl, ok := ctx.Deadline(); ok {
		c.nc.SetDeadline(dl)
		defer c.nc.SetDeadline(time.Time{})
	}
	c.nextID++
	req.Id = c.nextID
	if err := c.writeProto(&wire.Frame{Body: &wire.Frame_Request{Request: req}}); err != nil {
		return nil, err
	}
	for {
		f, err := c.nextProto()
		if err != nil {
			return nil, err
		}
		if e := f.GetError(); e != nil {
			return nil, e
		}
		if r := f.GetResponse(); r != nil && r.GetId() == req.Id {
			if r.GetError() != nil {
				return r, r.GetError()
			}
			return r, nil
		}
	}
}

// Device is a registered device and its authentication key.
type Device struct {
	Account string `json:"account"`
	ID      uint32 `json:"device"`
	// Seed is the Ed25519 private key seed. It authenticates a load
	// generator's throwaway account, nothing else.
	Seed []byte `json:"seed"`
}

// Register redeems an activation code; the connection is then
// authenticated as the new account's device 1.
func (c *Conn) Register(ctx context.Context, code string) (Device, error) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	ik := append([]byte{5}, pub...) // opaque to the server
	reg := &wire.Register{ActivationCode: code, AuthKey: pub, IdentityKey: ik, RegistrationId: 1}
	reg.Signature = ed25519.Sign(priv, wire.RegisterSignedData(c.Welcome.GetChallenge(), pub, ik, reg.RegistrationId))
	r, err := c.call(ctx, &wire.Request{Op: &wire.Request_Register{Register: reg}})
	if err != nil {
		return Device{}, err
	}
	return Device{Account: r.GetRegistered().GetAccount(), ID: r.GetRegistered().GetDevice(), Seed: priv.Seed()}, nil
}

// Authenticate proves the connection belongs to d.
func (c *Conn) Authenticate(ctx context.Context, d Device) error {
	if len(d.Seed) != ed25519.SeedSize {
		return fmt.Errorf("device %s/%d has no valid key", d.Account, d.ID)
	}
	key := ed25519.NewKeyFromSeed(d.Seed)
	sig := ed25519.Sign(key, wire.AuthSignedData(c.Welcome.GetChallenge(), d.Account, d.ID))
	_, err := c.call(ctx, &wire.Request{Op: &wire.Request_Authenticate{Authenticate: &wire.Authenticate{Account: d.Account, Device: d.ID, Signature: sig}}})
	return err
}

// Field numbers of the frames encoded and parsed by hand below (see
// wire/sky.proto).
const (
	frameRequest, frameResponse, framePush, frameError = 3, 4, 5, 6
	requestID, requestSend, requestAck                 = 1, 12, 13
	sendAccount, sendDevice, sendContent, sendToken    = 1, 2, 3, 4
	ackIDs                                             = 1
	responseID, responseError                          = 1, 2
	pushEnvelopes                                      = 1
	envelopeID, envelopeContent                        = 1, 4
)

// appendRequest appends the frame header (masking key m) and the Frame and
// Request prefixes of the next request, whose operation is field op of
// bodyLen bytes; the caller appends the body and masks from start.
func (c *Conn) appendRequest(dst []byte, op protowire.Number, bodyLen int) (out []byte, start int, m [4]byte) {
	c.nextID++
	reqLen := protowire.SizeTag(requestID) + protowire.SizeVarint(c.nextID) + protowire.SizeTag(op) + protowire.SizeBytes(bodyLen)
	frameLen := protowire.SizeTag(frameRequest) + protowire.SizeBytes(reqLen)
	m = c.mask()
	dst = ws.AppendHeader(dst, true, ws.OpBinary, frameLen, &m)
	start = len(dst)
	dst = protowire.AppendTag(dst, frameRequest, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(reqLen))
	dst = protowire.AppendTag(dst, requestID, protowire.VarintType)
	dst = protowire.AppendVarint(dst, c.nextID)
	dst = protowire.AppendTag(dst, op, protowire.BytesType)
	return protowire.AppendVarint(dst, uint64(bodyLen)), start, m
}

// appendSend appends a sealed Send request frame (masked) for content,
// with the recipient's delivery token, as a client sends on an anonymous
// connection.
func (c *Conn) appendSend(dst []byte, to Device, token, content []byte) []byte {
	sendLen := protowire.SizeTag(sendAccount) + protowire.SizeBytes(len(to.Account)) +
		protowire.SizeTag(sendDevice) + protowire.SizeVarint(uint64(to.ID)) +
		protowire.SizeTag(sendContent) + protowire.SizeBytes(len(content)) +
		protowire.SizeTag(sendToken) + protowire.SizeBytes(len(token))
	dst, start, m := c.appendRequest(dst, requestSend, sendLen)
	dst = protowire.AppendTag(dst, sendAccount, protowire.BytesType)
	dst = protowire.AppendString(dst, to.Account)
	dst = protowire.AppendTag(dst, sendDevice, protowire.VarintType)
	dst = protowire.AppendVarint(dst, uint64(to.ID))
	dst = protowire.AppendTag(dst, sendContent, protowire.BytesType)
	dst = protowire.AppendBytes(dst, content)
	dst = protowire.AppendTag(dst, sendToken, protowire.BytesType)
	dst = protowire.AppendBytes(dst, token)
	ws.MaskBytes(m, 0, dst[start:])
	return dst
}

// DeliveryToken is the delivery token a load generator gives device d's
// account: derived from its key seed, so every run agrees on it. (Sky's
// clients derive theirs from a random access key they share with
// contacts.)
func DeliveryToken(d Device) []byte {
	t := sha256.Sum256(append([]byte("sky-bench delivery token\x00"), d.Seed...))
	return t[:]
}

// SetDeliveryToken uploads the verifier of d's DeliveryToken on c, which
// must be authenticated as d.
func (c *Conn) SetDeliveryToken(ctx context.Context, d Device) error {
	v := wire.DeliveryVerifier(d.Account, DeliveryToken(d))
	_, err := c.call(ctx, &wire.Request{Op: &wire.Request_SetDeliveryVerifier{SetDeliveryVerifier: &wire.SetDeliveryVerifier{Verifier: v}}})
	return err
}

// appendAck appends an Ack request frame (masked) for ids.
func (c *Conn) appendAck(dst []byte, ids [][]byte) []byte {
	ackLen := 0
	for _, id := range ids {
		ackLen += protowire.SizeTag(ackIDs) + protowire.SizeBytes(len(id))
	}
	dst, start, m := c.appendRequest(dst, requestAck, ackLen)
	for _, id := range ids {
		dst = protowire.AppendTag(dst, ackIDs, protowire.BytesType)
		dst = protowire.AppendBytes(dst, id)
	}
	ws.MaskBytes(m, 0, dst[start:])
	return dst
}

// errMalformed is returned for server frames the parsers below cannot read.
var errMalformed = errors.New("loadgen: malformed server frame")

// parseFrame splits a server frame into its body's field number and bytes.
func parseFrame(b []byte) (protowire.Number, []byte, error) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || typ != protowire.BytesType {
		return 0, nil, errMalformed
	}
	body, m := protowire.ConsumeBytes(b[n:])
	if m < 0 {
		return 0, nil, errMalformed
	}
	return num, body, nil
}

// eachField calls fn for every field of a message; fn gets the field's
// number and, for varints, its value, for length-delimited fields its
// bytes.
func eachField(b []byte, fn func(num protowire.Number, v uint64, p []byte)) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errMalformed
		}
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return errMalformed
			}
			fn(num, v, nil)
			b = b[m:]
		case protowire.BytesType:
			p, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return errMalformed
			}
			fn(num, 0, p)
			b = b[m:]
		default:
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return errMalformed
			}
			b = b[m:]
		}
	}
	return nil
}
