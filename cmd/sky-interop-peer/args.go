package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
)

// badRequest is an error in the request itself; no protocol call was made.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func badf(format string, args ...any) error { return &badRequest{fmt.Sprintf(format, args...)} }

// request holds a request's arguments, decoded on use.
type request struct {
	args map[string]json.RawMessage
}

func (r *request) has(name string) bool {
	v, ok := r.args[name]
	return ok && string(v) != "null"
}

func (r *request) string(name string) (string, error) {
	if !r.has(name) {
		return "", badf("missing string argument %q", name)
	}
	var s string
	if err := json.Unmarshal(r.args[name], &s); err != nil {
		return "", badf("argument %q must be a string", name)
	}
	return s, nil
}

// integer returns an integer argument in [lo, hi], or def when absent (def < 0: required).
func (r *request) integer(name string, def int64, lo, hi int64) (int64, error) {
	if !r.has(name) {
		if def < 0 {
			return 0, badf("missing integer argument %q", name)
		}
		return def, nil
	}
	var n json.Number
	if err := json.Unmarshal(r.args[name], &n); err != nil {
		return 0, badf("argument %q must be an integer in %d..%d", name, lo, hi)
	}
	v, err := n.Int64()
	if err != nil || v < lo || v > hi {
		return 0, badf("argument %q must be an integer in %d..%d, got %s", name, lo, hi, n)
	}
	return v, nil
}

func (r *request) uint32(name string) (uint32, error) {
	v, err := r.integer(name, -1, 0, math.MaxUint32)
	return uint32(v), err
}

func (r *request) boolean(name string, def bool) (bool, error) {
	if !r.has(name) {
		return def, nil
	}
	var b bool
	if err := json.Unmarshal(r.args[name], &b); err != nil {
		return false, badf("argument %q must be true or false", name)
	}
	return b, nil
}

// bytes decodes a standard base64 argument with padding, strictly.
func (r *request) bytes(name string) ([]byte, error) {
	s, err := r.string(name)
	if err != nil {
		if !r.has(name) {
			return nil, badf("missing base64 argument %q", name)
		}
		return nil, err
	}
	return decode64(s, name)
}

func decode64(s, name string) ([]byte, error) {
	// The standard decoder skips line breaks; the protocol does not allow them.
	if strings.ContainsAny(s, "\r\n") {
		return nil, badf("argument %q must be standard base64 with padding", name)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, badf("argument %q must be standard base64 with padding", name)
	}
	return b, nil
}

func (r *request) object(name string) (*request, error) {
	var m map[string]json.RawMessage
	if !r.has(name) || json.Unmarshal(r.args[name], &m) != nil || m == nil {
		return nil, badf("argument %q must be an object", name)
	}
	return &request{args: m}, nil
}

func (r *request) deviceID() (uint32, error) {
	v, err := r.integer("device_id", 1, 1, 127)
	return uint32(v), err
}

func encode64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func isBadRequest(err error) bool {
	var b *badRequest
	return errors.As(err, &b)
}
