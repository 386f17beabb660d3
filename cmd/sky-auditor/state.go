package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/skymsg/sky/keytrans"
	"github.com/skymsg/sky/protocol/curve"
)

// The auditor's directory holds two small files: auditor.key (its private
// key) and state.json (what it has checked: the directory's certificate,
// the log's frontier, the prefix root and the last time, about 2 KB
// whatever the directory's size).
const (
	keyFile   = "auditor.key"
	stateFile = "state.json"
	keyHeader = "# Sky key directory auditor: this auditor's private key. Keep it on this machine only.\n"
)

type state struct {
	cert    *keytrans.DirectoryCertificate // nil before the first sync
	auditor *keytrans.Auditor
}

type stateJSON struct {
	Version     int    `json:"version"`
	Certificate string `json:"certificate,omitempty"`
	Auditor     string `json:"auditor"`
}

func writeKey(dir string, key curve.PrivateKey) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, keyFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("writing the auditor's key: %w (init never overwrites a key; choose another --state)", err)
	}
	_, err = fmt.Fprintf(f, "%s%s\n", keyHeader, base64.StdEncoding.EncodeToString(key.Bytes()))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func readKey(dir string) (curve.PrivateKey, error) {
	b, err := os.ReadFile(filepath.Join(dir, keyFile))
	if err != nil {
		return curve.PrivateKey{}, fmt.Errorf("reading the auditor's key: %w (run sky-auditor init first)", err)
	}
	var line string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			line = l
		}
	}
	raw, err := base64.StdEncoding.DecodeString(line)
	if err != nil {
		return curve.PrivateKey{}, fmt.Errorf("%s is not an auditor key file: %w", keyFile, err)
	}
	return curve.ParsePrivateKey(raw)
}

func readState(dir string) (*state, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return &state{auditor: &keytrans.Auditor{}}, nil
	}
	if err != nil {
		return nil, err
	}
	var j stateJSON
	if err := json.Unmarshal(b, &j); err != nil || j.Version != 1 {
		return nil, fmt.Errorf("%s is not an auditor state file (version 1): %v", stateFile, err)
	}
	st := &state{}
	ab, err := base64.StdEncoding.DecodeString(j.Auditor)
	if err == nil {
		st.auditor, err = keytrans.RestoreAuditor(ab)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: the auditor's state: %w", stateFile, err)
	}
	if j.Certificate != "" {
		cb, err := base64.StdEncoding.DecodeString(j.Certificate)
		if err == nil {
			st.cert, err = keytrans.DecodeCertificate(cb)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: the certificate: %w", stateFile, err)
		}
	}
	return st, nil
}

// writeState replaces the state file atomically (a new file, synced, then
// renamed over the old one).
func writeState(dir string, st *state) error {
	j := stateJSON{Version: 1, Auditor: base64.StdEncoding.EncodeToString(st.auditor.State())}
	if st.cert != nil {
		j.Certificate = base64.StdEncoding.EncodeToString(st.cert.Encode())
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, stateFile+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err = tmp.Write(append(b, '\n')); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("saving the auditor's state: %w", err)
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, stateFile))
}
