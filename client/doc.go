// Package client is the Sky client SDK: one Sky account on one device, for
// programs that embed Sky (the sky command is one).
//
// A Client owns an encrypted local store (package client/store) and, while
// Run runs, one connection to skyd (package client/conn). With it a program
// registers with an activation code (Register) or unlocks an existing
// account (Open), sends texts (Send), receives a stream of events
// (Subscribe), reads conversations (History, Unread, MarkRead), manages
// contacts and message requests, verifies safety numbers (SafetyNumber,
// Verify), sets disappearing-message timers (SetTimer, SetDefaultTimer),
// talks in groups (CreateGroup, SendGroup, AddMembers, RemoveMembers,
// LeaveGroup, …) and to broadcast lists (Broadcast), and sets a panic
// passphrase (SetPanic).
//
// # What the server can and cannot do
//
// The server is assumed hostile. Everything the client sends it is a sealed
// envelope around a Signal session ciphertext of a Content (package
// client/content) that names sender and recipient, so:
//
//   - a sender field the server adds is never read; an envelope that is not
//     sealed, a message from the wrong session, a replay or a duplicate is
//     dropped (DroppedEvent), never shown;
//   - a message is shown once, in its sender's order: each carries a stable ID
//     (kept in a persisted dedupe record) and a per-conversation sequence
//     number; one that arrives ahead of a missing one waits up to
//     Options.GapTimeout, then a GapEvent says what is missing;
//   - timer changes and receipts are messages inside the session; nothing the
//     server sends can change a key, a session, a timer or a setting, or make
//     the client send key material;
//   - identity keys are pinned on first use; a different key later (from the
//     server's key directory or in a first message) is never used until the
//     user compares safety numbers and accepts it (IdentityChangedError);
//     Verify is given the number compared, so a key the server presents
//     after the user read the number is not the one accepted;
//   - the signed and last-resort prekeys, all that protects a first message
//     when the server hands out no one-time prekey, are replaced every week
//     and deleted two months later (package client/core, prekeys.go);
//   - what waits for a sender, a group or a key decision is bounded in
//     items and in bytes.
//
// Groups (package client/group) live only on their members' clients. A change is
// made by an admin and sent to each member inside the 1:1 session; a member
// applies it only if the session's peer is an admin of its own copy of the
// group and the version is newer (package client/group), and shows it
// (GroupEvent). Group texts are encrypted once with the sender's sender key
// and sent to each member's device as its own sealed envelope; a member
// encrypts texts and its sender key only for the members of its own copy,
// and replaces its sender key when someone leaves or is removed. Nothing is
// ever encrypted to a device an account did not announce (core/devices.go): the
// server cannot add a member or a device.
//
// Every message leaves as a sealed-sender envelope, padded to one of the
// server's few sealed sizes: the server sees its recipient, never its
// sender (core/sealed.go). The sender certificate inside is checked under the
// trust root pinned at registration, which nothing the server sends can
// replace.
//
// # Delivery
//
// A received message is stored — with the session state that decrypted it
// and its dedupe record, in one transaction — before the server is told to
// delete it. An outgoing message is stored with an outbox item before Send
// returns; the item is encrypted once, stored encrypted, then sent, so
// nothing is lost or doubled by a crash, a lost connection or a restart, and
// messages written offline go out when the client connects. Delivery and read
// receipts are end-to-end encrypted messages to contacts, never to message
// requests that were not accepted. Requests are bounded (Options.MaxRequests
// waiting, Options.MaxRequestMessages each; a stranger's group invitation is
// a request too, and also bounded by Options.MaxGroups): a hostile server can
// pose as any number of strangers, and must not be able to fill the disk.
// Nothing is kept (no session, no pinned key) of anyone who is not a
// contact, a waiting request or a member of a group the user is in, unless
// their message starts a request; what waits for a group change or a key
// decision is held within one bound each for everyone together.
//
// A delivery token the server refuses for a key the peer gave the client is
// only the server's word: the client keeps the key and holds the messages
// (AccessRefusedEvent) rather than name the user to the server, and asks
// the peer end to end, on an anonymous connection, for their current key;
// the peer's client answers contacts, and the messages go under the key it
// sends. Only the user's choice (SendAsRequest) names the user meanwhile.
//
// # Disappearing messages and panic
//
// Every conversation has a timer (5 s to 4 weeks, or off; new conversations
// take the account default, 30 s after reading unless changed). The sender's
// copy counts from sending, the recipient's from reading; the store destroys
// the message's own key when it expires. A panic passphrase typed at Open
// erases the store (and, if the user chose so, the server account) and
// leaves what a fresh install shows (ErrNoAccount).
package client
