package tui

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skymsg/sky/client"
)

// TestActionCommands: /reply, /react, /edit and /unsend run sky's
// commands on the message N from the end (or by ID prefix), and refuse
// what cannot be.
func TestActionCommands(t *testing.T) {
	f := world()
	last, first := f.msgs[alice][2].ID, f.msgs[alice][0].ID
	for _, tc := range []struct {
		open, line string
		want       []string
		says       string
	}{
		{"alice", "/react 1 👍", []string{"react", alice, last, "👍"}, ""},
		{"alice", "/react 1", []string{"react", alice, last}, ""},
		{"alice", "/reply 3 sure, see you", []string{"reply", alice, first, "sure, see you"}, ""},
		{"alice", "/edit 2 hello again", []string{"edit", alice, f.msgs[alice][1].ID, "hello again"}, ""},
		{"alice", "/unsend " + f.msgs[alice][1].ID, []string{"unsend", alice, f.msgs[alice][1].ID}, ""},
		{"team", "/react 1 🎉", []string{"react", grp, f.msgs[grp][0].ID, "🎉"}, ""},
		{"alice", "/react 9 👍", nil, "there is no message 9 here"},
		{"alice", "/react ffff", nil, "names 0 messages"}, {"alice", "/react 0000", nil, "names 3 messages"},
		{"alice", "/reply 1", nil, "/reply N TEXT"},
		{carol, "/react 1 👍", nil, "works in a chat with a contact"},
	} {
		r := &fakeRun{out: "the command's answer"}
		hs := newHarness(t, world(), Config{Open: tc.open, Run: r.run}, 100, 30)
		hs.typeLine(tc.line)
		switch {
		case tc.want == nil && len(r.calls) > 0:
			t.Errorf("%s in %s ran %v", tc.line, tc.open, r.calls)
		case tc.want != nil && (len(r.calls) != 1 || !slices.Equal(r.calls[0], tc.want)):
			t.Errorf("%s in %s ran %v, want %v", tc.line, tc.open, r.calls, tc.want)
		case tc.says != "" && !strings.Contains(hs.screen(), tc.says):
			t.Errorf("%s in %s does not say %q:\n%s", tc.line, tc.open, tc.says, hs.screen())
		}
	}
}

// socialFake is a fake backend with profiles and typing indicators.
type socialFake struct {
	*fakeBackend
	mu     sync.Mutex
	typing []bool
}

func (s *socialFake) Names() (map[string]client.Name, error) {
	return map[string]client.Name{
		alice: {ID: alice, Nickname: "alice", Profile: "Alice R."},
		bob:   {ID: bob, Profile: "alice", Clash: true},
	}, nil
}

func (s *socialFake) Typing(conv string, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.typing = append(s.typing, on)
	return nil
}

// TestSocialScreen: a quote, reactions and an edit under their messages;
// a profile name that clashes marked in the list; who is typing shown, and
// gone when it runs out; the user's own typing sent, then "stopped" on send.
func TestSocialScreen(t *testing.T) {
	f := world()
	f.contacts[1].Name = "" // bob has no nickname: his profile's name shows
	orig := f.msgs[alice][1]
	m := f.incoming(alice, alice, "yes, 10am", 3)
	f.msgs[alice][3].Quote = &client.Quote{ID: orig.ID, From: self, Excerpt: "hello alice"}
	f.msgs[alice][1].Reactions = []client.Reaction{{By: alice, Emoji: "👍"}, {By: bob, Emoji: "👍"}, {By: self, Emoji: "🎉"}}
	f.msgs[alice][0].EditedAt = t0
	f.add(client.Message{Conversation: alice, From: alice, Kind: client.KindText, Text: "gone?", ReceivedAt: t0,
		Quote: &client.Quote{ID: "ff", From: self, Missing: true}})
	_ = m
	sf := &socialFake{fakeBackend: f}
	hs := newHarnessWith(t, sf, Config{Open: "alice"}, 80, 16)
	hs.send(eventMsg{ev: &client.TypingEvent{Peer: alice, Typing: true, Until: t0.Add(10*time.Minute + 5*time.Second)}})
	golden(t, hs, "social")
	// The indicator runs out.
	hs.m.now = func() time.Time { return t0.Add(11 * time.Minute) }
	hs.send(typingMsg{})
	if strings.Contains(hs.screen(), "is typing") {
		t.Error("the typing indicator outlived its time")
	}
	// Typing sends "typing"; sending the text, "stopped"; a command nothing.
	hs.typeLine("ok")
	hs.typeLine("/help")
	sf.mu.Lock()
	got := slices.Clone(sf.typing)
	sf.mu.Unlock()
	if len(got) < 2 || !got[0] || got[len(got)-1] {
		t.Errorf("typing indicators sent: %v, want typing then stopped", got)
	}
}
