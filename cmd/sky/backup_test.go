package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestBackupArgs(t *testing.T) {
	wd, _ := os.Getwd()
	for _, c := range []struct{ in, want []string }{
		{[]string{"backup", "create", "a.sky"}, []string{"backup", "create", filepath.Join(wd, "a.sky")}},
		{[]string{"backup", "create", "--json", "/x/a.sky", "--disappearing"}, []string{"backup", "create", "--json", "/x/a.sky", "--disappearing"}},
		{[]string{"backup", "create", "--out", "a.sky"}, []string{"backup", "create", "--out", "a.sky"}},
		{[]string{"backup", "--out=a.sky"}, []string{"backup", "--out=a.sky"}},
		{[]string{"backup", "schedule", "--dir", "b", "--every", "1d"}, []string{"backup", "schedule", "--dir", filepath.Join(wd, "b"), "--every", "1d"}},
		{[]string{"backup", "schedule", "--dir=b"}, []string{"backup", "schedule", "--dir=" + filepath.Join(wd, "b")}},
		{[]string{"backup", "status", "--json"}, []string{"backup", "status", "--json"}},
		{[]string{"send", "x", "y"}, []string{"send", "x", "y"}},
	} {
		if got := backupArgs(c.in); !slices.Equal(got, c.want) {
			t.Errorf("backupArgs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	got := backupArgs([]string{"backup", "create", "--new-key"})
	if len(got) != 4 || !filepath.IsAbs(got[3]) || !strings.HasPrefix(filepath.Base(got[3]), "sky-backup-") {
		t.Errorf("backup create without a file: %q, want a default absolute name", got)
	}
}
