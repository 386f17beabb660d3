package braid

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha3"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/skymsg/sky/internal/mlkem768"
	"github.com/skymsg/sky/protocol/spqr/authenticator"
)

// pbMsg is a decoded protobuf message: field number to values (varints as
// uint64, length-delimited fields as []byte).
type pbMsg map[int][]any

func parsePB(t *testing.T, b []byte) pbMsg {
	t.Helper()
	m := pbMsg{}
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			t.Fatal("bad protobuf key")
		}
		b = b[n:]
		switch key & 7 {
		case 0:
			v, n := binary.Uvarint(b)
			if n <= 0 {
				t.Fatal("bad protobuf varint")
			}
			m[int(key>>3)] = append(m[int(key>>3)], v)
			b = b[n:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || int(l) > len(b)-n {
				t.Fatal("bad protobuf length")
			}
			m[int(key>>3)] = append(m[int(key>>3)], b[n:n+int(l)])
			b = b[n+int(l):]
		default:
			t.Fatalf("unexpected protobuf wire type %d", key&7)
		}
	}
	return m
}

func (m pbMsg) bytes(f int) []byte {
	if v, ok := m[f]; ok {
		return v[len(v)-1].([]byte)
	}
	return nil
}

func (m pbMsg) uint(f int) uint64 {
	if v, ok := m[f]; ok {
		return v[len(v)-1].(uint64)
	}
	return 0
}

func (m pbMsg) msg(t *testing.T, f int) pbMsg { return parsePB(t, m.bytes(f)) }

// encoderBlob rebuilds the blob held by a libsignal PolynomialEncoder that is
// still in its "points" form: pts[j] holds the big-endian values of lane j.
func encoderBlob(t *testing.T, enc pbMsg) []byte {
	pts := enc[2]
	if len(pts) != 16 {
		t.Fatalf("encoder has %d point lanes, want 16", len(pts))
	}
	n := len(pts[0].([]byte)) / 2
	blob := make([]byte, 32*n)
	for j, p := range pts {
		for x := range n {
			copy(blob[32*x+2*j:], p.([]byte)[2*x:2*x+2])
		}
	}
	return blob
}

// lsState is the part of a libsignal SPQR state the test looks at.
type lsState struct {
	side  string
	phase phase
	epoch uint64
	auth  []byte // root ‖ mac
	uc    pbMsg  // the unchunked state
	inner pbMsg  // the chunked state (encoders, decoders)
	chain pbMsg  // nil before the first message
	vn    pbMsg  // version negotiation, nil once closed
}

func readLibsignalStates(t *testing.T, name string) (msgs [][]byte, states []lsState) {
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	s := bufio.NewScanner(zr)
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		var line struct{ Dir, Pq, Side, State string }
		if err := json.Unmarshal(s.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if line.Pq != "" {
			b, _ := hex.DecodeString(line.Pq)
			msgs = append(msgs, b)
			continue
		}
		raw, _ := hex.DecodeString(line.State)
		st := parsePB(t, raw)
		v1 := st.msg(t, 3)
		var variant int
		for k := range v1 {
			variant = k
		}
		inner := v1.msg(t, variant)
		uc := inner.msg(t, 1)
		auth := uc.msg(t, 2)
		ls := lsState{
			side: line.Side, phase: phase(variant), epoch: uc.uint(1),
			auth: append(bytes.Clone(auth.bytes(1)), auth.bytes(2)...),
			uc:   uc, inner: inner,
		}
		if st[2] != nil {
			ls.chain = st.msg(t, 2)
		}
		if st[1] != nil {
			ls.vn = st.msg(t, 1)
		}
		states = append(states, ls)
	}
	return msgs, states
}

func hkdf96(t *testing.T, salt, ikm []byte, info string) []byte {
	out, err := hkdf.Key(sha256.New, ikm, salt, info, 96)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLibsignalStates checks the braid's cryptography against states that
// libsignal itself serialized during two conversations: the authenticator
// keys of every state (from the authentication key and the epoch secrets),
// header and ciphertext MACs, the split encapsulation (ct1 and ct2 equal
// libcrux's), the epoch secret KDF, and the symmetric chain's Start, Add
// Epoch and Next derivations. It also parses and re-serializes every SPQR
// message libsignal sent.
func TestLibsignalStates(t *testing.T) {
	for _, file := range []string{"libsignal-states-6.jsonl.gz", "libsignal-states-7.jsonl.gz"} {
		t.Run(file, func(t *testing.T) { checkLibsignalStates(t, file) })
	}
}

func checkLibsignalStates(t *testing.T, file string) {
	msgs, states := readLibsignalStates(t, file)
	for _, b := range msgs {
		m, idx, err := ParseMessage(b)
		if err != nil {
			t.Fatalf("libsignal message %x: %v", b, err)
		}
		if got := AppendMessage(nil, m, idx); !bytes.Equal(got, b) {
			t.Fatalf("message %x re-serializes as %x", b, got)
		}
	}

	var authKey []byte
	for _, s := range states {
		if s.vn != nil {
			authKey = s.vn.bytes(1)
		}
	}
	if len(authKey) != 32 {
		t.Fatal("no authentication key in the states")
	}

	// Epoch secrets, from the encapsulator's state right after ct1: its
	// EncapsState ends with the randomness m, and it keeps hdr and ct1.
	secrets := map[uint64][32]byte{}
	hdrs, ms, ct1s := map[uint64][]byte{}, map[uint64][]byte{}, map[uint64][]byte{}
	for _, s := range states {
		if s.phase != ct1Sampled {
			continue
		}
		hdr, es, ct1 := s.uc.bytes(3), s.uc.bytes(4), s.uc.bytes(5)
		m := es[len(es)-32:]
		gotCt1, k := mlkem768.Encapsulate1((*[64]byte)(hdr), (*[32]byte)(m))
		if !bytes.Equal(gotCt1[:], ct1) {
			t.Fatalf("epoch %d: our ct1 differs from libcrux's", s.epoch)
		}
		secrets[s.epoch] = epochSecret(s.epoch, k).Secret
		hdrs[s.epoch], ms[s.epoch], ct1s[s.epoch] = hdr, m, ct1
	}

	// The authenticator of a state has absorbed the authentication key and
	// the secrets of finished epochs, and the encapsulator's of its current
	// epoch once it has sent ct1.
	wantAuth := func(s lsState) ([]byte, bool) {
		a := authenticator.New(authKey, 1)
		upTo := s.epoch - 1
		if s.phase >= ct1Sampled {
			upTo = s.epoch
		}
		for e := uint64(1); e <= upTo; e++ {
			sec, ok := secrets[e]
			if !ok {
				return nil, false
			}
			a.Update(e, sec[:])
		}
		b, _ := a.MarshalBinary()
		return b, true
	}
	checked := map[string]int{}
	eks := map[uint64][]byte{}
	for _, s := range states {
		want, ok := wantAuth(s)
		if !ok {
			continue
		}
		if !bytes.Equal(s.auth, want) {
			t.Fatalf("%s epoch %d %v: authenticator keys differ", s.side, s.epoch, s.phase)
		}
		checked["authenticator"]++
		a := authenticator.Authenticator{}
		a.UnmarshalBinary(s.auth)
		switch s.phase {
		case keysSampled:
			ek, dk := s.uc.bytes(3), s.uc.bytes(4)
			blob := encoderBlob(t, s.inner.msg(t, 2))
			hdr, mac := blob[:64], blob[64:]
			rho := dk[2*1152 : 2*1152+32]
			h := sha3.Sum256(append(bytes.Clone(ek), rho...))
			if !bytes.Equal(hdr[:32], rho) || !bytes.Equal(hdr[32:], h[:]) {
				t.Fatalf("epoch %d: header is not ρ ‖ H(ek)", s.epoch)
			}
			if m := a.HeaderMAC(s.epoch, hdr); !bytes.Equal(m[:], mac) {
				t.Fatalf("epoch %d: header MAC differs", s.epoch)
			}
			eks[s.epoch] = ek
			checked["header MAC"]++
		case ct2Sampled:
			blob := encoderBlob(t, s.inner.msg(t, 2))
			ct2, mac := blob[:128], blob[128:]
			ek, hdr := eks[s.epoch], hdrs[s.epoch]
			if ek == nil || hdr == nil {
				continue
			}
			got, err := mlkem768.Encapsulate2((*[64]byte)(hdr), (*[1152]byte)(ek), (*[32]byte)(ms[s.epoch]))
			if err != nil || !bytes.Equal(got[:], ct2) {
				t.Fatalf("epoch %d: our ct2 differs from libcrux's (%v)", s.epoch, err)
			}
			if m := a.CiphertextMAC(s.epoch, append(bytes.Clone(ct1s[s.epoch]), ct2...)); !bytes.Equal(m[:], mac) {
				t.Fatalf("epoch %d: ciphertext MAC differs", s.epoch)
			}
			checked["ct2 and ciphertext MAC"]++
		}
		if s.chain != nil {
			checkChain(t, s, authKey, secrets)
			checked["chain"]++
		}
	}
	if len(secrets) < 4 || checked["header MAC"] < 3 || checked["ct2 and ciphertext MAC"] < 3 || checked["chain"] < 20 {
		t.Fatalf("too little checked: %d epoch secrets, %v", len(secrets), checked)
	}
	t.Logf("%d epoch secrets, checks: %v", len(secrets), checked)
}

// checkChain recomputes libsignal's symmetric chain: the root and per-
// direction seeds from Start and Add Epoch, then each direction's seed after
// ctr steps of Next.
func checkChain(t *testing.T, s lsState, authKey []byte, secrets map[uint64][32]byte) {
	cur := s.chain.uint(2)
	zero := make([]byte, 32)
	g := hkdf96(t, zero, authKey, "Signal PQ Ratchet V1 Chain  Start")
	seeds := [][]byte{g[32:]} // per epoch: A2B seed ‖ B2A seed
	root := g[:32]
	for e := uint64(1); e <= cur; e++ {
		sec, ok := secrets[e]
		if !ok {
			return
		}
		g = hkdf96(t, root, sec[:], "Signal PQ Ratchet V1 Chain Add Epoch")
		root = g[:32]
		seeds = append(seeds, g[32:])
	}
	if !bytes.Equal(s.chain.bytes(4), root) {
		t.Fatalf("%s epoch %d: chain root differs", s.side, cur)
	}
	links := s.chain[3]
	for i, l := range links {
		e := int(cur) - (len(links) - 1 - i)
		link := parsePB(t, l.([]byte))
		for d, dir := range []int{1, 2} { // send, recv
			ed := link.msg(t, dir)
			next := ed.bytes(2)
			if len(next) == 0 {
				continue // libsignal erases old sending seeds
			}
			aToB := (s.side == "A") == (d == 0)
			seed := seeds[e][32:]
			if aToB {
				seed = seeds[e][:32]
			}
			for ctr := uint32(1); ctr <= uint32(ed.uint(1)); ctr++ {
				info := binary.BigEndian.AppendUint32(nil, ctr)
				o, err := hkdf.Key(sha256.New, seed, zero, string(info)+"Signal PQ Ratchet V1 Chain Next", 64)
				if err != nil {
					t.Fatal(err)
				}
				seed = o[:32]
			}
			if !bytes.Equal(next, seed) {
				t.Fatalf("%s epoch %d direction %d: chain seed after %d steps differs", s.side, e, d, ed.uint(1))
			}
		}
	}
}
