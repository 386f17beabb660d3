package web

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/client/profile"
)

// events collects every event of a peer's client.
func events(c *client.Client) func(match func(client.Event) bool, d time.Duration) bool {
	sub := c.Subscribe()
	var mu sync.Mutex
	var got []client.Event
	go func() {
		for ev := range sub.Events() {
			mu.Lock()
			got = append(got, ev)
			mu.Unlock()
		}
	}()
	return func(match func(client.Event) bool, d time.Duration) bool {
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			mu.Lock()
			ok := slices.ContainsFunc(got, match)
			mu.Unlock()
			if ok {
				return true
			}
		}
		return false
	}
}

// msgWith is the XPath of the message bubble row whose text contains text.
func msgWith(text string) string {
	return fmt.Sprintf(`//div[contains(concat(" ", @class, " "), " msg ")][.//div[contains(@class,"text")][contains(., %q)]]`, text)
}

// menuItem opens the menu of the message with text and clicks item, again
// if the chat was redrawn in between (an action's event reloads it).
func menuItem(text, item string) []chromedp.Action[chromedp.Void] {
	open := chromedp.Click(msgWith(text)+`//button[@aria-label="Message actions"]`, chromedp.NodeVisible)
	pick := msgWith(text) + fmt.Sprintf(`//button[normalize-space()=%q or @aria-label=%q]`, item, item)
	return []chromedp.Action[chromedp.Void]{func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		for {
			if _, err := retry(open)(ctx, t); err != nil {
				return chromedp.Void{}, err
			}
			short, cancel := context.WithTimeout(ctx, time.Second)
			_, err := chromedp.Click(pick, chromedp.NodeVisible)(short, t)
			cancel()
			if err == nil || ctx.Err() != nil {
				return chromedp.Void{}, err
			}
		}
	}}
}

// socialSteps: the chat with Bob ("Maya Chen") is open with messages both
// ways. Reply, react, edit and delete for everyone from the message menu;
// a reaction and typing from Bob shown live; the profile set in Settings.
func socialSteps(t *testing.T, ctx context.Context, w *watch, s *Server, host *testHost, bob *client.Client, wd *world) {
	alice := host.Client().ID()
	bobSaw := events(bob)
	for _, c := range []*client.Client{host.Client(), bob} {
		if err := c.SetTypingIndicators(true); err != nil {
			t.Fatal(err)
		}
	}
	hist, err := host.Client().History(bob.ID(), 0)
	if err != nil {
		t.Fatal(err)
	}
	idOf := func(text string) string {
		for _, m := range hist {
			if strings.Contains(m.Text, text) {
				return m.ID
			}
		}
		t.Fatalf("no message %q", text)
		return ""
	}

	t.Run("profile", func(t *testing.T) {
		run(t, ctx, "settings", click(button("Settings")), visible(fieldLabelled("Display name")),
			typeInto(fieldLabelled("Display name"), "Alice Reporter"), click(button("Save profile")), visible(textOnPage("Profile saved.")))
		if p, err := host.Client().OwnProfile(); err != nil || p.Name != "Alice Reporter" {
			t.Fatalf("the page's profile: %v, %v", p, err)
		}
		if !bobSaw(func(e client.Event) bool { p, ok := e.(*client.ProfileEvent); return ok && p.Name == "Alice Reporter" }, 10*time.Second) {
			t.Fatal("Bob never got the profile set in the page")
		}
		openConv(t, ctx, "Maya Chen")
		// Bob's picture shows in the chat's header; his nickname stays.
		path := filepath.Join(t.TempDir(), "maya.png")
		writePNG(t, path)
		pic, err := profile.Avatar(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bob.SetProfile("Maya C.", pic); err != nil {
			t.Fatal(err)
		}
		run(t, ctx, "picture", visible(`//header[contains(@class,"chat-head")]//img[contains(@class,"avatar-img")]`),
			visible(`//header[contains(@class,"chat-head")]//h2[contains(., "Maya Chen")]`))
		// Someone whose profile claims Bob's nickname is shown as their
		// claim ("~"), marked, never as the contact they pose as.
		dave := wd.peer()
		if _, err := dave.SetProfile("Maya Chen", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := dave.Send(alice, "It's Maya, new number."); err != nil {
			t.Fatal(err)
		}
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if _, err := host.Client().ProfileOf(dave.ID()); err == nil {
				break
			} else if time.Now().After(end) {
				t.Fatal("Dave's profile never arrived")
			}
		}
		if err := host.Client().Accept(dave.ID()); err != nil {
			t.Fatal(err)
		}
		run(t, ctx, "refresh", chromedp.Reload(), visible(button("Settings")),
			visible(`//button[contains(@class,"conv")]//*[contains(@class,"conv-name")][contains(., "~Maya Chen (same name as another contact)")]`))
		// (Removed again, so the steps after open the real Maya Chen.)
		if err := host.Client().RemoveContact(dave.ID()); err != nil {
			t.Fatal(err)
		}
		run(t, ctx, "refresh", chromedp.Reload(), visible(button("Settings")))
		waitJS(t, ctx, "dave gone", `![...document.querySelectorAll('.conv-name')].some((e) => e.textContent.includes('~Maya'))`)
		openConv(t, ctx, "Maya Chen")
		checkClean(t, w, s)
	})

	t.Run("reply", func(t *testing.T) {
		run(t, ctx, "reply", append(menuItem("see you there", "Reply"), visible(textOnPage("Replying to")),
			typeInto(`//textarea[@aria-label="Message"]`, "Noted.\r"), visible(`//div[contains(@class,"quote")]`))...)
		want := idOf("see you there")
		if !bobSaw(func(e client.Event) bool {
			m, ok := e.(*client.MessageEvent)
			return ok && m.Message.Text == "Noted." && m.Message.Quote != nil && m.Message.Quote.ID == want
		}, 10*time.Second) {
			t.Fatal("Bob never got the reply quoting his message")
		}
		checkClean(t, w, s)
	})

	t.Run("react", func(t *testing.T) {
		run(t, ctx, "react", append(menuItem("see you there", "React 👍"), visible(msgWith("see you there")+`//span[contains(@class,"reaction")]`))...)
		if !bobSaw(func(e client.Event) bool {
			a, ok := e.(*client.ActionEvent)
			return ok && a.Action == "reaction" && a.Emoji == "👍"
		}, 10*time.Second) {
			t.Fatal("Bob never got the reaction")
		}
		// Bob's reaction to Alice's message shows live.
		if err := bob.React(alice, idOf("Ask for the back room"), "🎉"); err != nil {
			t.Fatal(err)
		}
		run(t, ctx, "reaction shown", visible(msgWith("Ask for the back room")+`//span[contains(@class,"reaction")][contains(., "🎉")]`))
		checkClean(t, w, s)
	})

	t.Run("edit", func(t *testing.T) {
		run(t, ctx, "edit", append(menuItem("Ask for the back room", "Edit"), visible(fieldLabelled("New text")), clearField("New text"),
			typeInto(fieldLabelled("New text"), "Café Lisboa, Torstraße 9. Ask for Ana."), click(button("Save edit")),
			visible(msgWith("Ask for Ana.")+`//span[contains(@class,"edited")]`))...)
		if !bobSaw(func(e client.Event) bool {
			a, ok := e.(*client.ActionEvent)
			return ok && a.Action == "edit" && strings.Contains(a.Text, "Ask for Ana")
		}, 10*time.Second) {
			t.Fatal("Bob never got the edit")
		}
		checkClean(t, w, s)
	})

	t.Run("delete for everyone", func(t *testing.T) {
		run(t, ctx, "unsend", menuItem("I can bring the documents.", "Delete for everyone")...)
		waitJS(t, ctx, "gone", `![...document.querySelectorAll('.msg .text')].some((e) => e.textContent.includes('I can bring the documents.'))`)
		if !bobSaw(func(e client.Event) bool { a, ok := e.(*client.ActionEvent); return ok && a.Action == "delete" }, 10*time.Second) {
			t.Fatal("Bob never got the deletion")
		}
		checkClean(t, w, s)
	})

	t.Run("typing", func(t *testing.T) {
		run(t, ctx, "refresh settings", chromedp.Reload(), visible(button("Settings")))
		openConv(t, ctx, "Maya Chen")
		if err := bob.Typing(alice, true); err != nil {
			t.Fatal(err)
		}
		run(t, ctx, "shown", visible(textOnPage("Maya Chen is typing…")))
		run(t, ctx, "type", typeInto(`//textarea[@aria-label="Message"]`, "Let me"))
		if !bobSaw(func(e client.Event) bool {
			ty, ok := e.(*client.TypingEvent)
			return ok && ty.Peer == alice && ty.Typing
		}, 10*time.Second) {
			t.Fatal("Bob never saw Alice typing in the page")
		}
		run(t, ctx, "send", typeInto(`//textarea[@aria-label="Message"]`, " check.\r"), visible(textOnPage("Let me check.")))
		if !bobSaw(func(e client.Event) bool {
			ty, ok := e.(*client.TypingEvent)
			return ok && ty.Peer == alice && !ty.Typing
		}, 10*time.Second) {
			t.Fatal("Bob never saw Alice stop typing")
		}
		checkClean(t, w, s)
	})

	t.Run("broadcast", func(t *testing.T) {
		if err := host.Client().SaveBroadcastList("desk", []string{bob.ID()}); err != nil {
			t.Fatal(err)
		}
		run(t, ctx, "send", click(button("Broadcast lists")), visible(fieldLabelled("Message to desk")),
			typeInto(fieldLabelled("Message to desk"), "Deadline moved to 6pm."), click(button("Send to all")),
			visible(button("Edit for everyone")))
		run(t, ctx, "edit", click(button("Edit for everyone")), visible(fieldLabelled("New text")), clearField("New text"),
			typeInto(fieldLabelled("New text"), "Deadline moved to 7pm."), click(button("Save edit")), visible(textOnPage("Every copy edited.")))
		if !bobSaw(func(e client.Event) bool {
			a, ok := e.(*client.ActionEvent)
			return ok && a.Action == "edit" && a.Text == "Deadline moved to 7pm."
		}, 10*time.Second) {
			t.Fatal("Bob's copy was never edited")
		}
		run(t, ctx, "unsend", click(button("Delete for everyone")), visible(textOnPage("Deleted for everyone.")))
		gone := func() bool {
			h, _ := bob.History(alice, 0)
			return !slices.ContainsFunc(h, func(m client.Message) bool { return strings.Contains(m.Text, "Deadline moved") })
		}
		for end := time.Now().Add(10 * time.Second); !gone(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatal("Bob's copy was never deleted")
			}
		}
		openConv(t, ctx, "Maya Chen")
		checkClean(t, w, s)
	})
}
