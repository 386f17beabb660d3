package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/client/store/keyfile"
	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/cluster"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/server/store/postgres"
)

// natsRecord is one thing NATS carried or kept: its subject and bytes.
type natsRecord struct {
	subject string
	data    []byte
}

// wiretap records every message published on the subjects it listens to.
type wiretap struct {
	mu  sync.Mutex
	got []natsRecord
}

func (w *wiretap) record(m *nats.Msg) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.got = append(w.got, natsRecord{m.Subject, append([]byte(nil), m.Data...)})
}

func (w *wiretap) records() []natsRecord {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]natsRecord(nil), w.got...)
}

// TestSeizedCluster extends the seized-server audit to what NATS holds for
// a cluster: two skyd nodes share PostgreSQL and one NATS, and three people
// talk across them (alice and carol on one node, bob on the other), so that
// wake hints, presence announcements and shared rate limits all pass
// through NATS. A wiretap records every message on the cluster's subjects
// and on its key-value buckets while they talk; then every message the
// cluster's JetStream streams still hold is read. None of it may hold a
// canary, an account ID (as text, hex or base64) or any piece of a
// ciphertext a client sent: NATS carries hints, never messages or names.
func TestSeizedCluster(t *testing.T) {
	dbURL := postgres.TestDatabase(t)
	name := cluster.TestName(t)
	ctx := context.Background()

	tapConn, err := nats.Connect(cluster.TestURL)
	if err != nil {
		t.Fatal(err)
	}
	defer tapConn.Close()
	var tap wiretap
	// ("$KV.>": a wildcard stands for whole subject tokens only, and each
	// bucket's name is one token; subjectKind sorts out other clusters'.)
	for _, subj := range []string{"sky." + name + ".>", "$KV.>"} {
		if _, err := tapConn.Subscribe(subj, tap.record); err != nil {
			t.Fatal(err)
		}
	}
	if err := tapConn.Flush(); err != nil {
		t.Fatal(err)
	}

	var captures []*Capture
	var urls []string
	var root client.TrustRoot
	for i := range 2 {
		st, err := postgres.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			servertest.Certify(t, st)
			r, err := server.TrustRoot(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			if root, err = client.ParseTrustRoot(base64.StdEncoding.EncodeToString(r.Bytes())); err != nil {
				t.Fatal(err)
			}
		}
		cl, err := cluster.Join(ctx, cluster.Config{URL: cluster.TestURL, Name: name, Store: st, Heartbeat: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		capture := NewCapture(ln)
		srv, err := servertest.StartOn(capture, server.Config{Store: st, Cluster: cl})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Stop(); cl.Close(); st.Close() })
		captures = append(captures, capture)
		urls = append(urls, srv.URL)
	}

	opts := client.Options{KDF: keyfile.Params{Time: 1, MemoryKiB: 64, Threads: 1},
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, ReceiptDelay: 50 * time.Millisecond}
	var people []*person
	for i, who := range []string{"alice", "bob", "carol"} {
		url := urls[i%2] // alice and carol on node 0, bob on node 1
		st, err := postgres.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		code, err := server.CreateCodes(ctx, st, 1, 90*24*time.Hour, time.Now().Add(time.Hour))
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		c, err := client.Register(ctx, filepath.Join(t.TempDir(), who), []byte("passphrase of "+who), url, root, code[0], opts)
		if err != nil {
			t.Fatal(err)
		}
		people = append(people, startPerson(t, who, c))
	}
	alice, bob, carol := people[0], people[1], people[2]
	var cs canaries
	alice.send(t, bob, "Hi Bob, it's Alice: "+cs.next())
	bob.await(t, 1)
	must(t, bob.c.Accept(alice.id()))
	bob.send(t, alice, "Hello Alice "+cs.next())
	alice.await(t, 1)
	carol.send(t, bob, "Bob, Carol here. "+cs.next())
	bob.await(t, 1)
	must(t, bob.c.Accept(carol.id()))
	for range 3 {
		bob.send(t, carol, "Carol? "+cs.next())
		carol.await(t, 1)
		carol.send(t, bob, "Yes, Bob? "+cs.next())
		bob.await(t, 1)
	}
	g, err := alice.c.CreateGroup("Group "+cs.next(), []string{bob.id(), carol.id()})
	must(t, err)
	bob.awaitGroup(t, g.ID)
	carol.awaitGroup(t, g.ID)
	_, err = alice.c.SendGroup(g.ID, "To the group "+cs.next())
	must(t, err)
	bob.await(t, 1)
	carol.await(t, 1)
	for _, p := range people {
		p.flush(t)
	}
	time.Sleep(500 * time.Millisecond) // the last hints and heartbeats
	if err := tapConn.Flush(); err != nil {
		t.Fatal(err)
	}

	// Seize: what the wiretap heard, and what the streams still hold.
	var heard []natsRecord
	for _, r := range tap.records() {
		if subjectKind(r.subject, name) != "other" {
			heard = append(heard, r)
		}
	}
	kept, streams := streamContents(t, name)
	var convs []*Conversation
	for _, c := range captures {
		for _, s := range c.Streams() {
			conv, err := Decode(s)
			if err != nil {
				t.Fatalf("decoding a recorded connection: %v", err)
			}
			convs = append(convs, conv)
		}
	}
	fragments := ciphertextFragments(convs)
	kinds := map[string]int{}
	for _, r := range heard {
		kinds[subjectKind(r.subject, name)]++
	}
	// The audit covers every path only if each kind of traffic passed.
	for _, k := range []string{"wake", "alive", "presence", "rate limit"} {
		if kinds[k] == 0 {
			t.Errorf("the wiretap heard no %s message (heard %v): the audit would not cover it", k, kinds)
		}
	}
	if len(fragments) == 0 {
		t.Fatal("no ciphertext fragments to search for")
	}
	needles := map[string][]byte{}
	for _, c := range cs {
		needles["canary "+c] = []byte(c)
	}
	needles["group ID"] = []byte(g.ID)
	for _, p := range people {
		id := p.id()
		needles["account ID of "+p.name] = []byte(id)
		needles["account ID of "+p.name+" (hex)"] = []byte(hex.EncodeToString([]byte(id)))
		needles["account ID of "+p.name+" (base64)"] = []byte(base64.StdEncoding.EncodeToString([]byte(id))[:12])
	}
	for i, f := range fragments {
		needles[fmt.Sprintf("ciphertext fragment %d", i)] = f
	}
	var problems []string
	all := append(append([]natsRecord(nil), heard...), kept...)
	bytesSeen := 0
	for _, r := range all {
		bytesSeen += len(r.subject) + len(r.data)
		for what, n := range needles {
			if strings.Contains(r.subject, string(n)) || bytes.Contains(r.data, n) {
				problems = append(problems, fmt.Sprintf("%s found on NATS subject %s", what, r.subject))
			}
		}
	}
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("seized-server audit, cluster of 2 nodes on PostgreSQL and NATS\n"+
		"  conversation: 3 accounts on 2 nodes, %d canaries, 1 group, %d ciphertext fragments searched for\n"+
		"  seized from NATS: %d messages heard (wake %d, alive %d, presence %d, rate limit %d), %d messages kept in %d JetStream streams; %d bytes\n"+
		"  canaries, account IDs (as text, hex or base64), group IDs or ciphertext found: %d",
		len(cs), len(fragments), len(heard), kinds["wake"], kinds["alive"], kinds["presence"], kinds["rate limit"],
		len(kept), streams, bytesSeen, len(problems))
}

// subjectKind names what a message on subject is, for cluster name.
func subjectKind(subject, name string) string {
	switch {
	case strings.HasPrefix(subject, "$KV.sky_"+name+"_limit_"):
		return "rate limit"
	case strings.HasPrefix(subject, "sky."+name+"."):
		return strings.TrimPrefix(subject, "sky."+name+".")
	}
	return "other"
}

// streamContents reads every message still held by the JetStream streams of
// cluster name (its presence stream and its rate-limit buckets).
func streamContents(t *testing.T, name string) (out []natsRecord, streams int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := nats.Connect(cluster.TestURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	lister := js.StreamNames(ctx)
	for s := range lister.Name() {
		if s != "sky_"+name+"_presence" && !strings.HasPrefix(s, "KV_sky_"+name+"_limit_") {
			continue
		}
		streams++
		st, err := js.Stream(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
			m, err := st.GetMsg(ctx, seq)
			if err != nil {
				continue // deleted, or expired meanwhile
			}
			out = append(out, natsRecord{m.Subject, m.Data})
		}
	}
	if err := lister.Err(); err != nil {
		t.Fatal(err)
	}
	return out, streams
}
