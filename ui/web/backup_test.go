package web

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupAPI: the settings' backup calls over HTTP, as the page makes
// them: a backup by hand answers the recovery key once (the second does
// not), a relative path is refused, the schedule is set and turned off,
// and the status lists the file.
func TestBackupAPI(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	dir, _ := w.register()
	s, host := serveWeb(t, dir, Options{})
	if _, err := host.Unlock([]byte(pass)); err != nil {
		t.Fatal(err)
	}
	ck := login(t, s)
	hdr := map[string]string{"Content-Type": "application/json", "Origin": s.base()}
	call := func(method, path, body string, want int) map[string]any {
		t.Helper()
		resp, b := do(t, method, s.base()+path, "", hdr, ck, body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: status %d (%s), want %d", method, path, resp.StatusCode, b, want)
		}
		var out map[string]any
		json.Unmarshal([]byte(b), &out)
		return out
	}
	files := t.TempDir()
	file := filepath.Join(files, "a.skybackup")
	r := call("POST", "/api/backup/create", `{"path":"`+file+`"}`, 200)
	code, _ := r["recoveryKey"].(string)
	if len(strings.ReplaceAll(code, " ", "")) != 52 {
		t.Fatalf("first backup answered %v: want the new recovery key", r)
	}
	if b, err := os.ReadFile(file); err != nil || !strings.HasPrefix(string(b), "SKYBACK\n") {
		t.Fatalf("no backup file written (%v)", err)
	}
	r = call("POST", "/api/backup/create", `{"path":"`+filepath.Join(files, "b.skybackup")+`"}`, 200)
	if r["recoveryKey"] != "" {
		t.Fatalf("a second backup showed the key again: %v", r)
	}
	call("POST", "/api/backup/create", `{"path":"relative.skybackup"}`, 400)
	call("POST", "/api/backup/create", `{"path":"`+file+`"}`, 400) // never over a file
	call("POST", "/api/backup/schedule", `{"path":"`+files+`","seconds":86400,"n":3}`, 200)
	st := call("GET", "/api/backup", "", 200)
	if st["keySet"] != true || st["dir"] != files || st["every"] != float64(86400) || len(st["files"].([]any)) != 2 {
		t.Fatalf("status %v", st)
	}
	call("POST", "/api/backup/schedule", `{"path":"`+files+`","seconds":60,"n":3}`, 400)
	call("POST", "/api/backup/schedule", `{"clear":true}`, 200)
	if st := call("GET", "/api/backup", "", 200); st["every"] != float64(0) {
		t.Fatalf("schedule still on: %v", st)
	}
}
