package main

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/skymsg/sky/server"
)

// tuningFlags are the operator's knobs for limits, memory and profiling.
type tuningFlags struct {
	sendRate, requestRate, registerRate rateFlag
	sealedRate, recipientRate           rateFlag
	msgRequestRate, msgRequestInRate    rateFlag
	anonymousLifetime                   time.Duration
	unauthPerAddress                    int
	frameMemory                         string
	pprof                               bool
	gcPercent                           int
	memoryLimit                         string
}

func (t *tuningFlags) register(fs *flag.FlagSet) {
	fs.Var(&t.sendRate, "send-rate", "messages per second per account, and burst, as RATE/BURST (default 100/1000)")
	fs.Var(&t.requestRate, "request-rate", "requests per second per connection, and burst, as RATE/BURST (default 200/400)")
	fs.Var(&t.registerRate, "register-rate", "registrations per second on this server, and burst, as RATE/BURST (default 5/20)")
	fs.Var(&t.sealedRate, "sealed-rate", "sealed sends per anonymous connection, and burst, as RATE/BURST (default 50/200); one connection may also fill at most a tenth of a recipient's queue (--queue-cap)")
	fs.Var(&t.recipientRate, "recipient-rate", "sealed sends with a delivery token per recipient account, and burst, as RATE/BURST (default 100/1000)")
	fs.Var(&t.msgRequestRate, "message-request-rate", "sealed message requests (first contacts) per sender account, and burst, as RATE/BURST (default 0.1/50)")
	fs.Var(&t.msgRequestInRate, "message-request-in-rate", "sealed message requests per recipient account, from all senders together, and burst, as RATE/BURST (default 1/60 per second, burst a tenth of --queue-cap)")
	fs.DurationVar(&t.anonymousLifetime, "anonymous-lifetime", 0, "the longest an anonymous connection stays open (default 30s; load tests sending for longer raise it)")
	fs.IntVar(&t.unauthPerAddress, "max-unauthenticated-per-address", server.DefaultMaxUnauthenticatedPerAddress,
		"most connections from one source address (IPv6: one /64) that have not authenticated, anonymous ones included; 0: no limit (behind a reverse proxy every connection has the proxy's address). Counted in memory only, never logged")
	fs.StringVar(&t.frameMemory, "frame-memory", "128MiB", "memory, server-wide, for frames being received beyond each connection's 16 KiB buffer (anonymous connections: a quarter); a frame that does not fit is refused with \"try again later\"")
	fs.BoolVar(&t.pprof, "pprof", false, "serve Go profiles at /debug/pprof/ on the metrics address (keep it on loopback)")
	fs.IntVar(&t.gcPercent, "gc-percent", defaultGCPercent, "Go garbage collector target (GOGC): heap growth, in percent of live data, between collections; lower saves memory, higher saves CPU")
	fs.StringVar(&t.memoryLimit, "memory-limit", "", "soft limit of the Go runtime's memory, e.g. 4GiB (GOMEMLIMIT): the collector works harder near it (default: none, or $GOMEMLIMIT)")
}

// defaultGCPercent is skyd's garbage collector setting when neither
// --gc-percent nor GOGC says otherwise. Go's default (100) lets the heap
// grow to twice the live data; skyd's live data is small (an idle
// connection holds about a kilobyte) and its garbage is mostly message
// bodies passing through, so a higher target costs little memory and saves
// collector CPU under load.
const defaultGCPercent = 200

// apply sets the limits on cfg and the collector settings on the runtime.
func (t *tuningFlags) apply(cfg *server.Config, fs *flag.FlagSet) error {
	cfg.SendRate, cfg.ConnRate, cfg.RegisterRate = server.Rate(t.sendRate), server.Rate(t.requestRate), server.Rate(t.registerRate)
	cfg.SealedRate, cfg.RecipientRate, cfg.AnonymousLifetime = server.Rate(t.sealedRate), server.Rate(t.recipientRate), t.anonymousLifetime
	cfg.RequestRate, cfg.RequestInRate = server.Rate(t.msgRequestRate), server.Rate(t.msgRequestInRate)
	switch {
	case t.unauthPerAddress < 0:
		return fmt.Errorf("--max-unauthenticated-per-address %d: give a count, or 0 for no limit", t.unauthPerAddress)
	case t.unauthPerAddress == 0:
		cfg.MaxUnauthenticatedPerAddress = -1
	default:
		cfg.MaxUnauthenticatedPerAddress = t.unauthPerAddress
	}
	fm, err := parseBytes(t.frameMemory)
	if err != nil || fm < 1<<20 {
		return fmt.Errorf("--frame-memory %q: give a size of at least 1MiB, e.g. 128MiB", t.frameMemory)
	}
	cfg.FrameMemory = fm
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["gc-percent"] || os.Getenv("GOGC") == "" {
		debug.SetGCPercent(t.gcPercent)
	}
	if t.memoryLimit != "" {
		n, err := parseBytes(t.memoryLimit)
		if err != nil {
			return fmt.Errorf("--memory-limit: %w", err)
		}
		debug.SetMemoryLimit(n)
	}
	return nil
}

// handle adds the profiling endpoints to the metrics server's mux.
func (t *tuningFlags) handle(mux *http.ServeMux) {
	if !t.pprof {
		return
	}
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

// rateFlag is a server.Rate written RATE/BURST; unset, it is the zero Rate,
// which the server replaces with its default.
type rateFlag server.Rate

func (r *rateFlag) String() string {
	if r == nil || r.Per == 0 {
		return ""
	}
	return strconv.FormatFloat(r.Per, 'g', -1, 64) + "/" + strconv.Itoa(r.Burst)
}

func (r *rateFlag) Set(s string) error {
	per, burst, ok := strings.Cut(s, "/")
	p, err1 := strconv.ParseFloat(per, 64)
	b, err2 := strconv.Atoi(burst)
	if !ok || err1 != nil || err2 != nil || p <= 0 || b < 1 {
		return errors.New("want RATE/BURST: events per second (a positive number) and the burst allowed (a positive integer), e.g. 100/1000")
	}
	r.Per, r.Burst = p, b
	return nil
}

// parseBytes parses a size such as 512MiB, 4GiB, 2GB or a plain number of
// bytes.
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size: write e.g. 4GiB or 512MiB", s)
	}
	return n * mult, nil
}
