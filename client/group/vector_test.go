package group

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"
)

// vector is a signed group state as testdata/signed-vector.json pins it:
// the wire form of its proof and the digests every client must compute
// for it, so no change of the encoding or of a digest goes unnoticed.
type vector struct {
	State struct {
		ID      string
		Version uint64
		Name    string
		Members []string
		Admins  []string
		Timer   int64 // seconds
		Link    string
	}
	Proof       string // hex
	Ancestry    string // hex
	HeadDigest  string
	StateDigest string
}

const vectorFile = "testdata/signed-vector.json"

// makeVector builds a fresh vector (SKY_UPDATE_VECTORS=1 writes it).
func makeVector(t *testing.T) vector {
	k := newKeyring(alice, bob, carol)
	r := mustSigned(t, nil, signedCreate(t, k, bob, carol), alice)
	r = mustSigned(t, r, signedChange(t, k, r, alice, makeAdmin(bob)), alice)
	ch := signedChange(t, k, r, bob, func(s *State) { s.Name, s.Link = "Vector", LinkDigest(s.ID, []byte("0123456789abcdef")) })
	var v vector
	s := ch.State
	v.State.ID, v.State.Version, v.State.Name, v.State.Members, v.State.Admins = s.ID.String(), s.Version, s.Name, s.Members, s.Admins
	v.State.Timer, v.State.Link = int64(s.Timer/time.Second), hex.EncodeToString(s.Link[:])
	p, err := ch.Proof.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	hd, sd := ch.Proof.Head().Digest(), StateDigest(&s)
	v.Proof, v.Ancestry = hex.EncodeToString(p), hex.EncodeToString(EncodeAncestry(ch.Ancestry))
	v.HeadDigest, v.StateDigest = hex.EncodeToString(hd[:]), hex.EncodeToString(sd[:])
	return v
}

func TestSignedVector(t *testing.T) {
	if os.Getenv("SKY_UPDATE_VECTORS") != "" {
		b, _ := json.MarshalIndent(makeVector(t), "", "  ")
		if err := os.WriteFile(vectorFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(vectorFile)
	if err != nil {
		t.Fatal(err)
	}
	var v vector
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	id, err := hex.DecodeString(v.State.ID)
	if err != nil {
		t.Fatal(err)
	}
	s := State{Version: v.State.Version, Name: v.State.Name, Members: v.State.Members, Admins: v.State.Admins, Timer: time.Duration(v.State.Timer) * time.Second}
	copy(s.ID[:], id)
	link, _ := hex.DecodeString(v.State.Link)
	copy(s.Link[:], link)
	raw, _ := hex.DecodeString(v.Proof)
	p, err := ParseProof(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Verify(&s); err != nil {
		t.Fatalf("the vector does not verify: %v", err)
	}
	hd, sd := p.Head().Digest(), StateDigest(&s)
	if hex.EncodeToString(hd[:]) != v.HeadDigest || hex.EncodeToString(sd[:]) != v.StateDigest {
		t.Fatal("a digest differs from the vector's: the format changed")
	}
	if again, _ := p.MarshalBinary(); hex.EncodeToString(again) != v.Proof {
		t.Fatal("the proof encodes to other bytes than the vector's")
	}
	anc, _ := hex.DecodeString(v.Ancestry)
	vs, err := ParseAncestry(anc)
	if err != nil || len(vs) != 2 || vs[1].Digest() != p.Head().Prev {
		t.Fatalf("the ancestry does not link to the head: %v", err)
	}
	if !reflect.DeepEqual(EncodeAncestry(vs), anc) {
		t.Fatal("the ancestry encodes to other bytes than the vector's")
	}
	// One flipped bit anywhere in the proof, and it no longer verifies.
	for i := 0; i < len(raw); i += 7 {
		bad := append([]byte(nil), raw...)
		bad[i] ^= 0x10
		if q, err := ParseProof(bad); err == nil {
			if _, err := q.Verify(&s); err == nil {
				t.Fatalf("the proof with byte %d flipped still verifies", i)
			}
		}
	}
}
