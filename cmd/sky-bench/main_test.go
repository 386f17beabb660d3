package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/metrics"
	"github.com/skymsg/sky/server/servertest"
)

// TestRun runs sky-bench against a real skyd (with its /metrics) and checks
// the JSON report: registration from a codes file, a short load, idle
// connections held and the server's memory read.
func TestRun(t *testing.T) {
	lots := server.Rate{Per: 1e9, Burst: 1 << 30}
	reg := metrics.NewRegistry()
	srv := servertest.Start(t, server.Config{Metrics: reg, SendRate: lots, ConnRate: lots, RegisterRate: lots,
		SealedRate: lots, RecipientRate: lots, QueueCap: 1 << 30, AnonymousLifetime: time.Hour})
	ms := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reg.WriteTo(w) }))
	defer ms.Close()
	codes, err := server.CreateCodes(context.Background(), srv.Store, 7, time.Hour, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	codeFile := filepath.Join(dir, "codes")
	os.WriteFile(codeFile, []byte(strings.Join(codes, "\n")), 0o600)
	args := []string{"--url", srv.URL, "--metrics-url", ms.URL, "--accounts", filepath.Join(dir, "accounts"), "--codes", codeFile,
		"--pairs", "2", "--idle", "3", "--duration", "500ms", "--warmup", "100ms", "--settle", "10ms", "--settle-max", "10ms", "--json"}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	var rep report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v in %s", err, out.String())
	}
	if rep.Load == nil || rep.Load.Delivered == 0 || rep.Load.MsgsPerSec <= 0 || rep.Load.Errors != 0 || rep.Load.Samples == 0 || rep.Load.P99ms < rep.Load.P50ms {
		t.Fatalf("load report %+v", rep.Load)
	}
	if rep.Idle.Opened != 3 || rep.Idle.Held != 3 || rep.Idle.HeldAtEnd != 3 || rep.Server.Idle == nil || rep.Server.Idle.RSS <= 0 {
		t.Fatalf("idle report %+v, server %+v", rep.Idle, rep.Server.Idle)
	}
	// A second run reuses the accounts and needs no codes.
	args = []string{"--url", srv.URL, "--metrics-url", "", "--accounts", filepath.Join(dir, "accounts"), "--pairs", "1", "--duration", "200ms", "--warmup", "0s"}
	out.Reset()
	if err := run(context.Background(), args, &out, &errOut); err != nil || !strings.Contains(out.String(), "msgs/s delivered") {
		t.Fatalf("second run: %v\n%s", err, out.String())
	}
}

func TestFlags(t *testing.T) {
	for _, bad := range [][]string{
		{"--pairs", "0", "--idle", "0"},
		{"--size", "3"},
		{"--codes", "a", "--admin", "b"},
		{"--rate", "-1"},
		{"extra"},
	} {
		if _, err := parseFlags(bad, &bytes.Buffer{}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	o, err := parseFlags([]string{"--pairs", "8", "--rate", "1000"}, &bytes.Buffer{})
	if err != nil || o.pairs != 8 || o.rate != 1000 || o.size != 1024 {
		t.Fatalf("%+v %v", o, err)
	}
	// Without codes, a run that needs accounts says how to get them.
	err = run(context.Background(), []string{"--accounts", filepath.Join(t.TempDir(), "none"), "--pairs", "1"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "--admin") {
		t.Fatalf("no accounts and no codes: %v", err)
	}
}
