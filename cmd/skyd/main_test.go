package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skymsg/sky/server/servertest"
)

// skydBin is the skyd binary built once for these tests.
var skydBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "skyd-bin-")
	if err != nil {
		panic(err)
	}
	skydBin = filepath.Join(dir, "skyd")
	if out, err := exec.Command("go", "build", "-o", skydBin, ".").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		panic("building skyd: " + err.Error() + "\n" + string(out))
	}
	// Every skyd the tests start without --data (those on PostgreSQL) keeps
	// its trust root and blobs under this run's own default data directory,
	// never the user's, so a file left there by an earlier run or by hand
	// cannot fail a first start.
	os.Setenv("XDG_DATA_HOME", filepath.Join(dir, "xdg-data"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running skyd subprocess.
type proc struct {
	cmd    *exec.Cmd
	lines  chan string // stdout lines
	stderr *strings.Builder
	waited chan error
}

// startSkyd runs `skyd serve args…` and waits until it reports serving.
func startSkyd(t testing.TB, args ...string) *proc {
	t.Helper()
	// The tests' load goes as sealed message requests
	// (servertest.SendRequest), freely.
	cmd := exec.Command(skydBin, append([]string{"serve", "--message-request-rate", "1000000000/1000000000",
		"--message-request-in-rate", "1000000000/1000000000"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, lines: make(chan string, 100), stderr: &strings.Builder{}, waited: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			p.lines <- s.Text()
		}
		close(p.lines)
	}()
	go func() { p.waited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill(); <-p.waited })
	return p
}

// until reads stdout lines until one matches re, returning its submatches.
func (p *proc) until(t testing.TB, re *regexp.Regexp) []string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("skyd exited before printing %v; stderr:\n%s", re, p.stderr)
			}
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-timeout:
			t.Fatalf("skyd did not print %v", re)
		}
	}
}

var (
	servingRE = regexp.MustCompile(`^skyd: serving (ws://\S+)`)
	metricsRE = regexp.MustCompile(`^skyd: metrics on (http://\S+)/metrics`)
	codeRE    = regexp.MustCompile(`^([2-9a-z]{5}-[2-9a-z]{5}-[2-9a-z]{5}-[2-9a-z]{5})$`)
)

// skydAdmin runs `skyd admin args…` and returns stdout, stderr and the exit
// code.
func skydAdmin(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(skydBin, append([]string{"admin"}, args...)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeZeroConfigAndAdmin(t *testing.T) {
	data := t.TempDir()
	p := startSkyd(t, "--data", data, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0")
	code := p.until(t, codeRE)[1]
	metricsURL := p.until(t, metricsRE)[1]
	url := p.until(t, servingRE)[1]

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := servertest.Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := c.Register(ctx, code)
	if err != nil {
		t.Fatalf("registering with the first-start code: %v", err)
	}
	c.Close()

	if st, body := httpGet(t, metricsURL+"/healthz"); st != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", st, body)
	}
	st, body := httpGet(t, metricsURL+"/metrics")
	if st != 200 || !strings.Contains(body, "skyd_registrations_total 1\n") {
		t.Fatalf("/metrics: %d\n%s", st, body)
	}
	if strings.Contains(body, dev.Account) || strings.Contains(body, "127.0.0.1") {
		t.Fatal("/metrics mentions an account ID or an address")
	}

	// Admin, while the server runs (SQLite in WAL mode allows it).
	out, _, rc := skydAdmin(t, "--data", data, "accounts", "list")
	if rc != 0 || !regexp.MustCompile(`^ID\tCREATED\tSUBSCRIPTION END\n`+dev.Account+`\t\d{4}-\d\d-\d\d\t\d{4}-\d\d-\d\dT[\d:]+Z\n$`).MatchString(out) {
		t.Fatalf("accounts list (exit %d):\n%q", rc, out)
	}
	out, _, rc = skydAdmin(t, "--data", data, "codes", "create", "--days", "30", "--count", "3")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); rc != 0 || len(lines) != 3 || !codeRE.MatchString(lines[0]) {
		t.Fatalf("codes create (exit %d): %q", rc, out)
	}
	newCode := strings.Split(out, "\n")[2]
	if out, _, rc = skydAdmin(t, "--data", data, "accounts", "extend", dev.Account, "--days", "10"); rc != 0 || !strings.HasPrefix(out, dev.Account+"\t") {
		t.Fatalf("extend (exit %d): %q", rc, out)
	}
	if out, _, rc = skydAdmin(t, "--data", data, "accounts", "revoke", dev.Account); rc != 0 {
		t.Fatalf("revoke (exit %d): %q", rc, out)
	}
	if out, _, _ = skydAdmin(t, "--data", data, "accounts", "list"); !strings.HasSuffix(out, "\trevoked\n") {
		t.Fatalf("list after revoke: %q", out)
	}
	c2, _ := servertest.Dial(ctx, url)
	if _, err := c2.Register(ctx, newCode); err != nil {
		t.Fatalf("registering with an admin-created code: %v", err)
	}
	c2.Close()

	// Errors: clear message on stderr, non-zero exit.
	for _, tc := range []struct {
		args []string
		rc   int
		msg  string
	}{
		{[]string{"--data", data, "accounts", "extend", "2345678923", "--days", "5"}, 1, "no account 2345678923"},
		{[]string{"--data", data, "accounts", "revoke", "nope"}, 1, "is not an account ID"},
		{[]string{"--data", data, "codes", "create"}, 2, "--days must be"},
		{[]string{"--data", data, "accounts", "frobnicate"}, 2, "unknown command"},
		{[]string{"--db", "mysql://x", "accounts", "list"}, 1, "postgres:// URL"},
	} {
		_, stderr, rc := skydAdmin(t, tc.args...)
		if rc != tc.rc || !strings.Contains(stderr, tc.msg) {
			t.Errorf("skyd admin %v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, rc, stderr, tc.rc, tc.msg)
		}
	}

	// Graceful shutdown on SIGTERM.
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.waited:
		if err != nil {
			t.Fatalf("skyd exited with %v after SIGTERM; stderr:\n%s", err, p.stderr)
		}
		p.waited <- nil
	case <-time.After(20 * time.Second):
		t.Fatal("skyd did not stop on SIGTERM")
	}

	// A second start prints no new code: the store is not empty.
	p2 := startSkyd(t, "--data", data, "--listen", "127.0.0.1:0", "--metrics-listen", "")
	if l := p2.until(t, regexp.MustCompile(`^skyd: `))[0]; strings.Contains(l, "first start") {
		t.Fatalf("second start printed %q", l)
	}
}

func TestServeRefusesPlainOffLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:7443", ":7443", "192.0.2.1:7443"} {
		cmd := exec.Command(skydBin, "serve", "--data", t.TempDir(), "--listen", addr)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "refusing plain WebSocket") {
			t.Errorf("--listen %s: err %v, output %q", addr, err, out)
		}
	}
	cmd := exec.Command(skydBin, "serve", "--data", t.TempDir(), "--listen", "0.0.0.0:0", "--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "loading the TLS certificate") {
		t.Errorf("missing certificate: err %v, output %q", err, out)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://user:secret@host/db":       "postgres://user:xxxxx@host/db",
		"postgres://user@host/db":              "postgres://user@host/db",
		"postgres://host/db?password=x@y":      "postgres://host/db?password=x@y",
		"postgres://u:p%40ss@host:5432/db?x=1": "postgres://u:xxxxx@host:5432/db?x=1",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
