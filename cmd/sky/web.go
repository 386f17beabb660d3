package main

// sky web: the daemon plus the web UI (package ui/web), served on a
// loopback address to the user's own browser.

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/client/store"
	"github.com/skymsg/sky/ui/web"
)

// defaultIdleLock is how long the page may be idle before sky web locks,
// until the user picks another time in the page's settings.
const defaultIdleLock = 15 * time.Minute

func cmdWeb(e *env, args []string) error {
	fs := flag.NewFlagSet("web", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "")
	open := fs.Bool("open", false, "")
	socket := fs.String("socket", "", "")
	if _, err := parse(fs, args, 0, 0, "[--listen 127.0.0.1:PORT] [--open] [--socket PATH]"); err != nil {
		return err
	}
	if *socket == "" {
		*socket = defaultSocket(e.home)
	}
	ln, err := web.Listen(*listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	h, err := e.newHost(*socket)
	if err != nil {
		return err
	}
	defer h.close()
	go h.serve()
	srv, err := web.New(ln, web.Options{Host: webHost{h}, IdleLock: e.idleLock(), OnIdleLockChange: e.saveIdleLock, Version: version()})
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, srv.URL())
	fmt.Fprintf(e.stderr, "sky: the web UI is at the address above (keep it to yourself: it lets a browser in); it starts locked; "+
		"while it runs, sky's everyday commands go through it (%s)\n", *socket)
	if *open {
		if err := openBrowser(e.home, srv.URL()); err != nil {
			fmt.Fprintf(e.stderr, "sky: could not start a browser (%v); open the address above yourself\n", err)
		}
	}
	return srv.Serve(e.ctx, ln)
}

// webHost is the host as the web UI sees it.
type webHost struct{ h *host }

func (w webHost) HasAccount() bool {
	ok, err := store.Exists(storeDir(w.h.e.home))
	return ok || err != nil // unreadable: let the unlock say why
}
func (w webHost) Unlock(p []byte) (*client.Client, error) { return w.h.unlock(p) }
func (w webHost) Lock()                                   { w.h.lock() }
func (w webHost) Client() *client.Client                  { return w.h.client() }

// idleLock is the idle time the user chose in the page (HOME/web-lock-after).
func (e *env) idleLock() time.Duration {
	b, err := os.ReadFile(filepath.Join(e.home, "web-lock-after"))
	if err != nil {
		return defaultIdleLock
	}
	sec, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || sec < 0 || sec > 7*24*3600 {
		return defaultIdleLock
	}
	return time.Duration(sec) * time.Second
}

func (e *env) saveIdleLock(d time.Duration) {
	os.WriteFile(filepath.Join(e.home, "web-lock-after"), []byte(strconv.Itoa(int(d/time.Second))+"\n"), 0o600)
}

// openBrowser starts the desktop browser on url. The URL carries the secret,
// and a command line is visible to every local user, so the browser is
// given a file only this user can read that leads to the URL.
func openBrowser(home, url string) error {
	f := filepath.Join(home, "web-open.html")
	page := `<!doctype html><meta charset="utf-8"><meta name="referrer" content="no-referrer"><meta http-equiv="refresh" content="0;url=` +
		url + `"><title>Sky</title><p>Opening Sky…</p>`
	if err := os.WriteFile(f, []byte(page), 0o600); err != nil {
		return err
	}
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", f)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", f)
	default:
		cmd = exec.Command("xdg-open", f)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() {
		cmd.Wait()
		time.Sleep(30 * time.Second) // the browser has read it by then
		os.Remove(f)
	}()
	return nil
}

// version is the module's version as built, for the page's about section.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "development build"
}
