package web

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/skymsg/sky/client"
)

// inviteLinkSteps: in the open group, the admin makes an invite link (its
// text and QR code shown), approves Dave who asked with it, and revokes
// it; then the user joins Bob's group with a pasted link.
func inviteLinkSteps(t *testing.T, ctx context.Context, w *watch, s *Server, host *testHost, bob, dave *client.Client) {
	linkField := `//input[@aria-label="Invite link text"]`
	run(t, ctx, "make a link", click(button("Chat info")), click(button("Create invite link")), visible(linkField),
		visible(`//img[@alt="QR code of the invite link"]`))
	waitJS(t, ctx, "QR drawn", `[...document.querySelectorAll('img.qr')].some((i) => i.complete && i.naturalWidth > 0)`)
	link := eval[string](t, ctx, `document.querySelector('input[aria-label="Invite link text"]').value`)
	if _, _, err := dave.JoinGroup(link); err != nil {
		t.Fatalf("Dave joining with the page's link %q: %v", link, err)
	}
	// The request arrives while the dialog is open: reopen it until shown.
	run(t, ctx, "reopen", chromedp.KeyEvent(kb.Escape))
	approve := `//button[@aria-label="Approve Dave"]`
	deadline := time.Now().Add(10 * time.Second)
	for {
		run(t, ctx, "info", click(button("Chat info")), visible(linkField))
		if eval[bool](t, ctx, `!!document.querySelector('button[aria-label="Approve Dave"]')`) || time.Now().After(deadline) {
			break
		}
		run(t, ctx, "close", chromedp.KeyEvent(kb.Escape))
		time.Sleep(100 * time.Millisecond)
	}
	run(t, ctx, "approve", click(approve), visible(`//ul[@aria-label="Members"]//*[contains(., "Dave")]`))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if gs, _ := dave.Groups(); slices.ContainsFunc(gs, func(g client.Group) bool { return g.Name == "Field team Berlin" && g.Member }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Dave approved on the page never got the group")
		}
	}
	run(t, ctx, "revoke", click(button("Revoke invite link")), visible(textOnPage("No invite link.")), chromedp.KeyEvent(kb.Escape))

	// Joining Bob's group with his link, pasted.
	g, err := bob.CreateGroup("Bob's club", nil)
	if err != nil {
		t.Fatal(err)
	}
	blink, _, err := bob.MakeInviteLink(g.ID)
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "join", click(button("New group")), typeInto(fieldLabelled("Invite link"), blink), click(button("Ask to join")),
		visible(textOnPage("once they approve")), chromedp.KeyEvent(kb.Escape))
	me := host.Client().ID()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if bg, err := bob.Group(g.ID); err == nil && slices.Contains(bg.JoinRequests, me) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Bob never got the page's request to join")
		}
	}
	checkClean(t, w, s)
}
