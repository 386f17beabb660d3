package keyfile

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/skymsg/sky/client/store/envelope"
)

// tiny keeps Argon2id cheap in tests; Default is measured by the benchmarks.
var tiny = Params{Time: 1, MemoryKiB: 64, Threads: 1}

var (
	realPass  = []byte("correct horse battery staple")
	panicPass = []byte("duress duress duress")
	wrongPass = []byte("not the passphrase")
)

// newFile returns a key file whose real slot wraps dataKey and whose panic
// slot wraps panicKey under panicPass.
func newFile(t testing.TB, p Params) (f *File, dataKey, panicKey envelope.Key) {
	t.Helper()
	dataKey, panicKey = envelope.NewKey(), envelope.NewKey()
	f, err := New(p, realPass, &dataKey)
	if err != nil {
		t.Fatal(err)
	}
	kek := f.Derive(panicPass)
	f.Wrap(Panic, &kek, &panicKey)
	return f, dataKey, panicKey
}

func whole(f *File) []byte {
	h := f.MarshalHalf()
	return append(append([]byte(nil), h...), h...)
}

func TestUnlockOpensTheRightSlot(t *testing.T) {
	f, dataKey, panicKey := newFile(t, tiny)
	g, err := Parse(whole(f))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		pass []byte
		slot Slot
		key  envelope.Key
	}{
		{"real", realPass, Real, dataKey},
		{"panic", panicPass, Panic, panicKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := g.Unlock(tc.pass)
			if err != nil {
				t.Fatal(err)
			}
			if u.Slot != tc.slot || u.Key != tc.key {
				t.Fatalf("got slot %v and a different key; want slot %v", u.Slot, tc.slot)
			}
			want := g.Derive(tc.pass)
			if u.KEK != want {
				t.Fatal("KEK is not the derivation of the passphrase")
			}
		})
	}
	if _, err := g.Unlock(wrongPass); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: got %v, want ErrWrongPassphrase", err)
	}
}

// TestUnlockDoesEqualWork is the structural half of acceptance test 22(c):
// real, panic and wrong passphrases each cost exactly one Argon2id derivation
// and two slot openings, in that order, with no early exit.
func TestUnlockDoesEqualWork(t *testing.T) {
	f, _, _ := newFile(t, tiny)
	for _, pass := range [][]byte{realPass, panicPass, wrongPass} {
		d0, s0 := derivations.Load(), slotOpens.Load()
		f.Unlock(pass)
		if d, s := derivations.Load()-d0, slotOpens.Load()-s0; d != 1 || s != 2 {
			t.Errorf("passphrase %q: %d derivations and %d slot openings, want 1 and 2", pass, d, s)
		}
	}
}

func TestPanicWinsWhenBothSlotsOpen(t *testing.T) {
	dataKey, panicKey := envelope.NewKey(), envelope.NewKey()
	f, err := New(tiny, realPass, &dataKey)
	if err != nil {
		t.Fatal(err)
	}
	kek := f.Derive(realPass)
	f.Wrap(Panic, &kek, &panicKey)
	u, err := f.Unlock(realPass)
	if err != nil || u.Slot != Panic || u.Key != panicKey {
		t.Fatalf("got %v, %v; want the panic slot", u, err)
	}
}

func TestRandomPanicSlotOpensWithNothing(t *testing.T) {
	dataKey := envelope.NewKey()
	f, err := New(tiny, realPass, &dataKey)
	if err != nil {
		t.Fatal(err)
	}
	kek := f.Derive(realPass)
	if !f.Opens(Real, &kek) || f.Opens(Panic, &kek) {
		t.Fatal("real KEK must open the real slot only")
	}
}

func TestSlotsAreBoundToHeaderAndPosition(t *testing.T) {
	f, _, _ := newFile(t, tiny)
	b := whole(f)
	mutate := map[string]func(h []byte){
		"swapped slots": func(h []byte) {
			s0 := bytes.Clone(h[offSlot0 : offSlot0+slotSize])
			copy(h[offSlot0:], h[offSlot0+slotSize:offSlot0+2*slotSize])
			copy(h[offSlot0+slotSize:], s0)
		},
		"changed salt": func(h []byte) { h[offSalt] ^= 1 },
		"changed time": func(h []byte) { h[offParams+3] ^= 2 },
	}
	for name, m := range mutate {
		t.Run(name, func(t *testing.T) {
			c := bytes.Clone(b)
			for _, h := range [][]byte{c[:HalfSize], c[HalfSize:]} {
				m(h)
				sum := sha256Sum(h[:offChecksum])
				copy(h[offChecksum:], sum)
			}
			g, err := Parse(c)
			if err != nil {
				t.Fatal(err)
			}
			if u, err := g.Unlock(realPass); err == nil && u.Slot == Real {
				t.Fatal("real passphrase still opened the real slot after tampering")
			}
		})
	}
}

func TestParsePicksGoodHalf(t *testing.T) {
	f, _, _ := newFile(t, tiny)
	f.Generation = 7
	old := f.MarshalHalf()
	f.Generation = 8
	f.FailedUnlocks = 3
	cur := f.MarshalHalf()
	torn := bytes.Clone(cur)
	torn[2000] ^= 0xff // inside the payload
	tornPad := bytes.Clone(cur)
	tornPad[HalfSize-1] = 1

	for _, tc := range []struct {
		name    string
		a, b    []byte
		wantGen uint64
		wantErr error
	}{
		{"both current", cur, cur, 8, nil},
		{"A newer", cur, old, 8, nil},
		{"B newer", old, cur, 8, nil},
		{"A torn", torn, old, 7, nil},
		{"B torn", cur, torn, 8, nil},
		{"A padding", tornPad, old, 7, nil},
		{"both torn", torn, torn, 0, ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Parse(append(bytes.Clone(tc.a), tc.b...))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g.Generation != tc.wantGen {
				t.Fatalf("generation %d, want %d", g.Generation, tc.wantGen)
			}
			if _, err := g.Unlock(realPass); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	f, _, _ := newFile(t, tiny)
	b := whole(f)
	bad := func(edit func(h []byte)) []byte {
		c := bytes.Clone(b)
		edit(c[:HalfSize])
		edit(c[HalfSize:])
		return c
	}
	resum := func(h []byte) { copy(h[offChecksum:], sha256Sum(h[:offChecksum])) }
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrCorrupt},
		{"short", b[:Size-1], ErrCorrupt},
		{"long", append(bytes.Clone(b), 0), ErrCorrupt},
		{"not a key file", bytes.Repeat([]byte{0x41}, Size), ErrCorrupt},
		{"version", bad(func(h []byte) { h[8] = 2; resum(h) }), ErrCorrupt},
		{"reserved", bad(func(h []byte) { h[10] = 1; resum(h) }), ErrCorrupt},
		{"zero time", bad(func(h []byte) { copy(h[offParams:], []byte{0, 0, 0, 0}); resum(h) }), ErrCorrupt},
		{"huge memory", bad(func(h []byte) { copy(h[offParams+4:], []byte{0xff, 0, 0, 0}); resum(h) }), ErrCorrupt},
		{"zero threads", bad(func(h []byte) { h[offParams+8] = 0; resum(h) }), ErrCorrupt},
		{"checksum", bad(func(h []byte) { h[offFailed] ^= 1 }), ErrCorrupt},
		{"wipe marker", append(WipeMarker(), b[16:]...), ErrWiped},
		{"wipe marker alone", WipeMarker(), ErrWiped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.in); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestPayload(t *testing.T) {
	f, _, panicKey := newFile(t, tiny)
	acct := bytes.Repeat([]byte{7}, MaxAccount)
	paths := []string{"/media/usb/a.skybackup", "/home/u/backups/sky-backup-20261201-120000.skybackup"}
	for _, p := range []Payload{{}, {DeleteAccount: true, Account: []byte("acct")}, {DeleteAccount: true, Account: acct},
		{Backups: paths}, {DeleteAccount: true, Account: []byte("acct"), Backups: paths},
		{Account: []byte("acct"), WipeList: []byte("signed list"), Backups: paths}, {Account: acct[:400], WipeList: make([]byte, MaxWipeList)}} {
		if err := f.SealPayload(&panicKey, p); err != nil {
			t.Fatal(err)
		}
		g, err := Parse(whole(f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := g.OpenPayload(&panicKey)
		if err != nil {
			t.Fatal(err)
		}
		if got.DeleteAccount != p.DeleteAccount || !bytes.Equal(got.Account, p.Account) || !slices.Equal(got.Backups, p.Backups) ||
			!bytes.Equal(got.WipeList, p.WipeList) {
			t.Fatalf("payload round trip: got %t/%d bytes, want %t/%d bytes", got.DeleteAccount, len(got.Account), p.DeleteAccount, len(p.Account))
		}
	}
	if err := f.SealPayload(&panicKey, Payload{Account: make([]byte, MaxAccount+1)}); !errors.Is(err, ErrPayloadTooLarge) {
		t.Fatalf("oversized account: got %v", err)
	}
	if err := f.SealPayload(&panicKey, Payload{WipeList: make([]byte, MaxWipeList+1)}); !errors.Is(err, ErrPayloadTooLarge) {
		t.Fatalf("oversized wipe list: got %v", err)
	}
	if err := f.SealPayload(&panicKey, Payload{Account: acct, WipeList: []byte("list")}); !errors.Is(err, ErrPayloadTooLarge) {
		t.Fatalf("account and wipe list over the payload: got %v", err)
	}
	long := []string{strings.Repeat("p", 600), strings.Repeat("q", 600), "r"}
	if n := FitBackups(10, long); n != 1 {
		t.Fatalf("FitBackups = %d, want 1", n)
	}
	if err := f.SealPayload(&panicKey, Payload{Account: make([]byte, 10), Backups: long}); !errors.Is(err, ErrPayloadTooLarge) {
		t.Fatalf("oversized backup list: got %v", err)
	}
	other := envelope.NewKey()
	if _, err := f.OpenPayload(&other); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("wrong panic key: got %v", err)
	}
	f.RandomizePayload()
	if _, err := f.OpenPayload(&panicKey); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("random payload opened: %v", err)
	}
}

func TestDecodePayloadRejects(t *testing.T) {
	good := make([]byte, PayloadSize)
	for _, tc := range []struct {
		name string
		edit func([]byte) []byte
	}{
		{"short", func(b []byte) []byte { return b[:PayloadSize-1] }},
		{"flags", func(b []byte) []byte { b[0] = 8; return b }},
		{"empty wipe list", func(b []byte) []byte { b[0] = 4; return b }},
		{"wipe list overruns", func(b []byte) []byte { b[0], b[3], b[4] = 4, 0x04, 0x00; return b }},
		{"wipe list too long", func(b []byte) []byte { b[0], b[3], b[4] = 4, 0x02, 0x01; return b }},
		{"empty backup list", func(b []byte) []byte { b[0] = 2; return b }},
		{"backup list overruns", func(b []byte) []byte { b[0], b[3], b[4] = 2, 0x04, 0x00; return b }},
		{"empty backup path", func(b []byte) []byte { b[0], b[4], b[5], b[6] = 2, 2, 'a', 0; return b }},
		{"length", func(b []byte) []byte { b[1], b[2] = 0xff, 0xff; return b }},
		{"padding", func(b []byte) []byte { b[PayloadSize-1] = 1; return b }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodePayload(tc.edit(bytes.Clone(good))); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
		})
	}
}

// TestFormattingRedacts is acceptance test 23 for this package's types.
func TestFormattingRedacts(t *testing.T) {
	f, dataKey, panicKey := newFile(t, tiny)
	u, err := f.Unlock(realPass)
	if err != nil {
		t.Fatal(err)
	}
	p := Payload{DeleteAccount: true, Account: []byte("credential-canary")}
	secrets := [][]byte{dataKey[:], panicKey[:], u.KEK[:], p.Account, f.slots[0][:], f.payload[:]}
	for _, v := range []any{f, *f, u, &u, p, &p} {
		out := fmt.Sprintf("%v %+v %#v %s %x %X %q %d", v, v, v, v, v, v, v, v)
		for _, s := range secrets {
			for _, enc := range []string{string(s), fmt.Sprintf("%x", s), fmt.Sprintf("%X", s), fmt.Sprint(s), fmt.Sprintf("%d", s[:4])} {
				if len(enc) > 4 && bytes.Contains([]byte(out), []byte(enc)) {
					t.Fatalf("%T formatting shows secret bytes %q (output begins %.80q)", v, enc, out)
				}
			}
		}
	}
}
