package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/client/store/keyfile"
	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/keydir"
	"github.com/skymsg/sky/server/metrics"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/server/store/postgres"
	"github.com/skymsg/sky/server/store/sqlite"
	"github.com/skymsg/sky/wire"
)

// TestSeizedServer is the seized-server audit (package doc): three people
// talk through a real skyd, then everything the server had is taken and
// searched.
func TestSeizedServer(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "skyd.db")
		st, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		audit(t, &backend{name: "SQLite", st: st, path: path})
	})
	t.Run("postgres", func(t *testing.T) {
		url := postgres.TestDatabase(t)
		st, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		audit(t, &backend{name: "PostgreSQL", st: st, url: url})
	})
}

// backend is the store under audit and how to seize it.
type backend struct {
	name string
	st   store.Store
	path string // SQLite: the database file
	url  string // PostgreSQL
}

func (b *backend) tables(t *testing.T) []Table {
	t.Helper()
	var ts []Table
	var err error
	if b.path != "" {
		ts, err = SQLiteTables(b.path)
	} else {
		ts, err = PostgresTables(context.Background(), b.url)
	}
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// files returns the raw bytes of every file of the database (SQLite only).
func (b *backend) files(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	if b.path == "" {
		return out
	}
	entries, err := os.ReadDir(filepath.Dir(b.path))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(b.path), e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = data
	}
	return out
}

// lockedBuffer collects the server's log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// person is one client in the script.
type person struct {
	name string
	c    *client.Client
	sub  *client.Subscription
	stop context.CancelFunc
	done chan struct{}
}

// startPerson runs c online as name until the test ends.
func startPerson(t *testing.T, name string, c *client.Client) *person {
	p := &person{name: name, c: c, sub: c.Subscribe(), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	go func() { defer close(p.done); c.Run(ctx) }()
	t.Cleanup(func() { p.offline(); c.Close() })
	return p
}

func (p *person) id() string { return p.c.ID() }

// await waits for n incoming texts and returns them.
func (p *person) await(t *testing.T, n int) []client.Message {
	t.Helper()
	var out []client.Message
	timeout := time.After(20 * time.Second)
	for len(out) < n {
		select {
		case ev := <-p.sub.Events():
			if m, ok := ev.(*client.MessageEvent); ok && m.Message.Kind == client.KindText && !m.Message.Outgoing {
				out = append(out, m.Message)
			}
		case <-timeout:
			t.Fatalf("%s: %d of %d messages within 20 s", p.name, len(out), n)
		}
	}
	return out
}

func (p *person) send(t *testing.T, to *person, text string) {
	t.Helper()
	if _, err := p.c.Send(to.id(), text); err != nil {
		t.Fatal(err)
	}
}

func (p *person) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.c.Flush(ctx); err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
}

func (p *person) offline() {
	if p.stop != nil {
		p.stop()
		<-p.done
		p.stop = nil
	}
}

// canaries are random strings the texts carry; none may turn up anywhere.
type canaries []string

func (cs *canaries) next() string {
	b := make([]byte, 10)
	rand.Read(b)
	c := "canary-" + hex.EncodeToString(b)
	*cs = append(*cs, c)
	return c
}

func audit(t *testing.T, b *backend) {
	allowed := readAllowList(t)
	clock := servertest.NewClock(time.Now().UTC().Truncate(time.Hour).Add(17*time.Minute + 23*time.Second))
	var logs lockedBuffer
	reg := metrics.NewRegistry()
	sealedRoot := servertest.Certify(t, b.st)
	// The key directory runs too, so its tables are seized with the rest.
	must(t, errOf(keydir.CertifyWithRoot(context.Background(), b.st.(keydir.Store), sealedRoot, 0)))
	root, err := server.TrustRoot(context.Background(), b.st)
	if err != nil {
		t.Fatal(err)
	}
	trustRoot, err := client.ParseTrustRoot(base64.StdEncoding.EncodeToString(root.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	capture := NewCapture(ln)
	srv, err := servertest.StartOn(capture, server.Config{
		Store: b.st, Clock: clock, Metrics: reg, SweepInterval: time.Hour, RegisterRate: server.Rate{Per: 100, Burst: 100},
		KeyDir: server.KeyDirConfig{Interval: 100 * time.Millisecond},
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	stopServer := func() {
		if !stopped {
			srv.Stop()
			b.st.Close()
			stopped = true
		}
	}
	t.Cleanup(stopServer)

	// Three people register and talk: first contacts (requests), accepted,
	// answered, delivery and read receipts, a long message, and at the end
	// two messages to someone who went offline (left queued).
	opts := client.Options{KDF: keyfile.Params{Time: 1, MemoryKiB: 64, Threads: 1}, Clock: clock,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, ReceiptDelay: 100 * time.Millisecond}
	var people []*person
	for _, name := range []string{"alice", "bob", "carol"} {
		c, err := client.Register(context.Background(), filepath.Join(t.TempDir(), name), []byte("passphrase of "+name), srv.URL, trustRoot, srv.Code(t, clock.Now()), opts)
		if err != nil {
			t.Fatal(err)
		}
		people = append(people, startPerson(t, name, c))
	}
	alice, bob, carol := people[0], people[1], people[2]
	var cs canaries
	alice.send(t, bob, "Hi Bob, it's Alice: "+cs.next())
	bob.await(t, 1)
	must(t, bob.c.Accept(alice.id()))
	bob.send(t, alice, "Hello Alice! A long one: "+strings.Repeat(cs.next()+" ", 150))
	alice.await(t, 1)
	alice.send(t, bob, "Lunch at noon? "+cs.next())
	read := bob.await(t, 1)
	_, err = bob.c.MarkRead(read[0].LocalID)
	must(t, err)
	carol.send(t, alice, "Alice, Carol here. "+cs.next())
	alice.await(t, 1)
	must(t, alice.c.Accept(carol.id()))
	alice.send(t, carol, "Hi Carol "+cs.next())
	carol.await(t, 1)
	carol.send(t, alice, "Bye "+cs.next())
	alice.await(t, 1)
	bob.send(t, carol, "Carol? Bob. "+cs.next())
	carol.await(t, 1)
	must(t, carol.c.Accept(bob.id()))
	carol.send(t, bob, "Yes? "+cs.next())
	bob.await(t, 1)
	// Bob links a laptop (linked devices): the link, the signed device
	// lists and the messages to and from both devices leave nothing
	// readable either.
	laptop := linkPerson(t, bob, srv.URL, trustRoot, opts)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		// The key directory must hold Bob's new list before alice takes
		// it; this server's heads are published by hand (its clock is
		// the test's).
		must(t, srv.KeyDir().Tick(context.Background()))
		if devs, err := alice.c.ContactDevices(bob.id()); err == nil && len(devs) == 2 {
			break // Bob's announcement reached alice
		}
		if time.Now().After(deadline) {
			t.Fatal("alice never learned of Bob's second device")
		}
	}
	alice.send(t, bob, "To both of Bob's devices "+cs.next())
	bob.await(t, 1)
	laptop.await(t, 1)
	laptop.send(t, alice, "From Bob's laptop "+cs.next())
	alice.await(t, 1)
	laptop.flush(t)
	// A group of the three, its name a canary: alice creates it, alice and
	// bob write to it.
	g, err := alice.c.CreateGroup("Group "+cs.next(), []string{bob.id(), carol.id()})
	must(t, err)
	for _, p := range []*person{bob, carol} {
		p.awaitGroup(t, g.ID)
	}
	must(t, errOf(alice.c.SendGroup(g.ID, "To the group: "+cs.next())))
	bob.await(t, 1)
	carol.await(t, 1)
	must(t, errOf(bob.c.SendGroup(g.ID, "Group reply "+cs.next())))
	alice.await(t, 1)
	carol.await(t, 1)
	gid, err := hex.DecodeString(g.ID)
	must(t, err)
	// A group of 21, sent to with one multi-recipient send (multi_test.go).
	bigID, bigQueued := bigGroup(t, srv, clock, trustRoot, opts, alice, &cs)
	bigRaw, err := hex.DecodeString(bigID)
	must(t, err)
	for _, p := range people {
		p.flush(t)
	}
	time.Sleep(200 * time.Millisecond) // receipts in flight
	for _, p := range people {
		p.flush(t)
	}
	carol.offline()
	alice.send(t, carol, "Are you there? "+cs.next())
	bob.send(t, carol, "Call me. "+cs.next())
	alice.flush(t)
	bob.flush(t)
	ids := []string{alice.id(), bob.id(), carol.id()}
	must(t, srv.KeyDir().Tick(context.Background())) // publish everyone's key

	// Seize everything now.
	sum := &summary{backend: b.name, accounts: len(ids) + bigGroupSize - 1, canaries: len(cs), groups: 2}
	tables := b.tables(t)
	files := b.files(t)
	var metricsOut bytes.Buffer
	reg.WriteTo(&metricsOut)
	logOut := logs.String()
	streams := capture.Streams()
	var convs []*Conversation
	for _, s := range streams {
		c, err := Decode(s)
		if err != nil {
			t.Fatalf("decoding the recording of %s: %v", s.Remote, err)
		}
		convs = append(convs, c)
	}

	where := map[string][]byte{"log": []byte(logOut), "/metrics": metricsOut.Bytes()}
	for name, data := range files {
		where["file "+name] = data
		sum.fileBytes += len(data)
	}
	for i, s := range streams {
		where[fmt.Sprintf("traffic %d from the client", i)] = s.FromClient
		where[fmt.Sprintf("traffic %d from the server", i)] = s.FromServer
		sum.trafficBytes += len(s.FromClient) + len(s.FromServer)
	}
	for _, tb := range tables {
		where["table "+tb.Name] = []byte(tableText(tb))
	}
	sum.logLines = strings.Count(logOut, "\n")
	sum.metricsBytes = metricsOut.Len()
	sum.files = len(files)
	sum.tables = len(tables)

	// No canary, anywhere; nor the group's ID, raw or in hex.
	for _, c := range append(slices.Clone([]string(cs)), string(gid), g.ID, string(bigRaw), bigID) {
		for w, data := range where {
			if bytes.Contains(data, []byte(c)) {
				t.Errorf("canary or group ID %q found in %s", c, w)
				sum.canariesFound++
			}
		}
	}
	// No account ID in logs or metrics, no address anywhere but the
	// traffic itself.
	for _, id := range ids {
		for _, w := range []string{"log", "/metrics"} {
			if bytes.Contains(where[w], []byte(id)) {
				t.Errorf("account %s named in the %s", id, w)
				sum.idsLogged++
			}
		}
	}
	for w, data := range where {
		if !strings.HasPrefix(w, "traffic") && bytes.Contains(data, []byte("127.0.0.1")) {
			t.Errorf("an IP address in %s", w)
			sum.addresses++
		}
	}
	var messages *Table
	for i := range tables {
		if tables[i].Name == "messages" {
			messages = &tables[i]
		}
	}
	if messages == nil {
		t.Fatal("no messages table seized")
	}
	for _, p := range slices.Concat(checkColumns(tables, allowed, sum), checkRows(tables, ids, sum), checkTraffic(convs, sum), checkMulti(convs, messages, bigQueued, sum)) {
		t.Error(p)
	}

	// After the TTL nothing of the conversation is left.
	for _, p := range people {
		p.offline()
	}
	clock.Advance(server.DefaultMessageTTL + time.Hour)
	must(t, srv.Sweep(context.Background()))
	for _, tb := range b.tables(t) {
		if tb.Name == "messages" && len(tb.Rows) > 0 {
			t.Errorf("%d messages left after the TTL", len(tb.Rows))
		}
	}
	stopServer() // closing the store ends with a TRUNCATE checkpoint
	left := b.files(t)
	fragments := ciphertextFragments(convs)
	for name, data := range left {
		for _, f := range fragments {
			if bytes.Contains(data, f) {
				t.Errorf("after the TTL, file %s still holds ciphertext the clients sent", name)
				sum.fragmentsLeft++
				break
			}
		}
		for _, c := range cs {
			if bytes.Contains(data, []byte(c)) {
				t.Errorf("after the TTL, file %s holds canary %s", name, c)
			}
		}
	}
	sum.fragments = len(fragments)
	// The log of the whole run, the sweep included.
	logOut = logs.String()
	for _, needle := range append(append(slices.Clone([]string(cs)), ids...), "127.0.0.1") {
		if strings.Contains(logOut, needle) {
			t.Errorf("the log names %s", needle)
		}
	}
	sum.logLines = strings.Count(logOut, "\n")
	t.Log("\n" + sum.String())
}

// awaitGroup waits until the person has joined group gid.
func (p *person) awaitGroup(t *testing.T, gid string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev := <-p.sub.Events():
			if g, ok := ev.(*client.GroupEvent); ok && g.Group == gid && g.Change.Joined {
				return
			}
		case <-timeout:
			t.Fatalf("%s: not in the group within 20 s", p.name)
		}
	}
}

func errOf[T any](_ T, err error) error { return err }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func readAllowList(t *testing.T) map[string]string {
	f, err := os.Open("columns.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := Columns(f)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkColumns: every column of every table is on the reviewed allow-list.
func checkColumns(tables []Table, allowed map[string]string, sum *summary) (problems []string) {
	for _, tb := range tables {
		for _, c := range tb.Columns {
			sum.columns++
			if _, ok := allowed[tb.Name+"."+c]; !ok {
				problems = append(problems, fmt.Sprintf("column %s.%s is not on the allow-list (audit/columns.txt): review what it reveals and add it there with the reason it is kept", tb.Name, c))
			}
		}
	}
	return problems
}

// checkRows: no row names two accounts; messages are sealed, padded and
// coarsely timed; dates are days.
func checkRows(tables []Table, ids []string, sum *summary) (problems []string) {
	for _, tb := range tables {
		for _, row := range tb.Rows {
			seen := map[string]bool{}
			for _, v := range row {
				s := valueBytes(v)
				for _, id := range ids {
					if bytes.Contains(s, []byte(id)) {
						seen[id] = true
					}
				}
			}
			if len(seen) > 1 {
				problems = append(problems, fmt.Sprintf("a row of %s links accounts %v", tb.Name, keys(seen)))
				sum.links++
			}
		}
		sum.rows += len(tb.Rows)
		switch tb.Name {
		case "messages":
			// No column names a sender (a sender column would not be on
			// the allow-list: identified sends were removed).
			body, received := tb.Column("body"), tb.Column("received")
			for _, row := range tb.Rows {
				sum.queued++
				n := len(valueBytes(row[body]))
				sum.sizes(n)
				if !wire.IsSealedSize(n) {
					problems = append(problems, fmt.Sprintf("a queued message of %d bytes, not a sealed size", n))
				}
				if r := asInt(row[received]); r%3600 != 0 {
					problems = append(problems, fmt.Sprintf("a receive time %d not on the hour", r))
				}
			}
		case "kt_epochs", "kt_values", "kt_pending", "kt_countersigs":
			for _, row := range tb.Rows {
				sum.ktRows++
				for _, v := range row {
					for _, id := range ids {
						if bytes.Contains(valueBytes(v), []byte(id)) {
							problems = append(problems, fmt.Sprintf("the key directory's %s names account %s", tb.Name, id))
						}
					}
				}
			}
		case "accounts", "codes":
			for _, col := range []string{"created", "sub_end", "expires"} {
				if i := tb.Column(col); i >= 0 {
					for _, row := range tb.Rows {
						if v := asInt(row[i]); v%86400 != 0 {
							problems = append(problems, fmt.Sprintf("%s.%s = %d is not a day", tb.Name, col, v))
						}
					}
				}
			}
		}
	}
	return problems
}

// checkTraffic: in the recording, every send and push is a sealed size,
// pushes carry no sender, sends with a delivery token come on connections
// that never authenticated, and clients never send identified.
func checkTraffic(convs []*Conversation, sum *summary) (problems []string) {
	for _, c := range convs {
		sum.connections++
		if c.Anonymous {
			sum.anonymous++
		}
		for _, r := range c.Requests {
			s := r.GetSend()
			if c.Anonymous && (r.GetAuthenticate() != nil || r.GetRegister() != nil) {
				problems = append(problems, "an anonymous connection authenticated")
			}
			if s == nil {
				continue
			}
			n := len(s.GetContent())
			sum.sizes(n)
			if !wire.IsSealedSize(n) {
				problems = append(problems, fmt.Sprintf("a send of %d bytes, not a sealed size", n))
			}
			switch {
			case len(s.GetDeliveryToken()) > 0:
				sum.tokenSends++
				if !c.Anonymous || c.Account != "" {
					problems = append(problems, fmt.Sprintf("a send with a delivery token on a connection of %q", c.Account))
				}
			case s.GetSealed():
				sum.requestSends++
				if c.Account == "" {
					problems = append(problems, "a sealed request on a connection that did not authenticate")
				}
			default:
				problems = append(problems, fmt.Sprintf("an identified send (the sender stored with it) from %s", c.Account))
			}
		}
		for _, e := range c.Pushes {
			sum.pushes++
			if u := e.ProtoReflect().GetUnknown(); len(u) > 0 {
				// Such as field 3, the sender of the removed identified sends.
				problems = append(problems, fmt.Sprintf("a push carries %d bytes of fields this version does not know (a sender?)", len(u)))
			}
			n := len(e.GetContent())
			sum.sizes(n)
			if !wire.IsSealedSize(n) {
				problems = append(problems, fmt.Sprintf("a push of %d bytes, not a sealed size", n))
			}
			if e.GetServerTime()%3600 != 0 {
				problems = append(problems, fmt.Sprintf("a push's server time %d is not on the hour", e.GetServerTime()))
			}
		}
	}
	return problems
}

// ciphertextFragments are 32-byte pieces from the middle of every
// envelope the clients sent.
func ciphertextFragments(convs []*Conversation) [][]byte {
	var out [][]byte
	for _, c := range convs {
		for _, r := range c.Requests {
			if b := r.GetSend().GetContent(); len(b) >= 256 {
				out = append(out, b[100:132])
			}
			if b := r.GetMultiSend().GetMessage(); len(b) >= 256 {
				out = append(out, b[len(b)-132:len(b)-100]) // in the shared ciphertext
			}
		}
	}
	return out
}

func valueBytes(v any) []byte {
	switch x := v.(type) {
	case []byte:
		return x
	case string:
		return []byte(x)
	case nil:
		return nil
	}
	return []byte(fmt.Sprint(v))
}

func asInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case int:
		return int64(x)
	}
	return -1
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func tableText(tb Table) string {
	var sb strings.Builder
	for _, row := range tb.Rows {
		for _, v := range row {
			sb.Write(valueBytes(v))
			sb.WriteByte(0)
		}
	}
	return sb.String()
}

// summary is what the audit prints.
type summary struct {
	backend                                 string
	accounts, canaries, canariesFound       int
	files, fileBytes, tables, columns, rows int
	queued, logLines, metricsBytes          int
	connections, anonymous, trafficBytes    int
	tokenSends, requestSends, pushes        int
	sizeCount                               map[int]int
	fragments, fragmentsLeft                int
	links, idsLogged, addresses             int
	groups                                  int
	ktRows                                  int
	multiSends, multiRecipients             int // MultiSend requests, the most accounts in one
	multiLinked                             int // queued copies sharing one send's shared part
}

func (s *summary) sizes(n int) {
	if s.sizeCount == nil {
		s.sizeCount = map[int]int{}
	}
	s.sizeCount[n]++
}

func (s *summary) String() string {
	var sizes []string
	var ns []int
	for n := range s.sizeCount {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	for _, n := range ns {
		sizes = append(sizes, fmt.Sprintf("%d B ×%d", n, s.sizeCount[n]))
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "seized-server audit, %s\n", s.backend)
	fmt.Fprintf(&sb, "  conversation: %d accounts, %d canaries in the texts, %d groups: one of three, one of %d sent to with sealed sender v2 (their names canaries, their IDs searched for too)\n", s.accounts, s.canaries, s.groups, bigGroupSize)
	fmt.Fprintf(&sb, "  multi-recipient sends: %d, the largest to %d accounts, all on anonymous connections, every copy a sealed size; queued copies linked by one send's shared part: %d (exactly those waiting for its offline recipients; gone after acknowledgement or the TTL)\n", s.multiSends, s.multiRecipients, s.multiLinked)
	fmt.Fprintf(&sb, "  seized: %d database files (%d bytes), %d tables (%d rows, %d columns, all on the allow-list), the debug log (%d lines), /metrics (%d bytes), %d connections recorded (%d bytes)\n",
		s.files, s.fileBytes, s.tables, s.rows, s.columns, s.logLines, s.metricsBytes, s.connections, s.trafficBytes)
	fmt.Fprintf(&sb, "  canaries found: %d\n", s.canariesFound)
	fmt.Fprintf(&sb, "  sends: %d with a delivery token on %d anonymous connections, %d sealed requests (first contacts), 0 identified; %d pushes, none naming a sender\n",
		s.tokenSends, s.anonymous, s.requestSends, s.pushes)
	fmt.Fprintf(&sb, "  queued when seized: %d messages, none naming a sender, receive times on the hour\n", s.queued)
	fmt.Fprintf(&sb, "  ciphertext sizes seen: %s\n", strings.Join(sizes, ", "))
	fmt.Fprintf(&sb, "  rows linking two accounts: %d; account IDs in logs or metrics: %d; IP addresses stored or logged: %d\n", s.links, s.idsLogged, s.addresses)
	fmt.Fprintf(&sb, "  key directory: %d rows (epochs, values, pending, countersignatures), none naming an account (entries are VRF outputs)\n", s.ktRows)
	fmt.Fprintf(&sb, "  after the TTL: 0 messages queued; %d of %d ciphertext fragments left in the database files\n", s.fragmentsLeft, s.fragments)
	return sb.String()
}

// linkPerson links a new device to p's account and starts it.
func linkPerson(t *testing.T, p *person, url string, root client.TrustRoot, opts client.Options) *person {
	t.Helper()
	codes, linked := make(chan string, 1), make(chan error, 1)
	go func() {
		_, err := p.c.LinkDevice(context.Background(), func(code string) { codes <- code })
		linked <- err
	}()
	var code string
	select {
	case code = <-codes:
	case err := <-linked:
		t.Fatalf("linking: %v", err)
	}
	c, err := client.Link(context.Background(), filepath.Join(t.TempDir(), p.name+"-laptop"), []byte("passphrase of the laptop"), url, root, code, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-linked; err != nil {
		t.Fatal(err)
	}
	return startPerson(t, p.name+"-laptop", c)
}
