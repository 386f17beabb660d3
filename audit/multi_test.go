package audit

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/server/servertest"
	"github.com/skymsg/sky/wire"
)

// bigGroupSize is the size of the group the audit sends to with one
// multi-recipient send (sealed sender v2): the sender and 20 members.
const bigGroupSize = 21

// bigGroup: twenty more people write to alice (so she holds their delivery
// tokens), alice makes a group of them, its name a canary, and sends it a
// text carrying a canary, which goes as one multi-recipient send. The
// second half of the members are offline by then, so their copies are
// still queued when the server is seized. It returns the group's ID and the
// IDs of the members whose copies stay queued.
func bigGroup(t *testing.T, srv *servertest.Server, clock *servertest.Clock, root client.TrustRoot, opts client.Options, alice *person, cs *canaries) (gid string, queued []string) {
	var members []*person
	var ids []string
	for i := range bigGroupSize - 1 {
		name := fmt.Sprintf("member%02d", i)
		c, err := client.Register(context.Background(), filepath.Join(t.TempDir(), name), []byte("passphrase of "+name), srv.URL, root, srv.Code(t, clock.Now()), opts)
		if err != nil {
			t.Fatal(err)
		}
		p := startPerson(t, name, c)
		members = append(members, p)
		ids = append(ids, p.id())
		p.send(t, alice, "Hello from "+name+" "+cs.next())
	}
	alice.await(t, len(members))
	g, err := alice.c.CreateGroup("Big group "+cs.next(), ids)
	must(t, err)
	for _, p := range members {
		p.awaitGroup(t, g.ID)
	}
	for _, p := range members[len(members)/2:] {
		p.flush(t)
		p.offline()
		queued = append(queued, p.id())
	}
	must(t, errOf(alice.c.SendGroup(g.ID, "To the big group: "+cs.next())))
	for _, p := range members[:len(members)/2] {
		p.await(t, 1)
	}
	alice.flush(t)
	time.Sleep(100 * time.Millisecond) // acknowledgements of the online members
	return g.ID, queued
}

// checkMulti checks the multi-recipient sends in the recording and what
// they left in the queue. Each MultiSend comes on an anonymous connection
// and carries no sender; every copy it asks for is a sealed size; and the
// one link v2 adds — the copies of one send share the ephemeral key and
// the shared ciphertext (all but their first 49 bytes) — is bounded: the
// queued rows linked so are exactly the copies of that send still waiting
// for recipients of it, one per recipient.
func checkMulti(convs []*Conversation, messages *Table, wantQueued []string, sum *summary) (problems []string) {
	shared := map[string]int{} // shared part of each multi-recipient send -> its recipients
	for _, c := range convs {
		for _, r := range c.Requests {
			ms := r.GetMultiSend()
			if ms == nil {
				continue
			}
			sum.multiSends++
			if !c.Anonymous || c.Account != "" {
				problems = append(problems, fmt.Sprintf("a multi-recipient send on a connection of %q", c.Account))
			}
			m, err := sealed.ParseSentMessage(ms.GetMessage(), wire.MaxMultiRecipients)
			if err != nil {
				problems = append(problems, fmt.Sprintf("a multi-recipient send that does not parse: %v", err))
				continue
			}
			sum.multiRecipients = max(sum.multiRecipients, len(m.Recipients))
			for i := range m.Recipients {
				n := len(m.Received(&m.Recipients[i]))
				sum.sizes(n)
				if !wire.IsSealedSize(n) {
					problems = append(problems, fmt.Sprintf("a multi-recipient copy of %d bytes, not a sealed size", n))
				}
			}
			rm := m.Received(&m.Recipients[0])
			shared[string(rm[1+sealed.V2KeyMaterialSize:])] = len(m.Recipients)
		}
	}
	if sum.multiRecipients < bigGroupSize-1 {
		problems = append(problems, fmt.Sprintf("no multi-recipient send to the %d members of the big group (the largest had %d)", bigGroupSize-1, sum.multiRecipients))
	}
	body, to := messages.Column("body"), messages.Column("account")
	linked := map[string][]string{}
	for _, row := range messages.Rows {
		b := valueBytes(row[body])
		if len(b) > 1+sealed.V2KeyMaterialSize && b[0] == sealed.V2ReceivedVersion {
			k := string(b[1+sealed.V2KeyMaterialSize:])
			if _, ok := shared[k]; !ok {
				problems = append(problems, "a queued v2 copy that no recorded multi-recipient send made")
			}
			linked[k] = append(linked[k], string(valueBytes(row[to])))
		}
	}
	for _, accounts := range linked {
		sum.multiLinked = max(sum.multiLinked, len(accounts))
	}
	if sum.multiLinked != len(wantQueued) {
		problems = append(problems, fmt.Sprintf("%d queued copies share one multi-recipient send's shared part; want exactly the %d waiting for its offline recipients", sum.multiLinked, len(wantQueued)))
	}
	for _, accounts := range linked {
		for _, a := range accounts {
			found := false
			for _, w := range wantQueued {
				found = found || w == a
			}
			if !found && len(accounts) > 1 {
				problems = append(problems, fmt.Sprintf("a queued copy for %s linked to the big group's send", a))
			}
		}
	}
	return problems
}
