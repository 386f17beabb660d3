package tui

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/client/attach"
	"github.com/skymsg/sky/client/attach/pointer"
)

// fakeFiles is a fake backend with attachments.
type fakeFiles struct {
	*fakeBackend
	uploads [][]string // conversation, caption, paths…
	saves   [][]string // id, out
}

func (f *fakeFiles) SendFiles(ctx context.Context, peer, text string, paths []string, _ attach.FileProgress) (client.Message, []*attach.Prepared, error) {
	return f.upload(peer, text, paths)
}

func (f *fakeFiles) SendGroupFiles(ctx context.Context, ref, text string, paths []string, _ attach.FileProgress) (client.Message, []*attach.Prepared, error) {
	return f.upload(ref, text, paths)
}

func (f *fakeFiles) upload(conv, text string, paths []string) (client.Message, []*attach.Prepared, error) {
	f.uploads = append(f.uploads, append([]string{conv, text}, paths...))
	if strings.Contains(paths[0], "missing") {
		return client.Message{}, nil, errors.New("open " + paths[0] + ": no such file or directory")
	}
	m := f.add(client.Message{Conversation: conv, From: self, Outgoing: true, Kind: client.KindText, Text: text, SentAt: t0, State: client.Pending})
	m.Attachments = []client.Attachment{{ID: "7.1", Name: "report.pdf", Size: 3 << 20}}
	return m, []*attach.Prepared{{Pointer: pointer.Pointer{Name: "report.pdf"}, AsIs: true}}, nil
}

func (f *fakeFiles) SaveAttachment(ctx context.Context, id, out string, force bool, _ attach.FileProgress) (string, error) {
	f.saves = append(f.saves, []string{id, out})
	if force {
		return "", errors.New("forced")
	}
	return "/home/me/" + id, nil
}

func TestFiles(t *testing.T) {
	w := world()
	ff := &fakeFiles{fakeBackend: w}
	w.incoming(bob, bob, "the photo", 5)
	w.msgs[bob][0].Attachments = []client.Attachment{{ID: "104.1", Name: "beach\x1b]0;x\x07.jpg", Size: 2048, Width: 640, Height: 480}}
	hs := newHarnessWith(t, ff, Config{Open: "alice"}, 100, 30)
	hs.typeLine("/file ~/report.pdf the quarterly report")
	if len(ff.uploads) != 1 || ff.uploads[0][0] != alice || ff.uploads[0][1] != "the quarterly report" || !strings.HasSuffix(ff.uploads[0][2], "/report.pdf") || strings.HasPrefix(ff.uploads[0][2], "~") {
		t.Fatalf("/file uploaded %v", ff.uploads)
	}
	s := hs.screen()
	for _, want := range []string{"me: the quarterly report", "📎 report.pdf (3.0 MiB) /save 7.1", "report.pdf went as it is"} {
		if !strings.Contains(s, want) {
			t.Errorf("after /file the chat does not show %q:\n%s", want, s)
		}
	}
	hs.typeLine("/file /tmp/missing.txt")
	if !strings.Contains(hs.screen(), "not sent: open /tmp/missing.txt") {
		t.Errorf("a failed upload does not say so:\n%s", hs.screen())
	}
	hs.typeLine("/open bob")
	if !strings.Contains(hs.screen(), `📎 beach\x1b]0;x\x07.jpg (2.0 KiB, 640×480) /save 104.1`) {
		t.Errorf("a received attachment is not shown, inert, with its ID:\n%s", hs.screen())
	}
	hs.typeLine("/save 104.1 ~/Downloads")
	if len(ff.saves) != 1 || ff.saves[0][0] != "104.1" || !strings.HasSuffix(ff.saves[0][1], "/Downloads") || !strings.Contains(hs.screen(), "saved /home/me/104.1") {
		t.Errorf("/save saved %v:\n%s", ff.saves, hs.screen())
	}
	checkLayout(t, hs)

	plain := newHarness(t, world(), Config{Open: "alice"}, 100, 30)
	plain.typeLine("/file x.pdf")
	if !strings.Contains(plain.screen(), "attachments are not available here") || len(plain.f.sent) != 0 {
		t.Errorf("without attachments /file does not say so:\n%s", plain.screen())
	}
	if !slices.ContainsFunc(helpLines, func(l string) bool { return strings.Contains(l, "/file PATH") }) {
		t.Error("/help does not list /file")
	}
}

// TestAttachmentLines: a recording shows its playing time.
func TestAttachmentLines(t *testing.T) {
	for _, c := range []struct {
		a    client.Attachment
		want string
	}{
		{client.Attachment{ID: "7.1", Name: "note.ogg", Size: 2048, Duration: 65400 * time.Millisecond}, "📎 note.ogg (2.0 KiB, 1:05) /save 7.1"},
		{client.Attachment{ID: "7.2", Name: "film.mp4", Size: 10, Width: 64, Height: 48, Duration: 3723 * time.Second}, "📎 film.mp4 (10 bytes, 64×48, 1:02:03) /save 7.2"},
		{client.Attachment{ID: "7.3", Name: "doc.pdf", Size: 10}, "📎 doc.pdf (10 bytes) /save 7.3"},
	} {
		if got := attachmentLines([]client.Attachment{c.a}); len(got) != 1 || got[0] != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}
