package interop

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// DefaultReplyTimeout is how long a peer may take for any single reply before
// it is considered hung. Batches are timed per reply, not as a whole, so a
// batch of thousands of requests is fine as long as replies keep coming.
const DefaultReplyTimeout = 20 * time.Second

// Request is one request of the peer protocol: "cmd" and its arguments. The
// driver sets "id" itself.
type Request map[string]any

// Reply is one reply line of a peer.
type Reply struct {
	ID        json.RawMessage `json:"id"`
	OK        bool            `json:"ok"`
	Result    json.RawMessage `json:"result"`
	Error     string          `json:"error"`
	ErrorType string          `json:"error_type"`

	cmd string // the command this reply answers, for messages
}

// Err returns nil for a successful reply and a *PeerError otherwise.
func (r Reply) Err() error {
	if r.OK {
		return nil
	}
	return &PeerError{Cmd: r.cmd, Type: r.ErrorType, Message: r.Error}
}

// Decode stores the result of a successful reply in v, or returns its error.
func (r Reply) Decode(v any) error {
	if err := r.Err(); err != nil {
		return err
	}
	if err := json.Unmarshal(r.Result, v); err != nil {
		return fmt.Errorf("%s: reply result %s does not decode into %T: %w", r.cmd, truncate(r.Result, 200), v, err)
	}
	return nil
}

// PeerError is a request the peer answered with ok: false.
type PeerError struct {
	Cmd     string // the request's command
	Type    string // error_type, for example "InvalidMessage"
	Message string // the peer's error text
}

func (e *PeerError) Error() string {
	return fmt.Sprintf("%s failed with %s: %s", e.Cmd, e.Type, e.Message)
}

// ErrorType returns the error_type of a *PeerError in err's chain, or "" if
// there is none.
func ErrorType(err error) string {
	var pe *PeerError
	if errors.As(err, &pe) {
		return pe.Type
	}
	return ""
}

// Peer is a running peer process.
type Peer struct {
	// Label names the peer in every error message, for example "node" or "go".
	Label string
	// ReplyTimeout bounds the wait for each reply; DefaultReplyTimeout if zero.
	ReplyTimeout time.Duration

	mu     sync.Mutex // serializes Do
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan []byte // reply lines; closed at EOF on stdout
	stderr *tail
	nextID int64
	dead   error // set once the peer is unusable
	waited chan struct{}
}

// Start starts argv[0] with the arguments argv[1:] in directory dir as a peer.
func Start(label, dir string, argv ...string) (*Peer, error) {
	if len(argv) == 0 {
		return nil, errors.New("interop: Start needs a command line")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	// A peer's children could keep its output pipes open after it died; do
	// not wait for them.
	cmd.WaitDelay = 500 * time.Millisecond
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &Peer{Label: label, cmd: cmd, stdin: stdin, lines: make(chan []byte, 256), stderr: &tail{max: 4096}, waited: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("interop: starting %s peer (%s): %w", label, strings.Join(argv, " "), err)
	}
	go p.read(stdout)
	go func() { _ = cmd.Wait(); close(p.waited) }()
	return p, nil
}

func (p *Peer) read(stdout io.Reader) {
	defer close(p.lines)
	r := bufio.NewReaderSize(stdout, 1<<16)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			p.lines <- bytes.TrimRight(line, "\r\n")
		}
		if err != nil {
			return
		}
	}
}

// Do sends the requests in one go and returns their replies in order. An
// error means the exchange itself failed (the peer hung, died, or wrote
// something that is not the reply expected); the peer is unusable afterwards.
// Requests the peer answered with ok: false are not errors of Do: see
// Reply.Err.
func (p *Peer) Do(reqs ...Request) ([]Reply, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead != nil {
		return nil, p.dead
	}
	first := p.nextID + 1
	var buf bytes.Buffer
	for i, req := range reqs {
		msg := make(map[string]any, len(req)+1)
		for k, v := range req {
			msg[k] = v
		}
		msg["id"] = first + int64(i)
		b, err := json.Marshal(msg)
		if err != nil {
			return nil, fmt.Errorf("interop: encoding %v request: %w", req["cmd"], err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	p.nextID += int64(len(reqs))
	writeErr := make(chan error, 1)
	go func() { _, err := p.stdin.Write(buf.Bytes()); writeErr <- err }()

	replies := make([]Reply, len(reqs))
	for i := range reqs {
		cmd, _ := reqs[i]["cmd"].(string)
		line, err := p.next(cmd, i, len(reqs))
		if err == nil {
			err = p.parse(line, first+int64(i), cmd, &replies[i])
		}
		if err != nil {
			p.dead = err
			p.kill()
			return nil, err
		}
	}
	if err := <-writeErr; err != nil {
		p.dead = fmt.Errorf("interop: writing to %s peer: %w", p.Label, err)
		return nil, p.dead
	}
	return replies, nil
}

func (p *Peer) next(cmd string, i, n int) ([]byte, error) {
	timeout := p.ReplyTimeout
	if timeout == 0 {
		timeout = DefaultReplyTimeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case line, ok := <-p.lines:
		if ok {
			return line, nil
		}
		select { // stdout closed: report the exit status if it comes soon
		case <-p.waited:
		case <-time.After(2 * time.Second):
		}
		return nil, fmt.Errorf("interop: %s peer exited (%v) before answering %q (request %d of %d); its stderr ends with:\n%s",
			p.Label, p.cmd.ProcessState, cmd, i+1, n, p.stderr)
	case <-timer.C:
		return nil, fmt.Errorf("interop: %s peer sent no reply to %q (request %d of %d) within %v: it is hung or far too slow; killed it. Its stderr ends with:\n%s",
			p.Label, cmd, i+1, n, timeout, p.stderr)
	}
}

func (p *Peer) parse(line []byte, id int64, cmd string, r *Reply) error {
	if err := json.Unmarshal(line, r); err != nil {
		return fmt.Errorf("interop: %s peer wrote a line that is not a JSON reply (answering %q): %s", p.Label, cmd, truncate(line, 300))
	}
	var got int64
	if err := json.Unmarshal(r.ID, &got); err != nil || got != id {
		return fmt.Errorf("interop: %s peer answered %q with id %s, want %d (replies out of order or extra output on stdout): %s",
			p.Label, cmd, r.ID, id, truncate(line, 300))
	}
	if !r.OK && r.ErrorType == "" {
		return fmt.Errorf("interop: %s peer failed %q without an error_type: %s", p.Label, cmd, truncate(line, 300))
	}
	if r.OK && len(r.Result) == 0 {
		return fmt.Errorf("interop: %s peer answered %q with ok but no result: %s", p.Label, cmd, truncate(line, 300))
	}
	r.cmd = cmd
	return nil
}

// Call sends one request and decodes its result into result (which may be
// nil). A request the peer refused comes back as a *PeerError.
func (p *Peer) Call(req Request, result any) error {
	replies, err := p.Do(req)
	if err != nil {
		return err
	}
	if result == nil {
		return replies[0].Err()
	}
	return replies[0].Decode(result)
}

// Close asks the peer to quit and waits for it to exit, killing it if it does
// not within a few seconds. It reports a peer that did not exit cleanly.
func (p *Peer) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead == nil {
		_ = p.stdin.Close() // EOF ends a well-behaved peer
	}
	select {
	case <-p.waited:
	case <-time.After(5 * time.Second):
		p.kill()
		return fmt.Errorf("interop: %s peer did not exit within 5s of EOF on stdin; killed it", p.Label)
	}
	if p.dead != nil {
		return nil // already reported
	}
	if !p.cmd.ProcessState.Success() {
		return fmt.Errorf("interop: %s peer exited with %v; its stderr ends with:\n%s", p.Label, p.cmd.ProcessState, p.stderr)
	}
	return nil
}

// Stderr returns the last few kilobytes the peer wrote to stderr.
func (p *Peer) Stderr() string { return p.stderr.String() }

func (p *Peer) kill() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
	}
	_ = p.stdin.Close()
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) == 0 {
		return "(nothing)"
	}
	return string(t.buf)
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
