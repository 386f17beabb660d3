package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/skymsg/sky/server/store/sqlite"
)

// TestAdminScripts runs testdata/admin/*.txtar with the built skyd on PATH
// and a sandboxed default data directory. Custom command:
//
//	skyd-data DIR   make DIR a server's data directory, as skyd serve's
//	                first start does
func TestAdminScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "admin"),
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", filepath.Dir(skydBin)+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("XDG_DATA_HOME", filepath.Join(env.WorkDir, "xdg"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"skyd-data": func(ts *testscript.TestScript, neg bool, args []string) {
				dir := ts.MkAbs(args[0])
				ts.Check(os.MkdirAll(dir, 0o700))
				st, err := sqlite.Open(context.Background(), filepath.Join(dir, "skyd.db"))
				ts.Check(err)
				ts.Check(st.Close())
			},
		},
	})
}
