// Command sky-interop-peer is Sky's test peer for the interop suite: it
// speaks the line protocol of shared/interop/PEER-PROTOCOL.md on stdin and
// stdout, carrying out every command with Sky's protocol core (package
// protocol and its subpackages) and in-memory stores.
//
// One JSON request per line comes in; exactly one JSON reply per line goes
// out, in request order; blank lines get no reply. Logs go to stderr. EOF on
// stdin or the command "quit" ends the process with status 0.
//
// Sealed sender (sealed_*, package protocol/sealed) and sender keys
// (group_*, package protocol/senderkey) are built like the rest.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sky-interop-peer:", err)
		os.Exit(1)
	}
}

// run serves requests from in until EOF or "quit".
func run(in io.Reader, out io.Writer) error {
	r := bufio.NewReaderSize(in, 1<<20)
	w := bufio.NewWriterSize(out, 1<<16)
	p := &peer{}
	for {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			reply, quit := p.handle(line)
			b, merr := json.Marshal(reply)
			if merr != nil {
				return merr
			}
			w.Write(append(b, '\n'))
			// Flush when no further request is already waiting, so a driver
			// that pipelines requests gets replies in batches.
			if quit || r.Buffered() == 0 {
				if err := w.Flush(); err != nil {
					return err
				}
			}
			if quit {
				return nil
			}
		}
		if err == io.EOF {
			return w.Flush()
		}
		if err != nil {
			return err
		}
	}
}

// reply is one reply line.
type reply struct {
	ID        json.RawMessage `json:"id"`
	OK        bool            `json:"ok"`
	Result    any             `json:"result,omitempty"`
	Error     string          `json:"error,omitempty"`
	ErrorType string          `json:"error_type,omitempty"`
}

// handle answers one request line and reports whether it was "quit".
func (p *peer) handle(line []byte) (reply, bool) {
	var req request
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return reply{ID: json.RawMessage("null"), Error: "request is not a JSON object", ErrorType: "BadRequest"}, false
	}
	req.args = raw
	id := raw["id"]
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	var cmd string
	if err := json.Unmarshal(raw["cmd"], &cmd); err != nil {
		return reply{ID: id, Error: `missing string argument "cmd"`, ErrorType: "BadRequest"}, false
	}
	if cmd == "quit" {
		return reply{ID: id, OK: true, Result: map[string]bool{"bye": true}}, true
	}
	f, ok := commands[cmd]
	if !ok {
		return reply{ID: id, Error: fmt.Sprintf("unknown command %q", cmd), ErrorType: "BadRequest"}, false
	}
	result, err := f(p, &req)
	if err != nil {
		return reply{ID: id, Error: cmd + ": " + err.Error(), ErrorType: errorType(err)}, false
	}
	return reply{ID: id, OK: true, Result: result}, false
}
