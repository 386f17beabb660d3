package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/skymsg/sky/client"
)

// The daemon stays connected and serves JSON-RPC 2.0 on a unix socket (mode
// 0600, in the home by default): one JSON object per line each way. Its
// methods are the table rpcMethods (rpcmethods.go), which "sky help" lists;
// docs/json-rpc.md documents each, with the notifications of a
// subscription and the errors.

// JSON-RPC 2.0 error codes.
const (
	rpcParseError     = -32700
	rpcInvalidRequest = -32600
	rpcMethodNotFound = -32601
	rpcInvalidParams  = -32602
	rpcServerError    = -32000
)

type rpcRequest struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params,omitempty"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type rpcResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

func cmdDaemon(e *env, args []string) error {
	fs := flag.NewFlagSet("daemon", flag.ContinueOnError)
	socket := fs.String("socket", "", "")
	if _, err := parse(fs, args, 0, 0, "[--socket PATH]"); err != nil {
		return err
	}
	if *socket == "" {
		*socket = defaultSocket(e.home)
	}
	c, err := e.open()
	if err != nil {
		return err
	}
	h, err := e.newHost(*socket)
	if err != nil {
		c.Close()
		return err
	}
	defer h.close()
	h.adopt(c)
	fmt.Fprintf(e.stderr, "sky: daemon for %s listening on %s\n", c.ID(), *socket)
	return h.serve()
}

// listenUnix listens on path with mode 0600, replacing a stale socket.
//
// The socket is bound inside a fresh directory only this user can enter and
// made 0600 there before it is moved into place, so there is no moment in
// which another user could connect to it.
func listenUnix(path string) (net.Listener, error) {
	if nc, err := net.Dial("unix", path); err == nil {
		nc.Close()
		return nil, fmt.Errorf("another sky daemon already listens on %s; stop it first", path)
	}
	os.Remove(path)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".sock-")
	if err != nil {
		return nil, fmt.Errorf("cannot prepare the socket %s: %w", path, err)
	}
	defer os.RemoveAll(tmp)
	bound := filepath.Join(tmp, "s")
	ln, err := net.Listen("unix", bound)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w", path, err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(bound, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	if err := os.Rename(bound, path); err != nil {
		ln.Close()
		return nil, fmt.Errorf("cannot listen on %s: %w", path, err)
	}
	return socketListener{ln, path}, nil
}

// socketListener removes its socket file when closed (the listener itself
// would remove the name it was bound to, not the one it was moved to).
type socketListener struct {
	net.Listener
	path string
}

func (l socketListener) Close() error {
	err := l.Listener.Close()
	os.Remove(l.path)
	return err
}

// errLockedHost is what a daemon answers while its host is locked.
var errLockedHost = errors.New("the Sky account is locked; unlock it in the sky that holds it (sky web's page or sky tui)")

// daemon answers JSON-RPC for one unlocked stretch of a host (host.go); with
// no client, for a locked host, every call answers errLockedHost.
type daemon struct {
	c       *client.Client
	home    string // for commands run with cli
	mu      sync.Mutex
	nextSub int
	subs    map[int]*rpcConn
	deliver sync.Mutex // one delivery at a time
	conn    connState  // fanout's: whether subscribers were told the connection dropped
}

type rpcConn struct {
	enc *json.Encoder
	mu  sync.Mutex
}

func (r *rpcConn) write(v any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.enc.Encode(v)
}

func (d *daemon) serve(ctx context.Context, nc net.Conn) {
	defer nc.Close()
	rc := &rpcConn{enc: json.NewEncoder(nc)}
	var mine []int
	defer func() {
		d.mu.Lock()
		for _, id := range mine {
			delete(d.subs, id)
		}
		d.mu.Unlock()
	}()
	sc := bufio.NewScanner(nc)
	sc.Buffer(make([]byte, 64<<10), 8<<20) // room for a cli call carrying a 1 MiB stdin, JSON-escaped
	for sc.Scan() {
		var req rpcRequest
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			rc.write(rpcResponse{JSONRPC: "2.0", ID: json.RawMessage("null"), Error: &rpcError{rpcParseError, "not JSON: " + err.Error()}})
			continue
		}
		if req.JSONRPC != "2.0" || req.Method == "" {
			rc.write(rpcResponse{JSONRPC: "2.0", ID: orNull(req.ID), Error: &rpcError{rpcInvalidRequest, "a JSON-RPC 2.0 request needs \"jsonrpc\":\"2.0\" and a method"}})
			continue
		}
		res, rerr := d.call(ctx, rc, &req, &mine)
		if req.ID == nil {
			continue // a notification: no answer
		}
		resp := rpcResponse{JSONRPC: "2.0", ID: req.ID, Result: res, Error: rerr}
		if rerr == nil && res == nil {
			resp.Result = true
		}
		if rc.write(resp) != nil {
			return
		}
		if req.Method == "receive.subscribe" && rerr == nil {
			go d.deliverUnread()
		}
	}
}

func orNull(id json.RawMessage) json.RawMessage {
	if id == nil {
		return json.RawMessage("null")
	}
	return id
}

type params struct {
	To           string   `json:"to"`
	Text         string   `json:"text"`
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Limit        int      `json:"limit"`
	Subscription int      `json:"subscription"`
	Group        string   `json:"group"`
	Members      []string `json:"members"`
	Files        []string `json:"files"`        // send.files, group.send.files
	Out          string   `json:"out"`          // attachments.save
	Force        bool     `json:"force"`        // attachments.save
	Size         *int64   `json:"size"`         // attachments.auto_download: bytes (absent: only show)
	Message      string   `json:"message"`      // reply, react, edit, unsend: the message's ID
	Emoji        string   `json:"emoji"`        // react
	Avatar       string   `json:"avatar"`       // profile.set: an absolute path
	NoAvatar     bool     `json:"no_avatar"`    // profile.set
	Disappearing bool     `json:"disappearing"` // backup.create
	NewKey       bool     `json:"new_key"`      // backup.create
	NoFiles      bool     `json:"no_files"`     // backup.create
	On           bool     `json:"on"`           // typing.set
	Typing       bool     `json:"typing"`       // typing
	Set          string   `json:"set"`          // group.receipts: "on", "off", "default" or "" (only show); group.link: "new", "revoke" or ""
	Link         string   `json:"link"`         // group.join
	cliParams
	method string // the method called
}

func (d *daemon) call(ctx context.Context, rc *rpcConn, req *rpcRequest, mine *[]int) (any, *rpcError) {
	var p params
	if len(req.Params) > 0 && string(req.Params) != "null" {
		if err := json.Unmarshal(req.Params, &p); err != nil {
			return nil, &rpcError{rpcInvalidParams, "params must be an object: " + err.Error()}
		}
	}
	p.To, p.ID = strings.ToLower(p.To), strings.ToLower(p.ID)
	if c := d.c; c != nil {
		// A contact's nickname will do wherever an ID does.
		for _, f := range []*string{&p.To, &p.ID} {
			if *f != "" && !client.ValidID(*f) {
				if id, err := resolveID(c, *f); err == nil {
					*f = id
				}
			}
		}
	}
	if d.c == nil {
		return nil, &rpcError{rpcServerError, errLockedHost.Error()}
	}
	m, ok := findMethod(req.Method)
	if !ok {
		return nil, &rpcError{rpcMethodNotFound, fmt.Sprintf("no method %q; the methods are listed by sky help and in docs/json-rpc.md", req.Method)}
	}
	p.method = req.Method
	return m.call(d, ctx, rc, p, mine)
}

// historyJSON returns a conversation as the daemon answers it.
func historyJSON(c *client.Client, conv string, limit int) ([]jsonMessage, error) {
	ms, err := c.History(conv, limit)
	out := []jsonMessage{}
	for _, m := range ms {
		out = append(out, toJSON(m))
	}
	return out, err
}

// fanout delivers new messages to subscribers as they arrive.
func (d *daemon) fanout(ctx context.Context) {
	sub := d.c.Subscribe()
	defer sub.Close()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-sub.Events():
			if !ok {
				return
			}
			switch e := ev.(type) {
			case *client.MessageEvent:
				d.deliverMessages([]client.Message{e.Message})
			case *client.LaggedEvent:
				d.deliverUnread()
			case *client.ConnectionEvent:
				if obj, line, ok := d.conn.change(e); ok {
					d.deliverEvent(obj, line)
				}
			default:
				if obj, line, ok := describeEvent(ev, d.c.ID(), contactNames(d.c)); ok {
					d.deliverEvent(obj, line)
				}
			}
		case <-t.C:
		}
	}
}

// deliverUnread sends the unread messages to every subscriber and marks them
// read; with no subscriber they stay unread.
func (d *daemon) deliverUnread() {
	ms, err := d.c.Unread()
	if err == nil {
		d.deliverMessages(ms)
	}
}

// subscribers returns the current subscriptions (a copy: writing to them
// happens outside d.mu).
func (d *daemon) subscribers() map[int]*rpcConn {
	d.mu.Lock()
	defer d.mu.Unlock()
	subs := make(map[int]*rpcConn, len(d.subs))
	for id, rc := range d.subs {
		subs[id] = rc
	}
	return subs
}

// deliverMessages sends those of ms still unread to every subscriber and
// marks them read.
func (d *daemon) deliverMessages(ms []client.Message) {
	d.deliver.Lock()
	defer d.deliver.Unlock()
	subs := d.subscribers()
	if len(subs) == 0 || len(ms) == 0 {
		return
	}
	var ids []int64
	for _, m := range ms {
		ids = append(ids, m.LocalID)
	}
	// MarkRead returns only the messages it marked: one already delivered
	// (or read elsewhere) is not sent again.
	read, err := d.c.MarkRead(ids...)
	if err != nil {
		return
	}
	n := contactNames(d.c)
	for _, m := range read {
		line := humanLine(m, d.c.ID(), n)
		for id, rc := range subs {
			rc.write(map[string]any{"jsonrpc": "2.0", "method": "receive", "params": map[string]any{"subscription": id, "message": toJSON(m), "line": line}})
		}
	}
}

// deliverEvent sends an event other than a message (a receipt, a timer or
// group change, a gap, a failure, a drop) to every subscriber, as receive
// shows it: the object of --json and the line for a person.
func (d *daemon) deliverEvent(obj map[string]any, line string) {
	d.deliver.Lock()
	defer d.deliver.Unlock()
	subs := d.subscribers()
	for id, rc := range subs {
		rc.write(map[string]any{"jsonrpc": "2.0", "method": "event", "params": map[string]any{"subscription": id, "event": obj, "line": line}})
	}
}
