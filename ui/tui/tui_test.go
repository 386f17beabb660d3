package tui

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/skymsg/sky/client"
)

var update = flag.Bool("update", false, "rewrite the golden screens in testdata")

// golden compares the screen with testdata/NAME.txt.
func golden(t *testing.T, hs *harness, name string) {
	t.Helper()
	got := hs.screen() + "\n"
	path := filepath.Join("testdata", name+".txt")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("screen %s differs from %s:\n%s\nwant:\n%s", name, path, got, want)
	}
	checkLayout(t, hs)
}

// checkLayout checks that the screen is exactly the window's size, each line
// as wide as the window by the renderer's count, and that the only escape
// sequences in it are the chat's own colours (SGR).
func checkLayout(t *testing.T, hs *harness) {
	t.Helper()
	content := hs.m.View().Content
	lines := strings.Split(content, "\n")
	if len(lines) != hs.m.height {
		t.Errorf("%d lines on a screen %d high", len(lines), hs.m.height)
	}
	for i, l := range lines {
		if w := hs.m.cells(l); w != hs.m.width {
			t.Errorf("line %d is %d cells wide on a screen %d wide: %q", i, w, hs.m.width, ansi.Strip(l))
		}
	}
	onlySGR(t, content)
}

// onlySGR fails unless every control sequence in s sets colours or
// attributes: nothing that moves the cursor, titles the window, writes the
// clipboard or queries the terminal.
func onlySGR(t *testing.T, s string) {
	t.Helper()
	var state byte
	for len(s) > 0 {
		seq, width, n, newState := ansi.DecodeSequence(s, state, nil)
		state = newState
		control := seq != "\n" && (seq[0] < 0x20 || seq[0] == 0x7f || strings.HasPrefix(seq, "\u0080") || seq[0] == 0xc2 && len(seq) > 1 && seq[1] < 0xa0)
		if control && (!strings.HasPrefix(seq, "\x1b[") || !strings.HasSuffix(seq, "m")) {
			t.Errorf("the screen holds the control sequence %q", seq)
		}
		_ = width
		s = s[n:]
	}
}

func TestGoldenScreens(t *testing.T) {
	t.Run("start", func(t *testing.T) {
		hs := newHarness(t, world(), Config{}, 80, 16)
		golden(t, hs, "start")
	})
	t.Run("open", func(t *testing.T) {
		hs := newHarness(t, world(), Config{Open: "alice"}, 80, 16)
		golden(t, hs, "open")
	})
	t.Run("request", func(t *testing.T) {
		hs := newHarness(t, world(), Config{Open: carol}, 80, 12)
		golden(t, hs, "request")
	})
	t.Run("group", func(t *testing.T) {
		hs := newHarness(t, world(), Config{Open: "team"}, 80, 12)
		golden(t, hs, "group")
	})
	t.Run("narrow", func(t *testing.T) {
		hs := newHarness(t, world(), Config{Open: "alice"}, 40, 12)
		golden(t, hs, "narrow")
	})
	t.Run("unicode", func(t *testing.T) {
		f := world()
		f.incoming(bob, bob, "日本語のテキストはセルを二つずつ使います、折り返しても表が崩れません", 5)
		f.incoming(bob, bob, "emoji 👍🏽🎉😀 and a flag 🇫🇷", 6)
		f.incoming(bob, bob, "עברית: שלום עולם · العربية: مرحبا بالعالم", 7)
		f.incoming(bob, bob, "combining: e\u0301 a\u0308 and zero width\u200bspace", 8)
		f.contacts[1].Name = "ボブ🎸"
		hs := newHarness(t, f, Config{Open: bob}, 72, 16)
		golden(t, hs, "unicode")
	})
	t.Run("hostile", func(t *testing.T) {
		f := world()
		f.incoming(bob, bob, hostile, 5)
		f.contacts[1].Name = "bob\x1b[2J\u202e"
		hs := newHarness(t, f, Config{Open: bob}, 80, 14)
		golden(t, hs, "hostile")
	})
}

// hostile is a message full of what would take over a terminal: a title
// (OSC 0), a clipboard write (OSC 52), clearing the screen and moving the
// cursor (CSI), an 8-bit CSI, a bell, a backspace and carriage return that
// would overwrite the line, a DCS, and a bidi override that would reverse
// the text after it.
const hostile = "A\x1b]0;pwned\x07B\x1b]52;c;ZWNobyBwd25lZA==\x07C\x1b[2J\x1b[1;1HD\x9b31m\u009b1mE\x08\x08\rF\x1bP+q\x1b\\G\u202eright-to-left\u202c end"

func TestHostileTextIsInert(t *testing.T) {
	f := world()
	f.incoming(bob, bob, hostile, 5)
	f.groups[0].Name = "team\x1b]0;title\x07"
	hs := newHarness(t, f, Config{Open: bob}, 180, 14)
	s := hs.screen()
	for _, want := range []string{`A\x1b]0;pwned\x07B\x1b]52;c;ZWNobyBwd25lZA==\x07C\x1b[2J\x1b[1;1HD\x9b31m\u009b1mE\x08\x08\rF\x1bP+q\x1b\G\u202eright-to-left\u202c end`, `team\x1b]0;title\x07`} {
		if !strings.Contains(s, want) {
			t.Errorf("the screen does not show %q inert:\n%s", want, s)
		}
	}
	checkLayout(t, hs)
}

func FuzzScreen(f *testing.F) {
	f.Add(hostile, "bob", 80, 14)
	f.Add("日本語👍🏽\u202e", "ボブ", 30, 6)
	f.Fuzz(func(t *testing.T, text, name string, w, h int) {
		w, h = 1+abs(w)%200, 1+abs(h)%80
		fb := world()
		fb.incoming(bob, bob, text, 5)
		fb.contacts[1].Name = name
		hs := newHarness(t, fb, Config{Open: bob}, w, h)
		content := hs.m.View().Content
		onlySGR(t, content)
		if w >= minWidth && h >= minHeight {
			checkLayout(t, hs)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func TestResize(t *testing.T) {
	hs := newHarness(t, world(), Config{Open: "alice"}, 80, 16)
	for _, size := range [][2]int{{120, 40}, {48, 10}, {47, 10}, {30, 8}, {24, 7}, {100, 20}} {
		hs.send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		checkLayout(t, hs)
		if !strings.Contains(hs.screen(), "you?") {
			t.Errorf("at %dx%d the newest message is not shown:\n%s", size[0], size[1], hs.screen())
		}
	}
	hs.send(tea.WindowSizeMsg{Width: 10, Height: 3})
	if !strings.Contains(hs.screen(), "too small") {
		t.Errorf("a tiny window does not say it is too small: %q", hs.screen())
	}
}

func TestOpenAndSend(t *testing.T) {
	for _, ref := range []string{"alice", "ALICE", alice} {
		hs := newHarness(t, world(), Config{Open: ref}, 80, 16)
		if hs.m.focus != focusComposer || hs.m.open == nil || hs.m.open.id != alice {
			t.Fatalf("Open %q: the composer has no focus on alice's chat", ref)
		}
		hs.typeLine("hello from the tui")
		if n := len(hs.f.sent); n != 1 || hs.f.sent[0].Conversation != alice || hs.f.sent[0].Text != "hello from the tui" {
			t.Fatalf("Open %q: sent %v", ref, hs.f.sent)
		}
		if !strings.Contains(hs.screen(), "me: hello from the tui  (pending)") {
			t.Errorf("the sent message is not shown:\n%s", hs.screen())
		}
		if hs.m.composer.Value() != "" {
			t.Errorf("the composer still holds %q", hs.m.composer.Value())
		}
	}
	hs := newHarness(t, world(), Config{Open: "team"}, 80, 16)
	hs.typeLine("//slash at the start")
	if len(hs.f.sent) != 1 || hs.f.sent[0].Group != grp || hs.f.sent[0].Text != "/slash at the start" {
		t.Fatalf("a group text was not sent as typed: %v", hs.f.sent)
	}
	hs = newHarness(t, world(), Config{Open: "nobody here"}, 80, 16)
	if hs.m.open != nil || !strings.Contains(hs.screen(), "is neither a Sky ID nor the name") {
		t.Errorf("an unknown name does not say so:\n%s", hs.screen())
	}
}

func TestNewConversationByID(t *testing.T) {
	const dave = "d23456789e"
	hs := newHarness(t, world(), Config{Open: dave}, 80, 16)
	if hs.m.open == nil || hs.m.open.id != dave || !strings.Contains(hs.screen(), dave) {
		t.Fatalf("a new Sky ID does not open a conversation:\n%s", hs.screen())
	}
	hs.typeLine("first words")
	if len(hs.f.sent) != 1 || hs.f.sent[0].Conversation != dave {
		t.Errorf("sent %v", hs.f.sent)
	}
}

func TestListKeys(t *testing.T) {
	hs := newHarness(t, world(), Config{}, 80, 16)
	// The list: request carol, contacts alice and bob, group team.
	hs.key(tea.KeyDown)
	hs.key(tea.KeyEnter)
	if hs.m.open == nil || hs.m.open.id != alice || hs.m.focus != focusComposer {
		t.Fatalf("down, enter did not open alice: %+v", hs.m.open)
	}
	if !slices.Contains(hs.f.read, hs.f.msgs[alice][2].LocalID) {
		t.Errorf("opening the conversation did not mark its messages read: %v", hs.f.read)
	}
	hs.key('n', tea.ModCtrl)
	if hs.m.open.id != bob {
		t.Errorf("ctrl+n opened %s, want bob", hs.m.open.id)
	}
	hs.key(tea.KeyEscape)
	hs.key(tea.KeyDown)
	hs.key(tea.KeyEnter)
	if hs.m.open.id != grp {
		t.Errorf("esc, down, enter opened %s, want the group", hs.m.open.id)
	}
	hs.send(tea.MouseClickMsg{X: 3, Y: 1, Button: tea.MouseLeft}) // the "Requests" title
	hs.send(tea.MouseClickMsg{X: 3, Y: 2, Button: tea.MouseLeft})
	if hs.m.open.id != carol {
		t.Errorf("a click on the request opened %s", hs.m.open.id)
	}
}

func TestEvents(t *testing.T) {
	f := world()
	hs := newHarness(t, f, Config{Open: "alice"}, 80, 16)
	// A message in another conversation counts as unread there.
	m := f.incoming(bob, bob, "are you there?", 6)
	hs.send(eventMsg{&client.MessageEvent{Message: m}})
	if !strings.Contains(hs.screen(), "bob (1)") {
		t.Errorf("bob's unread count is not shown:\n%s", hs.screen())
	}
	// One in the open conversation is shown and read.
	m = f.incoming(alice, alice, "live message", 7)
	hs.send(eventMsg{&client.MessageEvent{Message: m}})
	if !strings.Contains(hs.screen(), "21:37 alice: live message") || !slices.Contains(f.read, m.LocalID) {
		t.Errorf("a live message is not shown and read (read %v):\n%s", f.read, hs.screen())
	}
	// Receipts move a sent message's state forward, never back.
	hs.typeLine("did you get it?")
	id := f.sent[0].ID
	hs.send(eventMsg{&client.SentEvent{Conversation: alice, MessageID: id}})
	hs.send(eventMsg{&client.ReceiptEvent{Conversation: alice, MessageIDs: []string{id}, State: client.Delivered}})
	hs.send(eventMsg{&client.SentEvent{Conversation: alice, MessageID: id}})
	if !strings.Contains(hs.screen(), "did you get it?  (delivered)") {
		t.Errorf("the receipt is not shown:\n%s", hs.screen())
	}
	// A new request appears in the list.
	const erin = "e23456789f"
	f.requests = append(f.requests, client.Request{ID: erin, FirstAt: t0, Messages: 1})
	m = f.incoming(erin, erin, "I am new", 8)
	m.Request = true
	hs.send(eventMsg{&client.MessageEvent{Message: m}})
	if !strings.Contains(hs.screen(), "? "+erin+" (1)") {
		t.Errorf("the new request is not listed:\n%s", hs.screen())
	}
	// A key change is flagged in the list and in the header.
	f.changed[alice] = true
	hs.send(eventMsg{&client.IdentityChangedEvent{Peer: alice, Verified: true}})
	s := hs.screen()
	if !strings.Contains(s, "! alice") || !strings.Contains(s, "NEW SAFETY NUMBER") || !strings.Contains(s, "safety number changed") {
		t.Errorf("the key change is not shown:\n%s", s)
	}
	hs.send(eventMsg{&client.ConnectionEvent{Connected: true}})
	if !strings.Contains(hs.screen(), self+" · online") {
		t.Errorf("the connection is not shown:\n%s", hs.screen())
	}
}

func TestKeyChangedBeforeStart(t *testing.T) {
	f := world()
	f.changed[bob] = true
	hs := newHarness(t, f, Config{}, 80, 16)
	if !strings.Contains(hs.screen(), "! bob") {
		t.Errorf("bob's pending key change is not flagged in the list:\n%s", hs.screen())
	}
	hs.typeLine("") // nothing happens on an empty line
	hs.send(tea.KeyPressMsg{Code: 'n', Mod: tea.ModCtrl})
	hs.send(tea.KeyPressMsg{Code: 'n', Mod: tea.ModCtrl})
	if hs.m.open.id != bob || !strings.Contains(hs.screen(), "NEW SAFETY NUMBER") {
		t.Errorf("bob's chat does not say his key changed:\n%s", hs.screen())
	}
}

func TestScroll(t *testing.T) {
	f := world()
	for i := range 40 {
		f.incoming(bob, bob, fmt.Sprintf("line %d", i), 5)
	}
	hs := newHarness(t, f, Config{Open: bob}, 80, 16)
	if !strings.Contains(hs.screen(), "line 39") || strings.Contains(hs.screen(), "line 29") {
		t.Fatalf("the newest messages are not the ones shown:\n%s", hs.screen())
	}
	hs.key(tea.KeyPgUp)
	hs.send(tea.MouseWheelMsg{X: 40, Y: 5, Button: tea.MouseWheelUp})
	s := hs.screen()
	if strings.Contains(s, "line 39") || !strings.Contains(s, "more lines below") {
		t.Errorf("PgUp and the wheel do not scroll back:\n%s", s)
	}
	for range 20 {
		hs.key(tea.KeyPgUp)
	}
	if !strings.Contains(hs.screen(), "line 0") {
		t.Errorf("scrolling back does not stop at the first message:\n%s", hs.screen())
	}
	checkLayout(t, hs)
	for range 20 {
		hs.key(tea.KeyPgDown)
	}
	if !strings.Contains(hs.screen(), "line 39") {
		t.Errorf("PgDn does not come back to the newest:\n%s", hs.screen())
	}
}

func TestExpiry(t *testing.T) {
	f := world()
	now := t0.Add(10 * time.Minute)
	m := f.incoming(alice, alice, "this disappears", 9)
	f.msgs[alice][len(f.msgs[alice])-1].ExpiresAt = now.Add(time.Second)
	hs := newHarness(t, f, Config{Open: "alice"}, 80, 16)
	if !strings.Contains(hs.screen(), "this disappears ⏱") {
		t.Fatalf("the disappearing message is not shown with its mark:\n%s", hs.screen())
	}
	hs.m.now = func() time.Time { return now.Add(2 * time.Second) }
	hs.send(expiryMsg{gen: hs.m.tickGen})
	if strings.Contains(hs.screen(), "this disappears") {
		t.Errorf("message %d is still shown after its timer ran out:\n%s", m.LocalID, hs.screen())
	}
}

// fakeRun records the commands run and answers with out.
type fakeRun struct {
	calls [][]string
	out   string
	err   error
}

func (r *fakeRun) run(args []string) (string, error) {
	r.calls = append(r.calls, args)
	return r.out, r.err
}

func TestCommands(t *testing.T) {
	for _, tc := range []struct {
		open, line string
		want       []string // the sky command run; nil: none
		says       string   // what the chat shows
	}{
		{"alice", "/verify", []string{"verify", alice}, ""},
		{"alice", "/verify 12345 67890", []string{"verify", alice, "--confirm", "12345", "67890"}, ""},
		{"alice", "/verify --keep-old", []string{"verify", alice, "--keep-old"}, ""},
		{"alice", "/timer 5m", []string{"timer", alice, "5m"}, ""},
		{"team", "/timer 1h", []string{"group", "timer", grp, "1h"}, ""},
		{"team", "/group add " + carol, []string{"group", "add", grp, carol}, ""},
		{"team", "/group rename new name", []string{"group", "rename", grp, "new", "name"}, ""},
		{"alice", "/group create friends " + bob, []string{"group", "create", "friends", bob}, ""},
		{"alice", "/group list", []string{"group", "list"}, ""},
		{carol, "/accept", []string{"requests", "accept", carol}, ""},
		{carol, "/block", []string{"requests", "reject", carol}, ""},
		{"alice", "/accept", nil, "/accept works on a message request"},
		{"team", "/verify", nil, "/verify compares a person's safety number"},
		{"alice", "/nope", nil, "unknown command /nope"},
		{"alice", "/help", nil, "/timer [5m|1h|2d|off]"},
		{"alice", "/backup /tmp/a.skybackup", []string{"backup", "create", "/tmp/a.skybackup"}, ""},
		{"team", "/backup", []string{"backup", "create"}, ""},
		{"alice", "/backup a b", nil, "/backup takes one file name"},
	} {
		r := &fakeRun{out: "the command's answer"}
		hs := newHarness(t, world(), Config{Open: tc.open, Run: r.run}, 100, 30)
		hs.typeLine(tc.line)
		switch {
		case tc.want == nil && len(r.calls) > 0:
			t.Errorf("%s in %s ran %v", tc.line, tc.open, r.calls)
		case tc.want != nil && (len(r.calls) != 1 || !slices.Equal(r.calls[0], tc.want)):
			t.Errorf("%s in %s ran %v, want %v", tc.line, tc.open, r.calls, tc.want)
		case tc.want != nil && tc.line != "/block" && !strings.Contains(hs.screen(), "the command's answer"):
			t.Errorf("%s in %s: the command's output is not shown:\n%s", tc.line, tc.open, hs.screen())
		case tc.says != "" && !strings.Contains(hs.screen(), tc.says):
			t.Errorf("%s in %s does not say %q:\n%s", tc.line, tc.open, tc.says, hs.screen())
		}
		if len(hs.f.sent) != 0 {
			t.Errorf("%s was sent as a text", tc.line)
		}
	}
}

func TestComposerWithNothingOpen(t *testing.T) {
	r := &fakeRun{out: "friends 0123 (2 members)"}
	hs := newHarness(t, world(), Config{Run: r.run}, 100, 30)
	hs.key(tea.KeyTab)
	hs.typeLine("a text to nobody")
	hs.typeLine("/verify")
	if len(hs.f.sent) != 0 || len(r.calls) != 0 || !strings.Contains(hs.screen(), "open a conversation first") {
		t.Fatalf("with nothing open a text or /verify did something (sent %v, ran %v):\n%s", hs.f.sent, r.calls, hs.screen())
	}
	hs.typeLine("/group list")
	if len(r.calls) != 1 || !slices.Equal(r.calls[0], []string{"group", "list"}) || !strings.Contains(hs.screen(), "friends 0123") {
		t.Errorf("/group list with nothing open ran %v:\n%s", r.calls, hs.screen())
	}
	hs.typeLine("/open bob")
	hs.typeLine("now to bob")
	if len(hs.f.sent) != 1 || hs.f.sent[0].Conversation != bob {
		t.Errorf("/open bob, then a text, sent %v", hs.f.sent)
	}
}

func TestAcceptUpdatesTheList(t *testing.T) {
	f := world()
	r := &fakeRun{}
	r2 := func(args []string) (string, error) { // accepting makes carol a contact
		f.requests = nil
		f.contacts = append(f.contacts, client.Contact{ID: carol})
		f.msgs[carol][0].Request = false
		return r.run(args)
	}
	hs := newHarness(t, f, Config{Open: carol, Run: r2}, 80, 16)
	if !strings.Contains(hs.screen(), "MESSAGE REQUEST") {
		t.Fatalf("the request is not shown as one:\n%s", hs.screen())
	}
	hs.typeLine("/accept")
	s := hs.screen()
	if strings.Contains(s, "MESSAGE REQUEST") || strings.Contains(s, "Requests") || hs.m.open.kind != kindContact {
		t.Errorf("after /accept the request is still shown:\n%s", s)
	}
	hs.typeLine("welcome")
	if len(f.sent) != 1 || f.sent[0].Conversation != carol {
		t.Errorf("sent %v", f.sent)
	}
}
