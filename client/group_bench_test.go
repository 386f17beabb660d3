package client

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/group"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/wire"
)

// memberIDs returns n distinct Sky IDs that are not registered anywhere.
func memberIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		b := []byte("zzzzzzzzzz")
		for j, k := len(b)-1, i; k > 0; j, k = j-1, k/len(wire.AccountIDAlphabet) {
			b[j] = wire.AccountIDAlphabet[k%len(wire.AccountIDAlphabet)]
		}
		out[i] = string(b)
	}
	return out
}

// benchGroup gives u a group of u and members, as if created and every
// member's identity key pinned and sender key handed out already: what a
// group looks like in steady use.
func benchGroup(b *testing.B, u *user, members []string) content.GroupID {
	b.Helper()
	var id content.GroupID
	copy(id[:], "bench group "+fmt.Sprint(len(members)))
	ch, err := group.Create(id, "bench", u.c.ID(), members, 0)
	if err != nil {
		b.Fatal(err)
	}
	err = u.c.core.Update(func(tx *store.Tx) error {
		r, _, err := group.Apply(nil, ch, u.c.ID())
		if err != nil {
			return err
		}
		if err := group.SaveRecord(tx, r); err != nil {
			return err
		}
		for _, m := range members {
			k := curve.GenerateKeyPair()
			if err := tx.PutPeerIdentity(store.Address{Name: m, Device: 1}, store.PeerIdentity{Key: k.Public.Bytes(), FirstSeen: time.Now()}); err != nil {
				return err
			}
		}
		if _, _, err := u.c.groups.OwnDistribution(tx, id); err != nil {
			return err
		}
		return group.SaveSent(tx, id, members)
	})
	if err != nil {
		b.Fatal(err)
	}
	return id
}

// BenchmarkGroupSend is the sender's cost of one 100-byte group text, per
// recipient: the text encrypted once with the sender key, stored, queued for
// each member, and each member's sealed envelope made (an ephemeral key and
// two X25519 agreements, AES-CTR and HMAC, padding to 1 KiB) as the outbox
// makes it.
// The network is left out: each envelope is then one Send on an anonymous
// connection (TestGroupOfFifty measures that end to end).
func BenchmarkGroupSend(b *testing.B) {
	s := startSkyd(b)
	alice := newUser(b, s, testOptions(nil))
	alice.pause()
	cert := alice.c.core.SenderCertificate()
	text := string(make([]byte, 100))
	for _, n := range []int{10, 100, 1000} {
		gid := benchGroup(b, alice, memberIDs(n-1))
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			var rcpts, bytes int
			for b.Loop() {
				if _, err := alice.c.SendGroup(gid.String(), text); err != nil {
					b.Fatal(err)
				}
				var items []store.Outgoing
				if err := alice.c.core.View(func(tx *store.Tx) (err error) { items, err = tx.Outbox(); return }); err != nil {
					b.Fatal(err)
				}
				for _, it := range items {
					item, err := core.DecodeOutItem(it.Payload)
					if err != nil {
						b.Fatal(err)
					}
					env, err := alice.c.core.SealFor(it.To, 1, item.Sealed[0].Bytes, cert)
					if err != nil {
						b.Fatal(err)
					}
					rcpts++
					bytes += len(env)
				}
				err := alice.c.core.Update(func(tx *store.Tx) error {
					for _, it := range items {
						if err := tx.Dequeue(it.ID); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rcpts), "ns/recipient")
			b.ReportMetric(float64(bytes)/float64(rcpts), "B/recipient")
		})
	}
}

// BenchmarkGroupReceive is a member's cost per received 100-byte group
// text: open the sealed envelope and check its certificate, check the
// sender's membership, decrypt with the sender key (and check its
// signature), content checks, dedupe record, message and sender-key record
// persisted in one transaction per push, events. batch is how many
// envelopes one push carries.
func BenchmarkGroupReceive(b *testing.B) {
	s := startSkyd(b)
	alice := newUser(b, s, testOptions(nil))
	bob := newUser(b, s, testOptions(nil))
	g, err := alice.c.CreateGroup("bench", []string{bob.c.ID()})
	if err != nil {
		b.Fatal(err)
	}
	groupChange(b, bob, g.ID)
	// Bob accepts the invitation, or the group stops at the 100 messages a
	// pending invitation keeps (and the benchmark with it).
	if err := bob.c.Accept(alice.c.ID()); err != nil {
		b.Fatal(err)
	}
	alice.pause()
	bob.pause()
	cert := alice.c.core.SenderCertificate()
	text := string(make([]byte, 100))
	envelope := func() *wire.Envelope {
		m, err := alice.c.SendGroup(g.ID, text)
		if err != nil {
			b.Fatal(err)
		}
		var items []store.Outgoing
		if err := alice.c.core.View(func(tx *store.Tx) (err error) { items, err = tx.Outbox(); return }); err != nil {
			b.Fatal(err)
		}
		it := items[len(items)-1]
		item, err := core.DecodeOutItem(it.Payload)
		if err != nil || item.Group == nil {
			b.Fatalf("not the group message %s: %v", m.ID, err)
		}
		env, err := alice.c.core.SealFor(it.To, 1, item.Sealed[0].Bytes, cert)
		if err != nil {
			b.Fatal(err)
		}
		if err := alice.c.core.Update(func(tx *store.Tx) error { return tx.Dequeue(it.ID) }); err != nil {
			b.Fatal(err)
		}
		return &wire.Envelope{Id: randomID(), ServerTime: time.Now().Unix(), Content: env}
	}
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			var msgs int
			for b.Loop() {
				b.StopTimer()
				envs := make([]*wire.Envelope, n)
				for i := range envs {
					envs[i] = envelope()
				}
				b.StartTimer()
				bt, err := bob.c.core.Receive(context.Background(), envs)
				if err != nil {
					b.Fatal(err)
				}
				shown := 0
				for _, e := range bt.Events {
					if m, ok := e.(*MessageEvent); ok && m.Message.Group == g.ID {
						shown++
					}
				}
				if shown != n {
					b.Fatalf("%d of %d shown", shown, n)
				}
				msgs += n
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(msgs), "ns/msg")
		})
	}
}

// BenchmarkGroupFanout is the wall time, per recipient, of one group text
// to members registered on a real skyd over loopback, everything included:
// queueing, each member's sealed envelope, and its Send with the member's
// delivery token on a fresh anonymous connection (the outbox opens one per
// recipient, so the server cannot link the sends by connection), until the
// server has committed them all. The members are offline; their messages
// wait at the server. Each member's identity key and access key are known,
// as after the group's first messages.
//
// Each size runs twice: "v1" sends one sealed envelope per member (the
// path before multi-recipient sends, Options.SingleSends), "v2" one sealed
// sender v2 message to them all. Besides the wall time it reports the
// bytes of sealed messages uploaded per message (B/msg) and the CPU time
// of the whole process per message (cpu-ms/msg: the sender, and skyd in the
// same process committing and splitting the copies).
func BenchmarkGroupFanout(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		for _, mode := range []string{"v1", "v2"} {
			b.Run(fmt.Sprintf("members=%d/%s", n, mode), func(b *testing.B) { benchFanout(b, n, mode == "v1") })
		}
	}
}

func benchFanout(b *testing.B, n int, single bool) {
	s := startSkydConfig(b, server.Config{RegisterRate: server.Rate{Per: 10000, Burst: 10000}, RecipientRate: server.Rate{Per: 10000, Burst: 10000}})
	opts := testOptions(nil)
	opts.SingleSends = single
	alice := newUser(b, s, opts)
	few := testOptions(nil)
	few.PreKeyLow, few.PreKeyTarget = 1, 2
	var ids []string
	keys := map[string][2][]byte{} // identity key, access key
	for range n - 1 {
		c, err := Register(ctxT(b), b.TempDir()+"/m", pass, s.url(), s.root, s.code(), few)
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, c.ID())
		keys[c.ID()] = [2][]byte{c.core.Local.KeyPair.Public.Bytes(), c.core.AccessKey()}
		c.Close()
	}
	fanoutGroup(b, alice.c, ids, keys)
	id := fanoutID
	text := string(make([]byte, 100))
	b.ResetTimer()
	up, cpu := core.UploadedBytes(), cpuTime()
	for b.Loop() {
		if _, err := alice.c.SendGroup(id.String(), text); err != nil {
			b.Fatal(err)
		}
		alice.flush()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(n-1)), "ns/recipient")
	b.ReportMetric(float64(core.UploadedBytes()-up)/float64(b.N), "B/msg")
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e6, "cpu-ms/msg")
}

// cpuTime is the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
