package main

import (
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/skymsg/sky/client"
)

var attachmentIDRE = regexp.MustCompile(`(?:"id":"|\[attachment )([0-9]+\.[0-9]+)`)

// attachmentIDCmd sets $VAR to the first attachment ID the last command
// printed (in --json or plain output).
func attachmentIDCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: attachment-id VAR")
	}
	m := attachmentIDRE.FindStringSubmatch(ts.ReadFile("stdout"))
	if m == nil {
		ts.Fatalf("no attachment ID in stdout")
	}
	ts.Setenv(args[0], m[1])
}

func TestAbsFileArgs(t *testing.T) {
	t.Chdir(t.TempDir())
	wd := abs(".")
	for _, tc := range []struct{ in, want []string }{
		{[]string{"send", "x", "--file", "a.txt", "hi"}, []string{"send", "x", "--file", wd + "/a.txt", "hi"}},
		{[]string{"send", "x", "-file=b", "-"}, []string{"send", "x", "-file=" + wd + "/b", "-"}},
		{[]string{"save", "4.1"}, []string{"save", "4.1", "--out", wd}},
		{[]string{"save", "4.1", "--out", "o"}, []string{"save", "4.1", "--out", wd + "/o"}},
		{[]string{"send", "x", "/abs/path"}, []string{"send", "x", "/abs/path"}},
	} {
		if got := absFileArgs(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("absFileArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestAttachmentsText: receive and history name each attachment with its
// ID, and a recording with its playing time.
func TestAttachmentsText(t *testing.T) {
	m := client.Message{Attachments: []client.Attachment{
		{ID: "3.1", Name: "note.ogg", Type: "audio/ogg", Size: 4096, Duration: 61 * time.Second},
		{ID: "3.2", Name: "a.pdf", Type: "application/pdf", Size: 5},
	}}
	want := " [attachment 3.1: note.ogg, audio/ogg, 4.0 KiB, 1:01] [attachment 3.2: a.pdf, application/pdf, 5 bytes]"
	if got := attachmentsText(m); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
