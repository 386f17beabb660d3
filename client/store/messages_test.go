package store

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/skymsg/sky/client/store/envelope"
)

func addMessage(t testing.TB, s *Store, m Message) Message {
	t.Helper()
	update(t, s, func(tx *Tx) error { return tx.AddMessage(&m) })
	return m
}

func getMessage(t testing.TB, s *Store, id int64) (Message, error) {
	t.Helper()
	var m Message
	err := s.View(func(tx *Tx) error {
		var err error
		m, err = tx.Message(id)
		return err
	})
	return m, err
}

// TestTimerSemantics: the sender's copy counts from sending, the
// recipient's from reading; messages without a timer never expire.
func TestTimerSemantics(t *testing.T) {
	_, s := newTestStore(t, Options{})
	out := addMessage(t, s, Message{Conversation: "bob-id", Outgoing: true, State: Sent, Body: Secret("out"), SentAt: t0, Timer: 5 * time.Second})
	in := addMessage(t, s, Message{Conversation: "bob-id", State: Received, Body: Secret("in"), SentAt: t0, ReceivedAt: t0.Add(time.Second), Timer: 30 * time.Second})
	keep := addMessage(t, s, Message{Conversation: "bob-id", State: Received, Body: Secret("keep"), SentAt: t0})

	if !out.ExpiresAt.Equal(t0.Add(5 * time.Second)) {
		t.Fatalf("outgoing expiry %v, want sent+5s", out.ExpiresAt)
	}
	if !in.ExpiresAt.IsZero() {
		t.Fatalf("unread incoming message already counts down: %v", in.ExpiresAt)
	}
	if got := s.NextExpiry(); !got.Equal(out.ExpiresAt) {
		t.Fatalf("next expiry %v, want %v", got, out.ExpiresAt)
	}

	readAt := t0.Add(10 * time.Second)
	var read Message
	update(t, s, func(tx *Tx) error {
		var err error
		read, err = tx.MarkRead(in.ID, readAt)
		return err
	})
	if !read.ReadAt.Equal(readAt) || read.State != Read || !read.ExpiresAt.Equal(readAt.Add(30*time.Second)) {
		t.Fatalf("after MarkRead: read %v state %d expires %v", read.ReadAt, read.State, read.ExpiresAt)
	}
	// Reading again does not restart the countdown.
	update(t, s, func(tx *Tx) error {
		again, err := tx.MarkRead(in.ID, readAt.Add(time.Hour))
		if err == nil && (!again.ReadAt.Equal(readAt) || !again.ExpiresAt.Equal(read.ExpiresAt)) {
			t.Errorf("second MarkRead moved the countdown to %v", again.ExpiresAt)
		}
		return err
	})

	for _, step := range []struct {
		now     time.Time
		deleted int
		next    time.Time
		gone    []int64
	}{
		{t0.Add(4 * time.Second), 0, out.ExpiresAt, nil},
		{t0.Add(5 * time.Second), 1, read.ExpiresAt, []int64{out.ID}},
		{read.ExpiresAt.Add(-time.Nanosecond), 0, read.ExpiresAt, nil},
		{read.ExpiresAt, 1, time.Time{}, []int64{in.ID}},
		{t0.Add(1000 * time.Hour), 0, time.Time{}, nil},
	} {
		res, err := s.Expire(step.now)
		if err != nil {
			t.Fatal(err)
		}
		if res.Deleted != step.deleted || !res.Next.Equal(step.next) {
			t.Fatalf("Expire(%v) = %+v, want %d deleted, next %v", step.now, res, step.deleted, step.next)
		}
		for _, id := range step.gone {
			if _, err := getMessage(t, s, id); !errors.Is(err, ErrNotFound) {
				t.Fatalf("expired message %d: %v", id, err)
			}
		}
	}
	if m, err := getMessage(t, s, keep.ID); err != nil || string(m.Body) != "keep" {
		t.Fatalf("message without timer: %v", err)
	}
}

func TestExpiriesSurviveReopen(t *testing.T) {
	dir, s := newTestStore(t, Options{})
	m := addMessage(t, s, Message{Conversation: "bob-id", Outgoing: true, State: Sent, Body: Secret("x"), SentAt: t0, Timer: time.Minute})
	s.Close()
	s = reopen(t, dir)
	if got := s.NextExpiry(); !got.Equal(m.ExpiresAt) {
		t.Fatalf("next expiry after reopen %v, want %v", got, m.ExpiresAt)
	}
	if res, err := s.Expire(m.ExpiresAt); err != nil || res.Deleted != 1 {
		t.Fatalf("expire after reopen: %+v, %v", res, err)
	}
}

func TestUpdateMessage(t *testing.T) {
	_, s := newTestStore(t, Options{})
	m := addMessage(t, s, Message{Conversation: "bob-id", MessageID: "m1", Outgoing: true, State: Pending, Body: Secret("x"), SentAt: t0})
	m.State = Delivered
	m.ExpiresAt = t0.Add(time.Hour)
	update(t, s, func(tx *Tx) error { return tx.UpdateMessage(m) })
	got, err := getMessage(t, s, m.ID)
	if err != nil || !sameMessage(got, m) {
		t.Fatalf("updated message %v, %v", got, err)
	}
	if !s.NextExpiry().Equal(m.ExpiresAt) {
		t.Fatal("an expiry set by UpdateMessage is not scheduled")
	}
	for name, edit := range map[string]func(*Message){
		"conversation": func(m *Message) { m.Conversation = "carol-id" },
		"message ID":   func(m *Message) { m.MessageID = "m2" },
	} {
		c := m
		edit(&c)
		if err := s.Update(func(tx *Tx) error { return tx.UpdateMessage(c) }); !errors.Is(err, ErrInvalid) {
			t.Errorf("changing the %s: %v", name, err)
		}
	}
	if err := s.Update(func(tx *Tx) error { return tx.UpdateMessage(Message{ID: 999, Conversation: "x"}) }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing message: %v", err)
	}
}

func TestAddMessageRefusesBadInput(t *testing.T) {
	_, s := newTestStore(t, Options{})
	for name, m := range map[string]Message{
		"no conversation":  {Body: Secret("x")},
		"negative timer":   {Conversation: "b", Timer: -1},
		"unknown state":    {Conversation: "b", State: Failed + 1},
		"time before 1970": {Conversation: "b", SentAt: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if err := s.Update(func(tx *Tx) error { return tx.AddMessage(&m) }); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestHistoryOrderAndPaging(t *testing.T) {
	_, s := newTestStore(t, Options{})
	var ids []int64
	for i := range 10 {
		conv := "bob-id"
		if i%3 == 0 {
			conv = "carol-id"
		}
		m := addMessage(t, s, Message{Conversation: conv, MessageID: fmt.Sprint("m", i), Body: Secret(fmt.Sprint(i)), SentAt: t0})
		if conv == "bob-id" {
			ids = append(ids, m.ID)
		}
	}
	s.View(func(tx *Tx) error {
		all, err := tx.Messages("bob-id", 0, 0)
		if err != nil || len(all) != len(ids) {
			t.Fatalf("history: %d messages, %v", len(all), err)
		}
		for i, m := range all {
			if m.ID != ids[i] || m.Conversation != "bob-id" {
				t.Fatalf("history out of order at %d", i)
			}
		}
		page, _ := tx.Messages("bob-id", ids[1], 2)
		if len(page) != 2 || page[0].ID != ids[2] || page[1].ID != ids[3] {
			t.Fatalf("page after %d: %v", ids[1], page)
		}
		last, _ := tx.LatestMessages("bob-id", 3)
		if len(last) != 3 || last[0].ID != ids[len(ids)-3] || last[2].ID != ids[len(ids)-1] {
			t.Fatalf("latest: %v", last)
		}
		found, err := tx.FindMessage("bob-id", "m4")
		if err != nil || string(found.Body) != "4" {
			t.Fatalf("find: %v", err)
		}
		if _, err := tx.FindMessage("carol-id", "m4"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("find in the wrong conversation: %v", err)
		}
		return nil
	})
}

func TestDeleteConversation(t *testing.T) {
	_, s := newTestStore(t, Options{})
	a := addMessage(t, s, Message{Conversation: "bob-id", Outgoing: true, Body: Secret("a"), SentAt: t0, Timer: time.Hour})
	b := addMessage(t, s, Message{Conversation: "carol-id", Body: Secret("b"), SentAt: t0})
	update(t, s, func(tx *Tx) error {
		return errors.Join(tx.PutConversation(Conversation{ID: "bob-id", Timer: time.Hour}), tx.PutContact(Contact{ID: "bob-id"}))
	})
	update(t, s, func(tx *Tx) error { return tx.DeleteConversation("bob-id") })
	if _, err := getMessage(t, s, a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("message of deleted conversation: %v", err)
	}
	if _, err := getMessage(t, s, b.ID); err != nil {
		t.Fatalf("other conversation: %v", err)
	}
	if !s.NextExpiry().IsZero() {
		t.Fatal("deleted message still scheduled")
	}
	s.View(func(tx *Tx) error {
		if _, err := tx.Conversation("bob-id"); !errors.Is(err, ErrNotFound) {
			t.Errorf("conversation settings: %v", err)
		}
		if _, err := tx.Contact("bob-id"); err != nil {
			t.Errorf("contact removed with the conversation: %v", err)
		}
		return nil
	})
}

func TestOutbox(t *testing.T) {
	dir, s := newTestStore(t, Options{})
	msg := addMessage(t, s, Message{Conversation: "bob-id", Outgoing: true, Body: Secret("hi"), SentAt: t0, Timer: 5 * time.Second})
	items := []Outgoing{
		{To: "bob-id", MessageRef: msg.ID, Payload: Secret("envelope for hi"), CreatedAt: t0},
		{To: "bob-id", Payload: Secret("read receipt"), CreatedAt: t0},
		{To: "carol-id", Payload: Secret("timer change"), CreatedAt: t0},
	}
	update(t, s, func(tx *Tx) error {
		for i := range items {
			if err := tx.Enqueue(&items[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err := s.Update(func(tx *Tx) error { return tx.Enqueue(&Outgoing{To: "x", MessageRef: 999}) }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("item for a missing message: %v", err)
	}
	items[1].Attempts = 3
	update(t, s, func(tx *Tx) error { return tx.UpdateOutgoing(items[1]) })
	s.Close()
	s = reopen(t, dir)
	queue := func() []Outgoing {
		var q []Outgoing
		if err := s.View(func(tx *Tx) (err error) { q, err = tx.Outbox(); return }); err != nil {
			t.Fatal(err)
		}
		return q
	}
	q := queue()
	if len(q) != 3 || q[0].ID != items[0].ID || q[0].MessageRef != msg.ID || string(q[0].Payload) != "envelope for hi" ||
		q[1].Attempts != 3 || q[2].To != "carol-id" {
		t.Fatalf("queue after reopen: %v", q)
	}
	// The item that carries an unsent disappearing message stays whatever
	// the clock says; it leaves by being sent, or with its message deleted
	// by the user.
	if _, err := s.Expire(t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if q = queue(); len(q) != 3 {
		t.Fatalf("queue after the message's time passed: %v", q)
	}
	update(t, s, func(tx *Tx) error { return tx.DeleteMessage(msg.ID) })
	if q = queue(); len(q) != 2 || q[0].ID != items[1].ID {
		t.Fatalf("queue after the message was deleted: %v", q)
	}
	update(t, s, func(tx *Tx) error { return tx.Dequeue(items[1].ID) })
	if q = queue(); len(q) != 1 || q[0].ID != items[2].ID {
		t.Fatalf("queue after dequeue: %v", q)
	}
	bad := q[0]
	bad.MessageRef = msg.ID
	if err := s.Update(func(tx *Tx) error { return tx.UpdateOutgoing(bad) }); !errors.Is(err, ErrInvalid) {
		t.Fatalf("changing an item's message: %v", err)
	}
}

func TestSeen(t *testing.T) {
	dir, s := newTestStore(t, Options{})
	mark := func(id string, at time.Time) bool {
		var fresh bool
		update(t, s, func(tx *Tx) (err error) { fresh, err = tx.MarkSeen(id, at); return })
		return fresh
	}
	if !mark("bob/m1", t0) || !mark("bob/m2", t0.Add(48*time.Hour)) {
		t.Fatal("first sighting not reported as new")
	}
	if mark("bob/m1", t0.Add(time.Hour)) {
		t.Fatal("duplicate reported as new")
	}
	s.Close()
	s = reopen(t, dir)
	if mark("bob/m1", t0.Add(2*time.Hour)) {
		t.Fatal("duplicate after restart reported as new")
	}
	var n int
	update(t, s, func(tx *Tx) (err error) { n, err = tx.ForgetSeen(t0.Add(time.Hour)); return })
	if n != 1 {
		t.Fatalf("forgot %d entries, want 1", n)
	}
	s.View(func(tx *Tx) error {
		for id, want := range map[string]bool{"bob/m1": false, "bob/m2": true, "bob/m3": false} {
			if got, err := tx.Seen(id); got != want || err != nil {
				t.Errorf("Seen(%s) = %t, %v", id, got, err)
			}
		}
		return nil
	})
}

func TestProtocolStateDeletes(t *testing.T) {
	_, s := newTestStore(t, Options{})
	fill(t, s)
	update(t, s, func(tx *Tx) error {
		return errors.Join(tx.DeletePreKey(OneTimePreKey, 3), tx.DeleteSessions("bob-id"), tx.DeletePeerIdentity(Address{"bob-id", 1}),
			tx.DeleteContact("bob-id"), tx.DeleteRequest("carol-id"), tx.DeleteSetting("default-timer"),
			tx.DeletePreKey(KyberPreKey, 77)) // missing: not an error
	})
	s.View(func(tx *Tx) error {
		ids, _ := tx.PreKeyIDs(OneTimePreKey)
		devs, _ := tx.SessionDevices("bob-id")
		_, e1 := tx.PeerIdentity(Address{"bob-id", 1})
		_, e2 := tx.Contact("bob-id")
		_, e3 := tx.Request("carol-id")
		_, e4 := tx.Setting("default-timer")
		_, e5 := tx.Session(Address{"bob-id", 1})
		if len(ids) != 1 || ids[0] != 5 || len(devs) != 0 {
			t.Errorf("prekeys %v, devices %v", ids, devs)
		}
		for i, err := range []error{e1, e2, e3, e4, e5} {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("deleted record %d: %v", i, err)
			}
		}
		return nil
	})
	if err := s.Update(func(tx *Tx) error { return tx.PutPreKey(0, 1, nil) }); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown prekey kind: %v", err)
	}
	if err := s.Update(func(tx *Tx) error { return tx.PutSession(Address{}, nil) }); !errors.Is(err, ErrInvalid) {
		t.Fatalf("session without a name: %v", err)
	}
}

// TestScrubRemovesReplacedSessions: a ratcheted session record replaces the
// old one; after Scrub no copy of the old sealed record is in any file.
func TestScrubRemovesReplacedSessions(t *testing.T) {
	dir, s := newTestStore(t, Options{})
	addr := Address{"bob-id", 1}
	update(t, s, func(tx *Tx) error { return tx.PutSession(addr, []byte("ratchet state 1")) })
	var old []byte
	s.db.QueryRow(`SELECT v FROM sessions`).Scan(&old)
	update(t, s, func(tx *Tx) error { return tx.PutSession(addr, []byte("ratchet state 2")) })
	if err := s.Scrub(); err != nil {
		t.Fatal(err)
	}
	if found := scan(t, dir, map[string][]byte{"old session": old[len(old)-24:]}); len(found) > 0 {
		t.Fatalf("replaced session still in %v", found["old session"])
	}
	s.View(func(tx *Tx) error {
		if v, err := tx.Session(addr); err != nil || string(v) != "ratchet state 2" {
			t.Errorf("current session: %v", err)
		}
		return nil
	})
}

func TestPreKeyUses(t *testing.T) {
	_, s := newTestStore(t, Options{})
	mark := func(id uint32, use string) bool {
		var fresh bool
		update(t, s, func(tx *Tx) (err error) { fresh, err = tx.MarkPreKeyUsed(KyberPreKey, id, []byte(use)); return })
		return fresh
	}
	update(t, s, func(tx *Tx) error { return tx.PutPreKey(KyberPreKey, 9, []byte("last resort")) })
	if !mark(9, "spk1|base-a") || !mark(9, "spk1|base-b") || !mark(8, "spk1|base-a") {
		t.Fatal("new uses not reported as new")
	}
	if mark(9, "spk1|base-a") {
		t.Fatal("a repeated use reported as new")
	}
	update(t, s, func(tx *Tx) error { return tx.DeletePreKey(KyberPreKey, 9) })
	if !mark(9, "spk1|base-a") {
		t.Fatal("uses outlived their prekey")
	}
	if mark(8, "spk1|base-a") {
		t.Fatal("deleting one prekey dropped another's uses")
	}
	if err := s.Update(func(tx *Tx) error { _, err := tx.MarkPreKeyUsed(KyberPreKey, 1, nil); return err }); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty use: %v", err)
	}
}

// TestConcurrentUse: writers, readers and the expiry loop share one Store
// (run with -race, as CI does).
func TestConcurrentUse(t *testing.T) {
	_, s := newTestStore(t, Options{})
	const writers, each = 4, 25
	done := make(chan error, writers+2)
	for w := range writers {
		go func() {
			for i := range each {
				err := s.Update(func(tx *Tx) error {
					m := Message{Conversation: fmt.Sprint("peer-", w), Outgoing: true, State: Sent, Body: Secret("x"), SentAt: t0, Timer: time.Duration(i%3) * time.Second}
					return tx.AddMessage(&m)
				})
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	go func() {
		for range each {
			if err := s.View(func(tx *Tx) error { _, err := tx.Messages("peer-0", 0, 0); return err }); err != nil {
				done <- err
				return
			}
			s.NextExpiry()
		}
		done <- nil
	}()
	go func() {
		for range each {
			if _, err := s.Expire(t0.Add(time.Second)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range writers + 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Expire(t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	total := 0
	s.View(func(tx *Tx) error {
		for w := range writers {
			ms, _ := tx.Messages(fmt.Sprint("peer-", w), 0, 0)
			total += len(ms)
		}
		return nil
	})
	// Messages with timer 0 stay: i%3 == 0 for 9 of each writer's 25.
	if want := writers * 9; total != want {
		t.Fatalf("%d messages left, want %d", total, want)
	}
}

// TestUnsentMessageOutlivesItsTimer: a message written while offline is
// never destroyed by its own timer before it is sent (issue 11, item 1); its
// countdown starts when its last queued item leaves, a failed one stays until
// dismissed, and a store that started counting at queueing (older versions)
// holds the message until it is sent.
func TestUnsentMessageOutlivesItsTimer(t *testing.T) {
	const timer = 30 * time.Second
	clock := t0
	type step struct {
		name  string
		state State
		items int       // queued items carrying the message (a group: one per member)
		old   bool      // written by an older version: ExpiresAt set at queueing
		fail  bool      // the last item is given up and the message marked Failed
		want  time.Time // the expiry after the last item left; zero: none
	}
	for _, tc := range []step{
		{name: "1:1", items: 1, want: t0.Add(time.Hour + timer)},
		{name: "group of three", items: 3, want: t0.Add(time.Hour + timer)},
		{name: "older store", items: 1, old: true, want: t0.Add(time.Hour + timer)},
		{name: "failed", items: 1, fail: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, s := newTestStore(t, Options{})
			clock = t0
			s.SetClock(func() time.Time { return clock })
			m := Message{Conversation: "bob-id", Outgoing: true, State: Pending, Body: Secret("queued-A"), SentAt: t0, Timer: timer}
			if tc.old {
				m.ExpiresAt = t0.Add(timer)
			}
			m = addMessage(t, s, m)
			if !tc.old && !m.ExpiresAt.IsZero() {
				t.Fatalf("an unsent message counts down: expires %v", m.ExpiresAt)
			}
			var items []Outgoing
			update(t, s, func(tx *Tx) error {
				for i := range tc.items {
					o := Outgoing{To: fmt.Sprintf("member-%d", i), MessageRef: m.ID, Payload: Secret("envelope"), CreatedAt: t0}
					if err := tx.Enqueue(&o); err != nil {
						return err
					}
					items = append(items, o)
				}
				return nil
			})
			// Offline for an hour: the timer's time passes, nothing goes.
			clock = t0.Add(time.Hour)
			res, err := s.Expire(clock)
			if err != nil {
				t.Fatal(err)
			}
			if res.Deleted != 0 {
				t.Fatalf("Expire destroyed %d unsent message(s)", res.Deleted)
			}
			if got := outbox(t, s); len(got) != tc.items {
				t.Fatalf("outbox after the timer's time: %d items, want %d", len(got), tc.items)
			}
			if got, err := getMessage(t, s, m.ID); err != nil || !got.ExpiresAt.IsZero() {
				t.Fatalf("unsent message after the timer's time: %v, expires %v", err, got.ExpiresAt)
			}
			// Back online: the items leave one by one.
			for i, o := range items {
				last := i == len(items)-1
				update(t, s, func(tx *Tx) error {
					cur, err := tx.Message(m.ID)
					if err != nil {
						return err
					}
					switch {
					case last && tc.fail:
						cur.State = Failed
					case cur.State == Pending:
						cur.State = Sent
					}
					if err := tx.UpdateMessage(cur); err != nil {
						return err
					}
					return tx.Dequeue(o.ID)
				})
				got, err := getMessage(t, s, m.ID)
				if err != nil {
					t.Fatal(err)
				}
				if !last && !got.ExpiresAt.IsZero() {
					t.Fatalf("countdown started with %d item(s) still queued", len(items)-1-i)
				}
				if last && !got.ExpiresAt.Equal(tc.want) {
					t.Fatalf("expiry after the last item left: %v, want %v", got.ExpiresAt, tc.want)
				}
			}
			if _, err := s.Expire(clock.Add(timer - time.Second)); err != nil {
				t.Fatal(err)
			}
			if _, err := getMessage(t, s, m.ID); err != nil {
				t.Fatalf("sent message gone before its timer: %v", err)
			}
			_, err = s.Expire(t0.Add(100 * 24 * time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			_, err = getMessage(t, s, m.ID)
			if tc.fail != (err == nil) {
				t.Fatalf("long after: message lookup %v (failed messages stay until dismissed, sent ones go)", err)
			}
		})
	}
}

func outbox(t testing.TB, s *Store) []Outgoing {
	t.Helper()
	var q []Outgoing
	if err := s.View(func(tx *Tx) (err error) { q, err = tx.Outbox(); return }); err != nil {
		t.Fatal(err)
	}
	return q
}

// TestSeenCommittedOnly: the dedupe record the store keeps in memory changes
// only with committed transactions: an entry made, or one forgotten, in a
// transaction that fails is as if it never happened; within one
// transaction, its own entries count.
func TestSeenCommittedOnly(t *testing.T) {
	_, s := newTestStore(t, Options{})
	boom := errors.New("boom")
	err := s.Update(func(tx *Tx) error {
		if fresh, err := tx.MarkSeen("bob/m1", t0); err != nil || !fresh {
			return fmt.Errorf("first sighting: %v, %v", fresh, err)
		}
		if fresh, _ := tx.MarkSeen("bob/m1", t0); fresh {
			return errors.New("a duplicate in the same transaction reported as new")
		}
		if seen, _ := tx.Seen("bob/m1"); !seen {
			return errors.New("the transaction's own entry not seen")
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	update(t, s, func(tx *Tx) error {
		if fresh, err := tx.MarkSeen("bob/m1", t0); err != nil || !fresh {
			t.Errorf("an entry of a failed transaction counts: %v, %v", fresh, err)
		}
		return nil
	})
	err = s.Update(func(tx *Tx) error {
		if n, err := tx.ForgetSeen(t0.Add(time.Hour)); err != nil || n != 1 {
			return fmt.Errorf("forgot %d: %v", n, err)
		}
		if seen, _ := tx.Seen("bob/m1"); seen {
			return errors.New("an entry forgotten in this transaction still seen")
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	s.View(func(tx *Tx) error {
		if seen, _ := tx.Seen("bob/m1"); !seen {
			t.Error("an entry forgotten in a failed transaction is gone")
		}
		return nil
	})
}

// TestSeenOlderTable: a version-1 store (made before seen_log) keeps its
// entries in the table seen; opened, it is moved to version 2, and they are
// still seen (a replay of such a message is refused), dumped with the rest,
// and forgotten in time. A store of a version after this one is refused.
func TestSeenOlderTable(t *testing.T) {
	dir, s := newTestStore(t, Options{})
	update(t, s, func(tx *Tx) error { // made into a version-1 store with one entry
		k := tx.hash("seen", []byte("bob/old"))
		v := tx.s.seal.Seal(envelope.AD("seen", "v", k), encodeSeen("bob/old", toNanos(t0)))
		_, err := tx.exec(`INSERT INTO seen (k, v) VALUES (?, ?)`, k, v)
		return err
	})
	for _, q := range []string{`DROP TABLE seen_log`, `PRAGMA user_version = 1`} {
		if _, err := s.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = reopen(t, dir)
	var v int
	if err := s.db.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil || v != 2 {
		t.Fatalf("the store is at version %d (%v) once opened, want 2", v, err)
	}
	update(t, s, func(tx *Tx) error {
		if fresh, err := tx.MarkSeen("bob/old", t0.Add(time.Minute)); err != nil || fresh {
			t.Errorf("an entry of the older table reported new (a replay accepted): %v, %v", fresh, err)
		}
		_, err := tx.MarkSeen("bob/new", t0.Add(48*time.Hour))
		return err
	})
	var dumped []string
	err := s.Dump(t0, func(table string, key, _ []byte) error {
		if table == "seen" {
			dumped = append(dumped, string(key))
		}
		return nil
	}, func(*Message) error { return nil })
	if err != nil || len(dumped) != 2 {
		t.Fatalf("dumped %v (%v), want both tables' entries", dumped, err)
	}
	update(t, s, func(tx *Tx) error {
		if n, err := tx.ForgetSeen(t0.Add(time.Hour)); err != nil || n != 1 {
			t.Errorf("forgot %d (%v), want the older table's one", n, err)
		}
		return nil
	})
	s.Close()
	s = reopen(t, dir)
	s.View(func(tx *Tx) error {
		if seen, _ := tx.Seen("bob/old"); seen {
			t.Error("a forgotten entry came back after a restart")
		}
		if seen, _ := tx.Seen("bob/new"); !seen {
			t.Error("an entry was lost over a restart")
		}
		return nil
	})
	if _, err := s.db.Exec(`PRAGMA user_version = 3`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(dir, pass); !errors.Is(err, ErrNewerVersion) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("a store of a later version opened: %v", err)
	}
}
