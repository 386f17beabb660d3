package client

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/group"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/protocol/curve"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/server/store/sqlite"
)

// The sender's CPU, apart from the server's. BenchmarkGroupFanout runs
// skyd in the benchmark's own process, so its CPU figure is the sender's
// and the server's together. BenchmarkGroupSenderCPU runs skyd in a child
// process (this test binary again, SKY_BENCH_SKYD set), so the benchmark
// process's CPU time is the sender's alone: queueing the text, the outbox
// reading and encrypting its items, the sealed envelopes or the v2
// message, the requests, and dequeuing — everything until the server has
// accepted every copy. The child's CPU (from /proc) is the server's, and
// is reported per delivered copy.

// benchSkydChild is skyd for BenchmarkGroupSenderCPU: it prints its URL,
// its trust root and SKY_BENCH_CODES activation codes, then serves until
// its stdin closes.
func benchSkydChild() {
	fail := func(err error) {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	n, _ := strconv.Atoi(os.Getenv("SKY_BENCH_CODES"))
	dir, err := os.MkdirTemp("", "sky-bench-skyd")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "skyd.db"))
	if err != nil {
		fail(err)
	}
	root := sealed.GenerateTrustRoot()
	if _, err := server.Certify(ctx, st, root, 0); err != nil {
		fail(err)
	}
	var codes []string
	for len(codes) < n {
		c, err := server.CreateCodes(ctx, st, min(n-len(codes), 10000), 90*24*time.Hour, time.Now().Add(24*time.Hour))
		if err != nil {
			fail(err)
		}
		codes = append(codes, c...)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	lots := server.Rate{Per: 100000, Burst: 100000}
	srv, err := servertest.StartOn(ln, server.Config{Store: st, RegisterRate: lots, RecipientRate: lots})
	if err != nil {
		fail(err)
	}
	fmt.Println("url", "ws://"+ln.Addr().String())
	fmt.Println("root", hex.EncodeToString(root.Public().Bytes()))
	fmt.Println("codes", strings.Join(codes, " "))
	bufio.NewReader(os.Stdin).ReadString('\n') // until the benchmark ends
	srv.Stop()
	st.Close()
}

// remoteSkyd is a skyd in a child process.
type remoteSkyd struct {
	url   string
	root  TrustRoot
	codes []string
	cmd   *exec.Cmd
}

func startRemoteSkyd(b *testing.B, codes int) *remoteSkyd {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SKY_BENCH_SKYD=1", fmt.Sprint("SKY_BENCH_CODES=", codes))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Close(); cmd.Wait() })
	r := &remoteSkyd{cmd: cmd}
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, 1<<24)
	for r.codes == nil && sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		switch k {
		case "url":
			r.url = v
		case "root":
			raw, err := hex.DecodeString(v)
			if err != nil {
				b.Fatal(err)
			}
			pk, err := curve.ParsePublicKey(raw)
			if err != nil {
				b.Fatal(err)
			}
			r.root = core.NewTrustRoot(pk)
		case "codes":
			r.codes = strings.Fields(v)
		default:
			b.Fatalf("skyd child: %s", sc.Text())
		}
	}
	if r.codes == nil {
		b.Fatalf("skyd child ended: %v", sc.Err())
	}
	return r
}

func (r *remoteSkyd) code() string {
	c := r.codes[0]
	r.codes = r.codes[1:]
	return c
}

// cpu is the child's CPU time so far (user and system, from /proc).
func (r *remoteSkyd) cpu(b *testing.B) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", r.cmd.Process.Pid))
	if err != nil {
		b.Skip("no /proc: the server's CPU cannot be read")
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64) // fields 14 and 15 of stat
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// BenchmarkGroupSenderCPU is the sender's CPU time per 100-byte group text
// to groups of 10, 100 and 1,000 members registered on a skyd in another
// process (sender-cpu-ms/msg), end to end until the server accepted every
// copy, for one envelope per member ("v1", Options.SingleSends) and for
// sealed sender v2 ("v2"); also the server's CPU per delivered copy
// (server-cpu-us/copy), the bytes uploaded (B/msg) and the wall time.
func BenchmarkGroupSenderCPU(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		for _, mode := range []string{"v1", "v2"} {
			b.Run(fmt.Sprintf("members=%d/%s", n, mode), func(b *testing.B) { benchSenderCPU(b, n, mode == "v1") })
		}
	}
}

func benchSenderCPU(b *testing.B, n int, single bool) {
	r := startRemoteSkyd(b, n)
	opts := testOptions(nil)
	opts.SingleSends = single
	alice, err := Register(ctxT(b), filepath.Join(b.TempDir(), "alice"), pass, r.url, r.root, r.code(), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer alice.Close()
	few := testOptions(nil)
	few.PreKeyLow, few.PreKeyTarget = 1, 2
	var ids []string
	keys := map[string][2][]byte{} // identity key, access key
	for range n - 1 {
		c, err := Register(ctxT(b), b.TempDir()+"/m", pass, r.url, r.root, r.code(), few)
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, c.ID())
		keys[c.ID()] = [2][]byte{c.core.Local.KeyPair.Public.Bytes(), c.core.AccessKey()}
		c.Close()
	}
	fanoutGroup(b, alice, ids, keys)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- alice.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if err := alice.WaitConnected(ctxT(b)); err != nil {
		b.Fatal(err)
	}
	text := string(make([]byte, 100))
	b.ResetTimer()
	up, cpu, srv := core.UploadedBytes(), cpuTime(), r.cpu(b)
	for b.Loop() {
		if _, err := alice.SendGroup(fanoutID.String(), text); err != nil {
			b.Fatal(err)
		}
		if err := alice.Flush(ctxT(b)); err != nil {
			b.Fatal(err)
		}
	}
	copies := float64(b.N * (n - 1))
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e6, "sender-cpu-ms/msg")
	b.ReportMetric(float64(r.cpu(b)-srv)/copies/1e3, "server-cpu-us/copy")
	b.ReportMetric(float64(core.UploadedBytes()-up)/float64(b.N), "B/msg")
}

var fanoutID = content.GroupID{'f', 'a', 'n', 'o', 'u', 't'}

// fanoutGroup gives u a group of u and ids, as after its first messages:
// every member's identity key pinned, access key known and sender key
// handed out.
func fanoutGroup(b *testing.B, u *Client, ids []string, keys map[string][2][]byte) {
	b.Helper()
	ch, err := group.Create(fanoutID, "fanout", u.ID(), ids, 0)
	if err != nil {
		b.Fatal(err)
	}
	err = u.core.Update(func(tx *store.Tx) error {
		r, _, err := group.Apply(nil, ch, u.ID())
		if err == nil {
			err = group.SaveRecord(tx, r)
		}
		for m, k := range keys {
			if err == nil {
				err = tx.PutPeerIdentity(store.Address{Name: m, Device: 1}, store.PeerIdentity{Key: k[0], FirstSeen: time.Now()})
			}
			if err == nil {
				err = core.KeepSharedAccess(tx, m, k[1])
			}
		}
		if err == nil {
			_, _, err = u.groups.OwnDistribution(tx, fanoutID)
		}
		if err == nil {
			err = group.SaveSent(tx, fanoutID, ids)
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkGroupDelivery is the end-to-end time of one 100-byte group text
// until every member has it: the members are online (each a client
// running against the same skyd in this process) and a text counts once
// each member's client has decrypted, stored and announced it. ns/op is
// that time per text; "v1" sends one envelope per member, "v2" one sealed
// sender v2 message. Members' delivery receipts flow back meanwhile, as in
// real use (receipts are on in groups of up to 100).
func BenchmarkGroupDelivery(b *testing.B) {
	for _, n := range []int{10, 100} {
		for _, mode := range []string{"v1", "v2"} {
			b.Run(fmt.Sprintf("members=%d/%s", n, mode), func(b *testing.B) { benchDelivery(b, n, mode == "v1") })
		}
	}
}

func benchDelivery(b *testing.B, n int, single bool) {
	lots := server.Rate{Per: 100000, Burst: 100000}
	s := startSkydConfig(b, server.Config{RegisterRate: lots, RecipientRate: lots})
	opts := testOptions(nil)
	opts.SingleSends = single
	alice := newUser(b, s, opts)
	few := testOptions(nil)
	few.PreKeyLow, few.PreKeyTarget = 1, 2
	var ids []string
	got := make(chan string, 4*n)
	for range n - 1 {
		u := newUser(b, s, few)
		ids = append(ids, u.c.ID())
		u.send(alice.c.ID(), "hi") // alice gets their tokens; they keep her as a contact
		go func() {
			for ev := range u.sub.Events() {
				if m, ok := ev.(*MessageEvent); ok && m.Message.Group != "" && m.Message.Kind == KindText {
					got <- m.Message.Text
				}
			}
		}()
	}
	texts(b, alice, n-1)
	g, err := alice.c.CreateGroup("delivery", ids)
	if err != nil {
		b.Fatal(err)
	}
	alice.flush()
	warm := func(text string) { // every member holds alice's sender key
		if _, err := alice.c.SendGroup(g.ID, text); err != nil {
			b.Fatal(err)
		}
		for range n - 1 {
			select {
			case <-got:
			case <-time.After(30 * time.Second):
				b.Fatal("a member never got the text")
			}
		}
	}
	warm("warm up")
	text := string(make([]byte, 100))
	b.ResetTimer()
	for b.Loop() {
		warm(text)
	}
}

// BenchmarkGroupChangeSenderCPU is the admin's CPU time and upload per
// change (a rename) to a signed group of 100 and 1,000 members registered
// on a skyd in another process, until the server accepted every copy:
// "v1" one 1:1 envelope per member (Options.SingleSends), "v2" one shared
// sender-key update to the members holding the admin's sender key.
func BenchmarkGroupChangeSenderCPU(b *testing.B) {
	for _, n := range []int{100, 1000} {
		for _, mode := range []string{"v1", "v2"} {
			b.Run(fmt.Sprintf("members=%d/%s", n, mode), func(b *testing.B) { benchChangeCPU(b, n, mode == "v1") })
		}
	}
}

func benchChangeCPU(b *testing.B, n int, single bool) {
	r := startRemoteSkyd(b, n)
	opts := testOptions(nil)
	opts.SingleSends = single
	alice, err := Register(ctxT(b), filepath.Join(b.TempDir(), "alice"), pass, r.url, r.root, r.code(), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer alice.Close()
	few := testOptions(nil)
	few.PreKeyLow, few.PreKeyTarget = 1, 2
	var ids []string
	access := map[string][]byte{}
	for range n - 1 {
		c, err := Register(ctxT(b), b.TempDir()+"/m", pass, r.url, r.root, r.code(), few)
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, c.ID())
		access[c.ID()] = c.core.AccessKey()
		c.Close()
	}
	err = alice.core.Update(func(tx *store.Tx) error {
		for m, k := range access {
			if err := core.KeepSharedAccess(tx, m, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- alice.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if err := alice.WaitConnected(ctxT(b)); err != nil {
		b.Fatal(err)
	}
	g, err := alice.CreateGroup("change", ids) // sessions, the group and alice's sender key for everyone
	if err != nil {
		b.Fatal(err)
	}
	flush := func() {
		fctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if err := alice.Flush(fctx); err != nil {
			b.Fatal(err)
		}
	}
	flush()
	b.ResetTimer()
	up, cpu := core.UploadedBytes(), cpuTime()
	i := 0
	for b.Loop() {
		i++
		if _, err := alice.RenameGroup(g.ID, fmt.Sprint("change ", i)); err != nil {
			b.Fatal(err)
		}
		flush()
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e6, "sender-cpu-ms/change")
	b.ReportMetric(float64(core.UploadedBytes()-up)/float64(b.N), "B/change")
}
