package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/skymsg/sky/client/store/keyfile"
	"github.com/skymsg/sky/internal/testenv"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/blob/diskblob"
	"github.com/skymsg/sky/server/store/sqlite"
)

// cheapKDF keeps the scripts' hundreds of unlocks fast. Stores made with it
// are easy to crack; only this test binary can make them.
var cheapKDF = keyfile.Params{Time: 1, MemoryKiB: 64, Threads: 1}

// TestMain makes the test binary double as the sky command, so the
// scripts run sky as its own process, exactly as a user would: "sky" with
// the cheap KDF installed through the test-only testKDF, "sky-as-built"
// exactly as the built program (keyfile.Default).
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"sky": func() {
			testKDF = cheapKDF
			testMinBackoff, testWaitingBackoff = testBackoffFromEnv()
			if d, err := time.ParseDuration(os.Getenv("SKY_TEST_CONNECT_TIMEOUT")); err == nil {
				connectTimeout = d
			}
			os.Exit(sky())
		},
		"sky-as-built": func() { os.Exit(sky()) },
	})
}

// testBackoffFromEnv reads SKY_TEST_BACKOFF=MIN,CAP (durations): the
// first wait between reconnection attempts and the cap while the user
// watches, shortened for a test of a server outage. Only this test binary
// reads it.
func testBackoffFromEnv() (lo, hi time.Duration) {
	v, ok := os.LookupEnv("SKY_TEST_BACKOFF")
	if !ok {
		return 0, 0
	}
	a, b, _ := strings.Cut(v, ",")
	lo, err1 := time.ParseDuration(a)
	hi, err2 := time.ParseDuration(b)
	if err1 != nil || err2 != nil {
		fmt.Fprintf(os.Stderr, "SKY_TEST_BACKOFF=%q: want MIN,CAP such as 20ms,300ms\n", v)
		os.Exit(2)
	}
	return lo, hi
}

// skydForScript is a real skyd for one script, on a loopback port.
type skydForScript struct {
	st   *sqlite.Store
	path string
	addr string
	root string // the operator's trust root, as skyd prints it
	srv  *server.Server
	stop func()
}

func (s *skydForScript) start() error {
	st, err := sqlite.Open(context.Background(), s.path)
	if err != nil {
		return err
	}
	root, err := server.TrustRoot(context.Background(), st)
	if errors.Is(err, server.ErrNoServerCertificate) {
		tr := sealed.GenerateTrustRoot()
		if _, err = server.Certify(context.Background(), st, tr, 0); err == nil {
			root = tr.Public()
		}
	}
	if err != nil {
		st.Close()
		return err
	}
	s.root = base64.StdEncoding.EncodeToString(root.Bytes())
	addr := s.addr
	if addr == "" { // kept through restarts: below the ephemeral ports
		if addr, err = testenv.FreeLoopbackAddr(); err != nil {
			st.Close()
			return err
		}
	}
	var ln net.Listener
	for range 100 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		st.Close()
		return err
	}
	bs, err := diskblob.Open(filepath.Join(filepath.Dir(s.path), "skyd-blobs"))
	if err != nil {
		ln.Close()
		st.Close()
		return err
	}
	srv, err := server.New(context.Background(), server.Config{Store: st, Blobs: server.BlobConfig{Store: bs}})
	if err != nil {
		ln.Close()
		st.Close()
		return err
	}
	hs := srv.HTTPServer()
	go hs.Serve(ln)
	s.addr, s.srv, s.st = ln.Addr().String(), srv, st
	s.stop = func() {
		hs.Close()
		srv.Close()
		st.Close()
		s.srv = nil
	}
	return nil
}

func (s *skydForScript) code() (string, error) {
	codes, err := server.CreateCodes(context.Background(), s.st, 1, 90*24*time.Hour, time.Now().Add(time.Hour))
	if err != nil {
		return "", err
	}
	return codes[0], nil
}

// TestScripts runs the scripts in testdata/script against the built sky
// and a real skyd. Custom commands:
//
//	skyd-code VAR       a fresh activation code in $VAR
//	skyd-stop           stop the server (clients go offline)
//	skyd-start          start it again on the same port and data
//	skyd-revoke ID      the operator revokes account ID
//	capture VAR         $VAR = the last command's stdout, trimmed
//	kdf-default HOME    the store in HOME has keyfile.Default's Argon2id cost
//	attachment-id VAR   $VAR = the first attachment ID in the last stdout
//	recovery-key VAR    $VAR = the recovery key the last stdout shows
//	corrupt FILE N      flip a bit of byte N of FILE (negative: from its end), or with
//	                    "truncate" as N+1st argument cut FILE to N bytes
//	rpc SOCKET LINE...  send JSON-RPC lines to a daemon; print each answer
//	                    line and any notifications that follow within 2 s
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(env *testscript.Env) error {
			s := &skydForScript{path: filepath.Join(env.WorkDir, "skyd.db")}
			if err := s.start(); err != nil {
				return err
			}
			env.Values["skyd"] = s
			env.Values["linking"] = &linkingSlot{}
			env.Defer(func() {
				if s.srv != nil {
					s.stop()
				}
			})
			env.Setenv("SKYD", "ws://"+s.addr)
			env.Setenv("SKYD_ROOT", s.root)
			env.Setenv("SKY_PASSPHRASE", "correct horse battery staple")
			testdata, _ := filepath.Abs("testdata")
			env.Setenv("TESTDATA", testdata)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"skyd-code": func(ts *testscript.TestScript, neg bool, args []string) {
				c, err := ts.Value("skyd").(*skydForScript).code()
				ts.Check(err)
				ts.Setenv(args[0], c)
			},
			"skyd-stop": func(ts *testscript.TestScript, neg bool, args []string) {
				ts.Value("skyd").(*skydForScript).stop()
			},
			"skyd-start": func(ts *testscript.TestScript, neg bool, args []string) {
				ts.Check(ts.Value("skyd").(*skydForScript).start())
			},
			"capture": func(ts *testscript.TestScript, neg bool, args []string) {
				ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile("stdout")))
			},
			"skyd-revoke": func(ts *testscript.TestScript, neg bool, args []string) {
				ts.Check(ts.Value("skyd").(*skydForScript).st.Revoke(context.Background(), args[0]))
			},
			"attachment-id": attachmentIDCmd,
			"capture-id": func(ts *testscript.TestScript, _ bool, args []string) {
				n := 0 // capture-id VAR [N]: the N-th word (from 0) of the last stdout
				if len(args) > 1 {
					n, _ = strconv.Atoi(args[1])
				}
				ts.Setenv(args[0], strings.Fields(ts.ReadFile("stdout"))[n])
			},
			"recovery-key": func(ts *testscript.TestScript, _ bool, args []string) {
				m := regexp.MustCompile(`Recovery key: ([A-Z2-7 ]+)`).FindStringSubmatch(ts.ReadFile("stdout"))
				if m == nil {
					ts.Fatalf("no recovery key in the last stdout")
				}
				ts.Setenv(args[0], strings.TrimSpace(m[1]))
			},
			"corrupt":           corruptCmd,
			"rpc":               rpcCmd,
			"kdf-default":       kdfDefaultCmd,
			"tmux":              tmuxCmd,
			"devices-link":      devicesLinkCmd,
			"devices-link-wait": devicesLinkWaitCmd,
		},
	})
}

func corruptCmd(ts *testscript.TestScript, _ bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: corrupt FILE N [truncate]")
	}
	path := ts.MkAbs(args[0])
	b, err := os.ReadFile(path)
	ts.Check(err)
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	if n < 0 {
		n += len(b)
	}
	if len(args) == 3 && args[2] == "truncate" {
		b = b[:n]
	} else {
		b[n] ^= 1
	}
	ts.Check(os.WriteFile(path, b, 0o600))
}

func kdfDefaultCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: kdf-default HOME")
	}
	b, err := os.ReadFile(filepath.Join(storeDir(ts.MkAbs(args[0])), "sky.key"))
	ts.Check(err)
	kf, err := keyfile.Parse(b)
	ts.Check(err)
	switch def := kf.Params == keyfile.Default; {
	case def && neg:
		ts.Fatalf("the store in %s has the default cost %v", args[0], kf.Params)
	case !def && !neg:
		ts.Fatalf("the store in %s has the cost %v, not the default %v", args[0], kf.Params, keyfile.Default)
	}
}

func rpcCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: rpc SOCKET LINE...")
	}
	var nc net.Conn
	var err error
	for range 100 { // the daemon may still be starting
		if nc, err = net.Dial("unix", args[0]); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Check(err)
	defer nc.Close()
	r := bufio.NewReader(nc)
	for _, line := range args[1:] {
		fmt.Fprintln(nc, line)
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := r.ReadString('\n')
		ts.Check(err)
		fmt.Fprint(ts.Stdout(), resp)
	}
	for {
		nc.SetReadDeadline(time.Now().Add(2 * time.Second))
		more, err := r.ReadString('\n')
		if err != nil {
			return
		}
		fmt.Fprint(ts.Stdout(), more)
	}
}
