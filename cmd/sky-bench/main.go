// Command sky-bench is the operator's load generator for skyd: it simulates
// many clients over real WebSocket connections and reports delivery
// throughput, send-to-deliver latency percentiles, the idle connections the
// server holds and what they cost it in memory.
//
// Run it as its own process against a running skyd, so that the server is
// measured alone. See `sky-bench -h` and the README's "Measure it" section.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/skymsg/sky/cmd/sky-bench/loadgen"
	"github.com/skymsg/sky/wire"
)

const usage = `sky-bench measures a running skyd with simulated clients.

usage: sky-bench [flags]

It needs accounts: 2 per pair plus one per idle connection. It keeps them in
--accounts and registers the missing ones with activation codes from --codes
(a file, one per line) or by running --admin (a "skyd admin" command line).
Registering many accounts needs skyd's registration limit raised, e.g.
"skyd serve --register-rate 1000/1000"; a closed-loop run needs the send
and request limits raised too (--send-rate, --request-rate), or many pairs.
Its senders send as Sky's clients do: sealed, on anonymous connections, with
each receiver's delivery token (which the receiver sets first); so skyd's
sealed limits must be raised as well: "skyd serve --sealed-rate 1000000/1000000
--recipient-rate 1000000/1000000 --queue-cap 100000000 --anonymous-lifetime 1h"
(one anonymous connection may fill a tenth of a queue, and lives 30 s by
default).

Each pair is a sender sending --size-byte messages to its receiver, which
acknowledges them. --rate 0 sends as fast as the server answers (--window
unanswered sends per sender); otherwise the total rate is fixed and latency
counts from when each message was due. Idle connections authenticate and
then say nothing; the server's memory per idle connection is read from its
/metrics before and after opening them.

Examples:
  sky-bench --admin "skyd admin --data /tmp/skyd" --pairs 64 --duration 20s
  sky-bench --pairs 64 --rate 10000 --duration 30s
  sky-bench --pairs 0 --idle 100000 --sources 127.0.0.2-127.0.0.9

flags:
`

type options struct {
	url, metricsURL     string
	accounts, codes     string
	admin               string
	pairs, idle, window int
	size                int
	rate                float64
	duration, warmup    time.Duration
	settle, settleMax   time.Duration
	sources, ca         string
	concurrency         int
	jsonOut             bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "sky-bench:", err)
		}
		os.Exit(2)
	}
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("sky-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	var o options
	fs.StringVar(&o.url, "url", "ws://127.0.0.1:7443/v1/websocket", "skyd's WebSocket URL")
	fs.StringVar(&o.metricsURL, "metrics-url", "http://127.0.0.1:7444/metrics", "skyd's metrics URL, for its memory and batch figures (empty: skip)")
	fs.StringVar(&o.accounts, "accounts", "sky-bench-accounts.jsonl", "file keeping the benchmark's accounts and their keys between runs")
	fs.StringVar(&o.codes, "codes", "", "file of activation codes (one per line) for registering missing accounts")
	fs.StringVar(&o.admin, "admin", "", `command creating activation codes, e.g. "skyd admin --data DIR" ("codes create ..." is appended)`)
	fs.IntVar(&o.pairs, "pairs", 64, "sender–receiver pairs")
	fs.Float64Var(&o.rate, "rate", 0, "total messages per second (0: closed loop, as fast as the server answers)")
	fs.IntVar(&o.window, "window", 64, "most unanswered sends per sender (the server allows 256)")
	fs.IntVar(&o.size, "size", 1024, "message content bytes: a sealed size (1024, 4096, 16384, 65536 or 262144)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to measure")
	fs.DurationVar(&o.warmup, "warmup", 5*time.Second, "load before measuring (lets the server's heap and page cache reach their working size)")
	fs.IntVar(&o.idle, "idle", 0, "idle authenticated connections to open and hold")
	fs.DurationVar(&o.settle, "settle", 5*time.Second, "wait at least this long after opening idle connections before reading the server's memory")
	fs.DurationVar(&o.settleMax, "settle-max", 5*time.Minute, "wait at most this long for two of the server's garbage collections after opening idle connections (the memory figure then excludes the garbage of opening them)")
	fs.StringVar(&o.sources, "sources", "", "local addresses to connect from, a range (127.0.0.2-127.0.0.9) or a list; one address allows about 28,000 connections (default: spread over 127.0.0.x when connecting to loopback with many connections)")
	fs.StringVar(&o.ca, "ca", "", "PEM file of the certificate authority (or self-signed certificate) to trust for a wss:// URL")
	fs.IntVar(&o.concurrency, "concurrency", 64, "connections opened (or accounts registered) at once during setup")
	fs.BoolVar(&o.jsonOut, "json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments %q (see -h)", fs.Args())
	case o.pairs < 0 || o.idle < 0 || o.pairs+o.idle == 0:
		return nil, errors.New("nothing to do: give --pairs and/or --idle")
	case o.pairs > 0 && !wire.IsSealedSize(o.size):
		return nil, fmt.Errorf("--size must be a sealed size, one of %v bytes (every message is sealed and padded to one)", wire.SealedSizes)
	case o.rate < 0 || o.window < 1 || o.duration <= 0 || o.warmup < 0:
		return nil, errors.New("--rate must be positive or 0, --window at least 1, --duration positive")
	case o.codes != "" && o.admin != "":
		return nil, errors.New("give --codes or --admin, not both")
	}
	return &o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "sky-bench: "+format+"\n", a...) }
	d, err := dialer(o)
	if err != nil {
		return err
	}
	devs, err := accounts(ctx, o, d, logf)
	if err != nil {
		return err
	}
	rep := &report{Options: reportOptions{Pairs: o.pairs, Rate: o.rate, Window: o.window, Size: o.size, Duration: o.duration.String(), Idle: o.idle}}
	scrape := func() loadgen.Metrics {
		if o.metricsURL == "" {
			return nil
		}
		m, err := loadgen.Scrape(ctx, o.metricsURL)
		if err != nil {
			logf("%v (server memory is not reported)", err)
			return nil
		}
		return m
	}
	start := scrape()
	rep.Server.Start = serverFigures(start)
	var idleAtEnd func() int

	if o.idle > 0 {
		logf("opening %d idle connections", o.idle)
		var opened atomic.Int64
		stopProgress := progress(logf, "idle connections open", &opened, o.idle)
		idle, err := loadgen.OpenIdle(ctx, d, devs[2*o.pairs:], o.concurrency, func() { opened.Add(1) })
		stopProgress()
		if err != nil {
			return fmt.Errorf("opening idle connections: %w", err)
		}
		defer idle.Close()
		logf("%d idle connections open; letting the server settle", idle.Len())
		after, err := settle(ctx, o, scrape, logf)
		if err != nil {
			return err
		}
		rep.Server.Idle = serverFigures(after)
		rep.Idle.Held = idle.Alive()
		rep.Idle.Opened = idle.Len()
		if start != nil && after != nil {
			rep.Idle.BytesPerConn = (after["process_resident_memory_bytes"] - start["process_resident_memory_bytes"]) / float64(idle.Len())
			rep.Idle.HeapBytesPerConn = (after["go_memory_total_bytes"] - start["go_memory_total_bytes"]) / float64(idle.Len())
			rep.Idle.LiveBytesPerConn = (after["go_heap_objects_bytes"] - start["go_heap_objects_bytes"]) / float64(idle.Len())
		}
		idleAtEnd = idle.Alive
	}

	if o.pairs > 0 {
		mode := "closed loop"
		if o.rate > 0 {
			mode = fmt.Sprintf("%.0f msgs/s", o.rate)
		}
		logf("running %d pairs (%s, %d-byte messages) for %v after %v warmup", o.pairs, mode, o.size, o.duration, o.warmup)
		before := scrape()
		res, err := loadgen.RunLoad(ctx, d, loadgen.LoadConfig{
			Senders: devs[:o.pairs], Receivers: devs[o.pairs : 2*o.pairs],
			Rate: o.rate, Window: o.window, Size: o.size, Warmup: o.warmup, Duration: o.duration,
		})
		if err != nil {
			return err
		}
		rep.Load = loadFigures(res)
		if after := scrape(); before != nil && after != nil {
			delta := after.Sub(before)
			rep.Server.Load = serverFigures(after)
			rep.Load.ServerBatchOps = delta["skyd_batch_operations_sum"] / max(1, delta["skyd_batch_operations_count"])
			rep.Load.ServerCommitP50ms = 1000 * delta.Quantile("skyd_batch_commit_seconds", 0.5)
			rep.Load.ServerCommitP99ms = 1000 * delta.Quantile("skyd_batch_commit_seconds", 0.99)
			rep.Load.ServerPushP99ms = 1000 * delta.Quantile("skyd_send_to_push_seconds", 0.99)
		}
	}
	if idleAtEnd != nil {
		rep.Idle.HeldAtEnd = idleAtEnd()
	}
	rep.finish()
	if o.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.print(stdout)
	return nil
}

// settle waits until the server's memory reflects what the idle
// connections cost, not the garbage of opening them: at least --settle, and
// two of the server's garbage collections (Go forces one every two minutes
// when nothing else triggers it) plus a few seconds for freed memory to be
// returned to the system. It returns the server's metrics then (nil
// without metrics).
func settle(ctx context.Context, o *options, scrape func() loadgen.Metrics, logf func(string, ...any)) (loadgen.Metrics, error) {
	wait := func(d time.Duration) error {
		select {
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	m := scrape()
	if m == nil {
		return nil, wait(o.settle)
	}
	cycles := m["go_gc_cycles"]
	if err := wait(o.settle); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(o.settleMax)
	logged := false
	for {
		m = scrape()
		if m == nil || m["go_gc_cycles"] >= cycles+2 || time.Now().After(deadline) {
			break
		}
		if !logged {
			logf("waiting for two of the server's garbage collections (at most %v)", o.settleMax)
			logged = true
		}
		if err := wait(time.Second); err != nil {
			return nil, err
		}
	}
	if err := wait(5 * time.Second); err != nil {
		return nil, err
	}
	return scrape(), nil
}

// dialer builds the connection dialer, spreading many loopback connections
// over several source addresses unless told otherwise.
func dialer(o *options) (*loadgen.Dialer, error) {
	u, err := url.Parse(o.url)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") {
		return nil, fmt.Errorf("--url %q: give a ws:// or wss:// URL", o.url)
	}
	src := o.sources
	total := 2*o.pairs + o.idle
	if src == "" && total > 20000 {
		if ip := net.ParseIP(u.Hostname()); (ip != nil && ip.IsLoopback()) || u.Hostname() == "localhost" {
			last := 2 + total/20000
			src = fmt.Sprintf("127.0.0.2-127.0.0.%d", min(last, 254))
		}
	}
	ips, err := loadgen.ParseSources(src)
	if err != nil {
		return nil, err
	}
	d := &loadgen.Dialer{URL: o.url, Sources: ips}
	if o.ca != "" {
		pem, err := os.ReadFile(o.ca)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s holds no PEM certificate", o.ca)
		}
		d.TLS = &tls.Config{RootCAs: pool}
	}
	return d, nil
}

// accounts returns the devices the run needs, registering what is missing.
func accounts(ctx context.Context, o *options, d *loadgen.Dialer, logf func(string, ...any)) ([]loadgen.Device, error) {
	need := 2*o.pairs + o.idle
	devs, err := loadgen.LoadDevices(o.accounts)
	if err != nil {
		return nil, err
	}
	if len(devs) >= need {
		return devs[:need], nil
	}
	missing := need - len(devs)
	var src loadgen.CodeSource
	switch {
	case o.codes != "":
		src = loadgen.CodesFromFile(o.codes)
	case o.admin != "":
		src = loadgen.CodesFromCommand(strings.Fields(o.admin))
	default:
		return nil, fmt.Errorf("%s holds %d accounts and this run needs %d: give --codes FILE or --admin \"skyd admin --data DIR\" to register %d more", o.accounts, len(devs), need, missing)
	}
	codes, err := src(ctx, missing)
	if err != nil {
		return nil, err
	}
	logf("registering %d accounts (kept in %s)", missing, o.accounts)
	var done atomic.Int64
	stop := progress(logf, "accounts registered", &done, missing)
	fresh, err := loadgen.RegisterDevices(ctx, d, codes, o.concurrency, func() { done.Add(1) })
	stop()
	if werr := loadgen.AppendDevices(o.accounts, fresh); werr != nil {
		return nil, fmt.Errorf("saving accounts: %w", werr)
	}
	if err != nil {
		return nil, err
	}
	return append(devs, fresh...), nil
}

// progress logs n of total every few seconds until the returned func is
// called.
func progress(logf func(string, ...any), what string, n *atomic.Int64, total int) func() {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				logf("%d of %d %s", n.Load(), total, what)
			}
		}
	}()
	return func() { close(done) }
}
