package client

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/devices/devlist"
	"github.com/skymsg/sky/client/devices/linkproto"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/wire"
	"google.golang.org/protobuf/proto"
)

// The hostile server and linked devices (issue 16): a server that adds a
// device of its own to Bob's list, hands out another device's keys as one
// of Bob's devices, replays an old list, or forges the list that orders a
// device to wipe itself. Each is refused and reported, and nothing is ever
// encrypted to a device Bob did not sign for.

// devHooks rewrites what the server says about one account's devices and
// counts what clients encrypt to each of its devices.
type devHooks struct {
	mu       sync.Mutex
	victim   string
	asked    map[string]string // "acct/id" → "list" or "bundles"
	list     func(to string, dl *wire.DeviceList)
	bundles  func(to string, bs *wire.Bundles)
	authFail string                               // refuse this account's authentication
	saved    *wire.Bundle                         // device 2's bundle as the server once handed it out
	revive   *wire.Bundle                         // handed out for device 2 once the server has none
	slot     func(which string, b *wire.LinkBlob) // rewrites link slots as they are read
	sent     map[uint32]int
}

func newDevHooks(victim string) *devHooks {
	return &devHooks{victim: victim, asked: map[string]string{}, sent: map[uint32]int{}}
}

func (h *devHooks) set(f func(*devHooks)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(h)
}

func (h *devHooks) sentTo(dev uint32) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sent[dev]
}

func (h *devHooks) toServer(acct string, f *wire.Frame) []*wire.Frame {
	h.mu.Lock()
	defer h.mu.Unlock()
	req := f.GetRequest()
	key := fmt.Sprint(acct, "/", req.GetId())
	switch {
	case req.GetLinkGet() != nil:
		h.asked[key] = fmt.Sprint("link", req.GetLinkGet().GetSlot())
	case req.GetGetDeviceList().GetAccount() == h.victim:
		h.asked[key] = "list"
	case req.GetFetchBundles().GetAccount() == h.victim:
		h.asked[key] = "bundles"
	case req.GetSend().GetAccount() == h.victim:
		h.sent[req.GetSend().GetDevice()]++
	}
	return []*wire.Frame{f}
}

func (h *devHooks) toClient(acct string, f *wire.Frame) []*wire.Frame {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := f.GetResponse()
	if r == nil {
		return []*wire.Frame{f}
	}
	if r.GetAuthenticated() != nil && acct == h.authFail && acct != "" {
		return []*wire.Frame{{Body: &wire.Frame_Response{Response: &wire.Response{Id: r.GetId(), Error: wire.NewError(wire.Code_AUTH_FAILED, "unknown device")}}}}
	}
	if what := h.asked[fmt.Sprint(acct, "/", r.GetId())]; h.slot != nil && r.GetLinkBlob() != nil {
		h.slot(what, r.GetLinkBlob())
	}
	switch h.asked[fmt.Sprint(acct, "/", r.GetId())] {
	case "list":
		if h.list != nil && r.GetDeviceList() != nil {
			h.list(acct, r.GetDeviceList())
		}
	case "bundles":
		if r.GetError() != nil && h.revive != nil {
			// The server keeps a removed device's keys and hands them out.
			r = &wire.Response{Id: r.GetId(), Result: &wire.Response_Bundles{Bundles: &wire.Bundles{Bundles: []*wire.Bundle{h.revive}}}}
			f = &wire.Frame{Body: &wire.Frame_Response{Response: r}}
		}
		for _, x := range r.GetBundles().GetBundles() {
			if x.GetDevice() == 2 && h.revive == nil {
				h.saved = proto.Clone(x).(*wire.Bundle)
			}
		}
		if h.bundles != nil && r.GetBundles() != nil {
			h.bundles(acct, r.GetBundles())
		}
	}
	return []*wire.Frame{f}
}

// linkUserAt is linkUser with the new device connecting through url.
func linkUserAt(t *testing.T, s *skyd, url string, from *user, opts Options) *user {
	t.Helper()
	codes, linked := make(chan string, 1), make(chan error, 1)
	go func() {
		_, err := from.c.LinkDevice(ctxT(t), func(code string) { codes <- code })
		linked <- err
	}()
	code := <-codes
	dir := filepath.Join(t.TempDir(), "home")
	c, err := Link(ctxT(t), dir, pass, url, s.root, code, opts)
	if err != nil {
		t.Fatalf("Link: %v", err)
	}
	if err := <-linked; err != nil {
		t.Fatalf("LinkDevice: %v", err)
	}
	u := &user{t: t, dir: dir, c: c, opts: opts}
	t.Cleanup(func() { u.close() })
	u.start()
	return u
}

func listBytes(t *testing.T, u *user, account string) []byte {
	t.Helper()
	var raw []byte
	if err := u.c.core.View(func(tx *store.Tx) (err error) { raw, err = core.AcceptedListBytes(tx, account); return }); err != nil || raw == nil {
		t.Fatalf("no accepted list of %s: %v", account, err)
	}
	return raw
}

func refusedList(t *testing.T, u *user, peer, why string) {
	t.Helper()
	e := next(t, u, func(e *DeviceListRefusedEvent) bool { return e.Peer == peer })
	if !strings.Contains(e.Reason, why) {
		t.Fatalf("refused for %q, want %q", e.Reason, why)
	}
}

func fastLists() Options {
	o := testOptions(nil)
	o.DeviceListAge = time.Millisecond
	return o
}

// TestEvilGhostDevice: the server adds a device of its own to Bob's
// account — in a list it signs itself, in the devices it registers, in the
// bundles it hands out. Alice refuses the list and encrypts nothing to the
// ghost.
func TestEvilGhostDevice(t *testing.T) {
	s := startSkyd(t)
	ev := startEvil(t, s)
	bob := newUser(t, s, fastLists())
	b := bob.c.ID()
	h := newDevHooks(b)
	ev.set(h.toClient, h.toServer)
	alice := newUserAt(t, s, ev.url(), fastLists())
	ghost := newAttacker()
	h.set(func(h *devHooks) {
		h.list = func(_ string, dl *wire.DeviceList) {
			l, err := devlist.Decode(dl.List)
			if err != nil {
				return
			}
			l.Devices = append(l.Devices, devlist.Device{ID: 2, RegistrationID: 77})
			l.Version++
			dl.List, _ = devlist.Sign(l, ghost.ik.Private) // the server's own signature
			dl.Registered = []uint32{1, 2}
		}
		h.bundles = func(_ string, bs *wire.Bundles) {
			g := ghost.bundle()
			g.Device = 2
			bs.Bundles = append(bs.Bundles, g)
		}
	})
	alice.send(b, "first contact")
	if got := texts(t, bob, 1); got[0] != "first contact" {
		t.Fatalf("bob got %q", got)
	}
	alice.send(b, "second")
	texts(t, bob, 1)
	alice.flush()
	if n := h.sentTo(2); n != 0 {
		t.Fatalf("%d messages were encrypted to the ghost device", n)
	}
	refusedList(t, alice, b, "signature")
	if devs, _ := alice.c.ContactDevices(b); !slices.Equal(devs, []uint32{1}) {
		t.Fatalf("alice counts bob's devices as %v", devs)
	}
}

// TestEvilSwappedDeviceKey: Bob has two devices; the server hands out
// device 1's (validly signed) keys as device 2's, so that what Alice sends
// "to device 2" is readable where the server chooses. The keys are not the
// signed device 2's: refused, nothing encrypted to them, device 1 still
// gets the message.
func TestEvilSwappedDeviceKey(t *testing.T) {
	s := startSkyd(t)
	ev := startEvil(t, s)
	bob := newUser(t, s, fastLists())
	b := bob.c.ID()
	linkUser(t, s, bob, fastLists())
	h := newDevHooks(b)
	ev.set(h.toClient, h.toServer)
	h.set(func(h *devHooks) {
		h.bundles = func(_ string, bs *wire.Bundles) {
			for _, x := range bs.Bundles {
				if x.Device == 1 {
					swapped := proto.Clone(x).(*wire.Bundle)
					swapped.Device = 2
					bs.Bundles = append(bs.Bundles[:0:0], x, swapped)
					return
				}
			}
		}
	})
	alice := newUserAt(t, s, ev.url(), fastLists())
	alice.send(b, "to bob")
	if got := texts(t, bob, 1); got[0] != "to bob" {
		t.Fatalf("bob got %q", got)
	}
	alice.flush()
	if n := h.sentTo(2); n != 0 {
		t.Fatalf("%d messages were encrypted to the swapped keys", n)
	}
	refusedList(t, alice, b, "registration ID")
}

// TestEvilReplayedDeviceList: after Bob removed a device, the server
// replays the older list that still had it. Alice, who saw the newer one,
// refuses it and encrypts nothing to the removed device.
func TestEvilReplayedDeviceList(t *testing.T) {
	s := startSkyd(t)
	ev := startEvil(t, s)
	bob := newUser(t, s, fastLists())
	b := bob.c.ID()
	h := newDevHooks(b)
	ev.set(h.toClient, h.toServer)
	alice := newUserAt(t, s, ev.url(), fastLists())
	bob2 := linkUser(t, s, bob, fastLists())
	alice.send(b, "to both")
	texts(t, bob, 1)
	texts(t, bob2, 1)
	withTwo := listBytes(t, alice, b)
	if err := bob.c.RemoveDevice(ctxT(t), 2); err != nil {
		t.Fatal(err)
	}
	alice.send(b, "after removal")
	texts(t, bob, 1)
	next(t, alice, func(e *DeviceListEvent) bool { return e.Peer == b && slices.Equal(e.Removed, []uint32{2}) })
	before := h.sentTo(2)
	h.set(func(h *devHooks) {
		h.list = func(_ string, dl *wire.DeviceList) { dl.List, dl.Registered = withTwo, []uint32{1, 2} }
		h.revive = h.saved
	})
	alice.send(b, "replayed")
	texts(t, bob, 1)
	alice.flush()
	if n := h.sentTo(2); n != before {
		t.Fatalf("%d messages were encrypted to the removed device after the replay", n-before)
	}
	refusedList(t, alice, b, "older")
	if devs, _ := alice.c.ContactDevices(b); !slices.Equal(devs, []uint32{1}) {
		t.Fatalf("alice counts bob's devices as %v", devs)
	}
	// The server drops Bob's list altogether: refused too, the signed one
	// kept.
	h.set(func(h *devHooks) {
		h.list = func(_ string, dl *wire.DeviceList) { dl.List = nil }
	})
	alice.send(b, "no list")
	texts(t, bob, 1)
	refusedList(t, alice, b, "no list")
	if raw := listBytes(t, alice, b); len(raw) == 0 {
		t.Fatal("alice forgot bob's signed list")
	}
}

// TestEvilForgedWipe: the server tries to make Bob's second device wipe
// itself — with a list without it that the server signed, with Bob's own
// older list from before the device was linked, and by refusing the device
// and showing that old list. Each is refused; the device keeps its data.
func TestEvilForgedWipe(t *testing.T) {
	s := startSkyd(t)
	ev := startEvil(t, s)
	bob := newUser(t, s, fastLists())
	b := bob.c.ID()
	beforeLink := listBytes(t, bob, b)
	h := newDevHooks(b)
	ev.set(h.toClient, h.toServer)
	bob2 := linkUserAt(t, s, ev.url(), bob, fastLists())
	forger := newAttacker()
	forged, err := devlist.Sign(&devlist.List{Account: b, Version: 99, Devices: []devlist.Device{{ID: 1, RegistrationID: 1}}}, forger.ik.Private)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, why string
		list      []byte
		authFail  bool
	}{
		{"a list the server signed", "signature", forged, false},
		{"Bob's list from before the link", "older", beforeLink, false},
		{"the device refused and the old list shown", "older", beforeLink, true},
	} {
		h.set(func(h *devHooks) {
			h.list = func(_ string, dl *wire.DeviceList) { dl.List, dl.Registered = tc.list, []uint32{1} }
			h.authFail = ""
			if tc.authFail {
				h.authFail = b
			}
		})
		bob2.pause()
		bob2.start2(tc.authFail)
		refusedList(t, bob2, b, tc.why)
		if tc.authFail {
			if err := <-bob2.runErr; !errors.Is(err, ErrAuthFailed) {
				t.Fatalf("%s: Run = %v, want ErrAuthFailed (and no wipe)", tc.name, err)
			}
			bob2.stop = nil
		}
		if ids, cur := deviceIDs(t, bob2); cur != 2 || !slices.Equal(ids, []uint32{1, 2}) {
			t.Fatalf("%s: bob2 now has devices %v, current %d", tc.name, ids, cur)
		}
	}
	h.set(func(h *devHooks) { h.list, h.authFail = nil, "" })
	bob2.close()
	if _, err := Open(ctxT(t), bob2.dir, pass, fastLists()); err != nil {
		t.Fatalf("the device's data is gone after forged wipes: %v", err)
	}
}

// start2 is start for a device whose authentication may be refused: it
// does not wait for the connection.
func (u *user) start2(mayFail bool) {
	if !mayFail {
		u.start()
		return
	}
	u.sub = u.c.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	u.stop, u.runErr = cancel, make(chan error, 1)
	go func() { u.runErr <- u.c.Run(ctx) }()
}

// TestEvilWithheldDeviceList: the server keeps showing Alice Bob's list
// from before he linked a device (a stale view; the newer list is signed
// by Bob, so it cannot forge one). Bob's own messages say which version he
// uses, so Alice notices that the server withholds the newer one.
func TestEvilWithheldDeviceList(t *testing.T) {
	s := startSkyd(t)
	ev := startEvil(t, s)
	bob := newUser(t, s, fastLists())
	b := bob.c.ID()
	beforeLink := listBytes(t, bob, b)
	h := newDevHooks(b)
	h.set(func(h *devHooks) {
		h.list = func(_ string, dl *wire.DeviceList) { dl.List, dl.Registered = beforeLink, []uint32{1} }
	})
	ev.set(h.toClient, h.toServer)
	linkUser(t, s, bob, fastLists())
	alice := newUserAt(t, s, ev.url(), fastLists())
	a := alice.c.ID()
	alice.send(b, "hi bob")
	texts(t, bob, 1)
	bob.send(a, "hi alice")
	texts(t, alice, 1)
	refusedList(t, alice, b, "withholds their newest device list")
}

// TestEvilLinkRelay: the server relays its own ephemeral key in place of
// either device's during linking (a machine in the middle). The link code
// binds both keys, so the device that reads the substituted one refuses,
// and nothing is linked: no device is added to the account.
func TestEvilLinkRelay(t *testing.T) {
	for _, slot := range []string{"link0", "link1"} {
		t.Run(slot, func(t *testing.T) {
			s := startSkyd(t)
			ev := startEvil(t, s)
			h := newDevHooks("-")
			ev.set(h.toClient, h.toServer)
			mitm, mitmCode := linkproto.NewEphemeral(), linkproto.NewCode()
			h.set(func(h *devHooks) {
				h.slot = func(which string, b *wire.LinkBlob) {
					switch {
					case which != slot:
					case slot == "link0":
						b.Blob = mitmCode.Offer(mitm)
					default:
						b.Blob, _ = mitmCode.SealAnswer(mitm.Public(), linkproto.Answer{Ephemeral: mitm.Public(), AuthKey: make([]byte, 32), RegistrationID: 7})
					}
				}
			})
			bobURL, newURL := s.url(), ev.url() // the new device reads slot 0 through the server in the middle
			if slot == "link1" {
				bobURL, newURL = ev.url(), s.url() // the existing device reads slot 1 through it
			}
			bob := newUserAt(t, s, bobURL, testOptions(nil))
			codes, linked := make(chan string, 1), make(chan error, 1)
			go func() {
				_, err := bob.c.LinkDevice(shortCtx(t, 10*time.Second), func(code string) { codes <- code })
				linked <- err
			}()
			code := <-codes
			_, err := Link(shortCtx(t, 3*time.Second), filepath.Join(t.TempDir(), "home"), pass, newURL, s.root, code, testOptions(nil))
			if slot == "link0" && !errors.Is(err, linkproto.ErrMAC) {
				t.Fatalf("the new device linked over a substituted offer: %v", err)
			}
			if slot == "link1" {
				if err := <-linked; !errors.Is(err, linkproto.ErrMAC) {
					t.Fatalf("the existing device accepted a substituted answer: %v", err)
				}
			}
			if ids, _ := deviceIDs(t, bob); !slices.Equal(ids, []uint32{1}) {
				t.Fatalf("bob's account now has devices %v", ids)
			}
		})
	}
}
