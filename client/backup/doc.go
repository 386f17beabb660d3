// Package backup writes and restores encrypted backups of a Sky account:
// one file, encrypted under a random recovery key shown to the user once,
// that brings the account back on a new machine.
//
// # What a backup holds
//
// The account (ID, server, device credential), the own identity key pair
// and prekeys, the SDK's settings (groups, timers, notes, broadcast lists,
// …), contacts, message requests, conversations, every pinned identity key
// of a contact and whether the user verified it, the dedupe record of
// message IDs seen (so the server cannot replay an old message into the
// restored account) and the message history whose deadline has not passed,
// each message with its local number, state, times, timer and deadline,
// and the blobs of its attachments this device holds (ciphertext as the
// device keeps it; the keys are in the messages), unless Options.Files is
// off. A file the device never downloaded is not in it: its pointer stays,
// and it downloads again while the server still has it.
//
// Left out: the sessions (see below), the outgoing queue (a message not yet
// sent comes back as Failed, saying so, to be sent again), the panic
// passphrase and the failed-unlock limit (the restored store has only the
// new passphrase until the user sets them again), device-bound state the
// SDK names (Options.Skip: the own group sender keys, which a restored
// device makes anew, and the backup settings themselves), and every message
// whose timer has run out.
//
// # Disappearing messages
//
// A backup is a copy, and a copy made before a message's deadline would
// still hold the message after it: whatever Sky does, someone with the file
// and the recovery key can read it with their own program. That would break
// the promise that nothing outlives its timer, so by default messages with
// a timer are not backed up at all. Options.Disappearing includes them
// (sky backup create --disappearing) for users who choose the trade: each
// keeps its deadline (one whose countdown has not started, an unread
// incoming message, gets the backup's time plus its timer), Restore never
// restores one whose deadline has passed on the restoring machine's clock,
// and the restored store destroys the rest on time. Scheduled backups keep
// only the last few files, and the panic passphrase erases every backup the
// client wrote (package store: the list of them is sealed in the key file's
// panic payload); a file copied elsewhere is out of Sky's reach.
//
// # Sessions
//
// Sessions are not restored, as Signal does it. A session's ratchet moves
// at every message; the one in a backup is stale as soon as the old device
// sends or receives again, and sending with it would repeat message keys.
// The restored device keeps the identity key, so its contacts see no key
// change (and a verified contact stays verified). On its first open
// (Manager.AfterRestore, called by the SDK's Open) it sends every contact a
// harmless delivery receipt, whose encryption starts a new session from the
// contact's prekey bundle; the contact's next messages use that session.
// A message a contact sent in the old session before the receipt arrived
// cannot be decrypted on the restored device: it is reported as dropped,
// not shown. Group members who are not contacts get a new session with the
// next message to them.
//
// # The file
//
// A header in the clear (magic, version, a random salt, a key check) and
// the backup's records, streamed through the STREAM construction over
// ChaCha20-Poly1305 in 64 KiB chunks (stream.go), keys from HKDF-SHA256 of
// the recovery key and the salt. Every chunk authenticates its number,
// whether it is the last, and the header, so a file that was altered,
// reordered, cut or extended is refused; a wrong recovery key is told apart
// by the key check. Writing and reading stream: memory stays bounded by one
// chunk and one record whatever the history's size (BenchmarkWrite,
// BenchmarkRestore: a flat peak heap of 5-7 MiB from 2,000 to 100,000
// messages). A backup reads the store in one transaction, so the account
// waits for it (about 1.6 s for 100,000 messages on the reference
// machine). The record layer
// (format.go) is decoded strictly and fuzzed (FuzzRead, FuzzRecords).
//
// Restore builds the new store in a directory beside the target and moves
// it into place only after the last chunk authenticated and the end record
// matched; any failure crypto-erases the half-built store, so nothing is
// ever half restored. The new store has keys of its own: nothing in it
// opens with the old store's keys or passphrase.
//
// # What a backup reveals
//
// To someone without the recovery key: that it is a Sky backup (the magic),
// its format version, and its size, which grows with the history (the
// chunks are not padded). The file's time stamps are the file system's.
// With the recovery key: everything listed above, including the device
// credential and the identity key, so the key is worth as much as the
// account itself. It is never written to disk in the clear; the client
// keeps it only inside its encrypted store, for scheduled backups.
package backup
