package audit

import (
	"strings"
	"testing"

	"github.com/skymsg/sky/wire"
	"google.golang.org/protobuf/encoding/protowire"
)

// TestChecksCatchViolations: each check of the audit finds what it is
// there to find, so a passing audit means something.
func TestChecksCatchViolations(t *testing.T) {
	alice, bob := "aaaaaaaaaa", "bbbbbbbbbb"
	tables := []Table{
		{Name: "messages", Columns: []string{"seq", "account", "device", "sender", "sender_device", "received", "body"}, Rows: [][]any{
			{int64(1), bob, int64(1), nil, nil, int64(7200), make([]byte, 1024)},        // fine
			{int64(2), bob, int64(1), alice, int64(1), int64(7200), make([]byte, 1024)}, // names its sender (and links two accounts)
			{int64(3), bob, int64(1), nil, nil, int64(7201), make([]byte, 1000)},        // exact time, unpadded
		}},
		{Name: "accounts", Columns: []string{"id", "created", "sub_end"}, Rows: [][]any{{alice, int64(86400), int64(86401)}}},
		{Name: "friends", Columns: []string{"a"}},
	}
	allowed := map[string]string{"messages.seq": "x", "messages.account": "x", "messages.device": "x",
		"messages.received": "x", "messages.body": "x", "accounts.id": "x", "accounts.created": "x", "accounts.sub_end": "x"}
	var sum summary
	cols := checkColumns(tables, allowed, &sum)
	rows := checkRows(tables, []string{alice, bob}, &sum)
	wantProblems(t, cols, "friends.a is not on the allow-list", "messages.sender is not on the allow-list", "messages.sender_device is not on the allow-list")
	wantProblems(t, rows, "links accounts", "1000 bytes", "7201 not on the hour", "86401 is not a day")

	sealed := func(token []byte, isSealed bool, n int) *wire.Request {
		return &wire.Request{Op: &wire.Request_Send{Send: &wire.Send{Account: bob, Device: 1, Content: make([]byte, n), DeliveryToken: token, Sealed: isSealed}}}
	}
	convs := []*Conversation{
		{Account: alice, Requests: []*wire.Request{sealed(nil, true, 1024), sealed(nil, false, 1024), sealed(make([]byte, 32), false, 1024)},
			Pushes: []*wire.Envelope{withSender(&wire.Envelope{Content: make([]byte, 1024), ServerTime: 3600}, alice), {Content: make([]byte, 999), ServerTime: 3601}}},
		{Anonymous: true, Requests: []*wire.Request{sealed(make([]byte, 32), false, 4096), {Op: &wire.Request_Authenticate{Authenticate: &wire.Authenticate{Account: alice}}}}},
		{Requests: []*wire.Request{sealed(nil, true, 1024)}},
	}
	wantProblems(t, checkTraffic(convs, &sum), "an identified send", "a delivery token on a connection of", "a push carries 16 bytes of fields this version does not know",
		"a push of 999 bytes", "3601 is not on the hour", "an anonymous connection authenticated", "a sealed request on a connection that did not authenticate")
}

// withSender adds to e what field 3 of Envelope was before identified sends
// were removed: a Sender{account, device 1}.
func withSender(e *wire.Envelope, account string) *wire.Envelope {
	sender := protowire.AppendTag(nil, 1, protowire.BytesType)
	sender = protowire.AppendString(sender, account)
	sender = protowire.AppendTag(sender, 2, protowire.VarintType)
	sender = protowire.AppendVarint(sender, 1)
	u := protowire.AppendTag(nil, 3, protowire.BytesType)
	e.ProtoReflect().SetUnknown(protowire.AppendBytes(u, sender))
	return e
}

func wantProblems(t *testing.T, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.Contains(g, w)
		}
		if !found {
			t.Errorf("no problem mentions %q; got:\n%s", w, strings.Join(got, "\n"))
		}
	}
}

func TestColumnsAllowList(t *testing.T) {
	m, err := Columns(strings.NewReader("# comment\n\nmessages.body   padded ciphertext\n"))
	if err != nil || m["messages.body"] != "padded ciphertext" || len(m) != 1 {
		t.Fatalf("Columns = %v, %v", m, err)
	}
	for _, bad := range []string{"messages.body\n", "nodot   reason\n", "a.b x\na.b y\n"} {
		if _, err := Columns(strings.NewReader(bad)); err == nil {
			t.Errorf("Columns(%q) accepted", bad)
		}
	}
}

// FuzzDecode: a recording of any bytes decodes or fails, never panics.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("GET /v1/websocket HTTP/1.1\r\nHost: x\r\n\r\n\x82\x80\x00\x00\x00\x00"), []byte("HTTP/1.1 101 Switching\r\n\r\n\x82\x00"))
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, in, out []byte) {
		Decode(Stream{FromClient: in, FromServer: out})
	})
}
