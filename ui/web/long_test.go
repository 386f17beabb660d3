package web

import (
	"crypto/rand"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/skymsg/sky/client/content"
	"github.com/skymsg/sky/client/store"
)

// seedHistory writes n messages between the account in dir and peer
// straight into its store (as if exchanged over months), alternating
// directions, all read.
func seedHistory(t *testing.T, dir, me, peer string, n int) {
	t.Helper()
	st, err := store.Open(dir, []byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Now().Add(-time.Duration(n) * time.Minute)
	err = st.Update(func(tx *store.Tx) error {
		if err := tx.PutContact(store.Contact{ID: peer, Name: "Long History", AddedAt: start}); err != nil {
			return err
		}
		if err := tx.PutConversation(store.Conversation{ID: peer, UpdatedAt: start}); err != nil {
			return err
		}
		var seq [2]uint64
		for i := range n {
			out := i%2 == 1
			from, to := peer, me
			if out {
				from, to = me, peer
			}
			k := i % 2
			seq[k]++
			at := start.Add(time.Duration(i) * time.Minute).Truncate(time.Millisecond)
			c := &content.Content{Version: content.Version, Sender: from, SenderDevice: 1, Recipient: to, SentAt: at, Seq: seq[k],
				Kind: content.KindText, Text: fmt.Sprintf("message %d of a long conversation", i)}
			rand.Read(c.ID[:])
			body, err := content.Encode(c)
			if err != nil {
				return err
			}
			m := &store.Message{Conversation: peer, Sender: from, MessageID: c.ID.String(), Outgoing: out, State: store.Read,
				Body: body, SentAt: at, ReceivedAt: at, ReadAt: at}
			if out {
				m.State = store.Delivered
			}
			if err := tx.AddMessage(m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBrowserLongHistory measures (and does not assert) how long the page
// takes to open a conversation of 10,000 messages (SKY_LONG_MESSAGES
// changes the number) and to load each older page while scrolling up.
// It runs with SKY_SLOW_TESTS=1 (it takes half a minute).
func TestBrowserLongHistory(t *testing.T) {
	if os.Getenv("SKY_SLOW_TESTS") != "1" {
		t.Skip("a measurement; set SKY_SLOW_TESTS=1 to run it")
	}
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("SKY_LONG_MESSAGES")); err == nil && v > 0 {
		n = v
	}
	ctx, w := newBrowser(t)
	wd := newWorld(t)
	dir, alice := wd.register()
	const peer = "mayachen22"
	t0 := time.Now()
	seedHistory(t, dir, alice, peer, n)
	t.Logf("seeded %d messages in %v", n, time.Since(t0))
	s, _ := serveWeb(t, dir, Options{})
	run(t, ctx, "unlock", chromedp.Navigate(s.URL()), visible(fieldLabelled("Passphrase")), typeInto(fieldLabelled("Passphrase"), pass),
		click(button("Unlock")), visible(`//button[contains(@class,"conv")]`))
	last := fmt.Sprintf("message %d of", n-1)
	eval[bool](t, ctx, fmt.Sprintf(`window.__open = 0; new MutationObserver(() => {
  if (!window.__open && document.querySelector('.msg-list')?.lastElementChild?.textContent.includes(%q)) window.__open = performance.now(); })
  .observe(document.body, {childList: true, subtree: true});
window.__t0 = performance.now(); document.querySelector('[data-conv=%q]').click(); true`, last, peer))
	waitJS(t, ctx, "opened", "window.__open > 0")
	open := eval[float64](t, ctx, "window.__open - window.__t0")
	t.Logf("MEASURED open of a %d-message conversation (click to its last message on screen): %.0f ms", n, open)
	var pages []string
	for range 3 {
		before := eval[int](t, ctx, "document.querySelectorAll('.msg').length")
		eval[bool](t, ctx, "window.__p0 = performance.now(); document.querySelector('.msgs').scrollTop = 0; true")
		waitJS(t, ctx, "older page", fmt.Sprintf("document.querySelectorAll('.msg').length > %d", before))
		ms := eval[float64](t, ctx, "performance.now() - window.__p0")
		after := eval[int](t, ctx, "document.querySelectorAll('.msg').length")
		pages = append(pages, fmt.Sprintf("%d→%d in %.0f ms", before, after, ms))
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("MEASURED loading older pages while scrolling up: %v", pages)
	checkClean(t, w, s)
}
