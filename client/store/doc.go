// Package store is the Sky client's encrypted local store: the account,
// the protocol state (identity, sessions, prekeys), contacts, message
// requests, conversations, messages, settings, the dedupe record of seen
// message IDs and the outgoing queue, all in one SQLite database
// (modernc.org/sqlite, pure Go) in a directory of its own.
//
// It is a Go API for the client SDK, not for end users. The SDK opens the
// store with the user's passphrase, does its work in transactions
// (Store.Update, Store.View and the methods of Tx), calls Store.Expire on its
// timer, and handles the two outcomes of Open that are not a store: a
// *WrongPassphraseError and a *WipedError. Package client/protostore gives
// the protocol core its stores (sessions, identities, prekeys) over a Tx, so
// a decryption and the message it yields commit together.
//
// # Files
//
// The directory holds sky.key (the key file, package keyfile), sky.db and,
// while the store is open, sky.db-wal. The store takes an exclusive lock on
// the directory while it uses it (ErrLocked for a second process). It never
// touches other files; Create refuses a directory that has any.
//
// # Encryption at rest
//
// A random 32-byte data key encrypts everything. From it HKDF-SHA256 derives a
// sealing key (XChaCha20-Poly1305, random nonces) and a lookup key
// (HMAC-SHA256). Every value is sealed with associated data naming its table,
// column and row, so rows cannot be swapped, moved or truncated without the
// store noticing (ErrCorrupt, and nothing else is lost). Rows are found by
// keyed hashes of identifiers: the file does not show a contact's ID, a
// session address, a message ID or a setting's name. What an observer of the
// files can see: the table layout, row counts and sizes, row numbers
// (insertion order), equal lookup hashes within a table, the Argon2id
// parameters and salt, and the count of failed unlocks.
//
// The data key is wrapped (XChaCha20-Poly1305) under a key derived from the
// passphrase with Argon2id. The default parameters, keyfile.Default, are
// 256 MiB of memory, 7 passes and 2 lanes. On the project's 2-core
// reference machine (AMD EPYC, 2 vCPUs) one derivation takes 0.51 s of wall
// time when the machine is idle (best of three) and about 1.2 s of CPU time
// over its two lanes (BenchmarkDeriveDefault reports cpu-s/op). Other load
// stretches the wall time: 0.55 s best of three at a load average of 6, and
// benchmark means of 1.2-4 s while other test suites ran. The parameters are
// stored in the key file, so they can be raised for new stores later.
// ChangePassphrase re-wraps the data key; the data itself is not rewritten.
//
// # Disappearing messages
//
// Each message is sealed under its own random key, kept (sealed under the
// data key) in a separate table with the message's expiry. An outgoing message
// with a timer starts counting at SentAt (AddMessage); an incoming one at
// MarkRead. Expire(now) destroys every message due by then: its key row, its
// row and any queued item that carries it, then checkpoints the WAL
// (TRUNCATE). With secure_delete on, no copy of the key or of the sealed
// message is left in the database file or its WAL (acceptance test 21), and
// without the key the message could not be read even from a copy of the disk
// taken before. Expire reports the next expiry, so the SDK knows when to call
// it again; time is passed in, so tests use a fake clock.
//
// # Panic passphrase
//
// SetPanic sets a second passphrase. At every unlock the one Argon2id
// derivation is tried on both slots of the key file, always both, so the real
// and the panic passphrase cost the same work (keyfile.Unlock). The panic
// passphrase opens only the panic slot, which holds a key that opens the
// panic payload: the user's choice to delete the server account, the device
// list signed in advance that orders the account's other devices to erase
// themselves if the user chose that (SetPanicOptions), and, with either, the
// account record. Open reads it, then crypto-erases the store:
//
//  1. the wipe marker is written over the start of the key file and synced;
//  2. the whole key file (both copies of both slots and the payload) is
//     overwritten in place and synced: nothing decrypts any more;
//  3. the database and its WAL are removed;
//  4. the key file is removed, then the directory if nothing else is in it.
//
// The payload also lists the backup files the client wrote (SetBackups,
// backups.go): after step 4 each one's header, which holds the salt its keys
// come from, is overwritten and synced, and the file is removed.
//
// Open then returns a *WipedError carrying the choices and the account. Its
// message is ErrNoStore's, and errors.Is(err, ErrNoStore) is true, so what
// the user sees is what a fresh install shows. A crash at any step is
// finished by the next Open, Create or Exists before anything else (the
// marker, or store files without a key file, are the signal). Store.Wipe
// erases the same way on request. The optional limit on failed unlocks
// (Options.MaxFailedUnlocks, SetMaxFailedUnlocks) erases the store the same
// way; the attempt is counted durably before the derivation starts, so
// killing the process during an unlock does not save an attempt.
//
// The panic slot and payload are always present, random when unused, and all
// three sealed parts are re-sealed with fresh nonces at every unlock, so the
// key file does not show whether a panic passphrase is set, not even to
// someone comparing copies taken before and after an unlock.
//
// # Durability and the WAL
//
// The database runs in WAL mode with synchronous=FULL (a committed Update is
// on disk), secure_delete=ON, an in-memory WAL index (locking_mode
// EXCLUSIVE: no -shm file) and in-memory temporary storage. Every deletion is
// followed by a TRUNCATE checkpoint. Session records, which change at every
// message, are checkpointed at most once a second while the store is being
// written, by Scrub, and at Close.
//
// # Limits
//
//   - Overwriting at the SQLite or file level does not reach blocks the file
//     system or an SSD has already freed or remapped. What such blocks can
//     hold is ciphertext: sealed under a per-message key that is destroyed,
//     or under the data key. An attacker with a raw image of the disk and the
//     real passphrase could open data-key-sealed leftovers, such as an old
//     message key row; one with the image alone cannot.
//   - The failed-unlock counter guards against guessing through the program,
//     not against someone who copies the files (Argon2id does that).
//   - The directory lock uses flock(2); on systems without it (Windows,
//     Solaris, AIX) Create and Open return ErrUnsupported.
//   - A wipe interrupted before Open returned loses the user's account
//     deletion choice with the key file; the server's own expiry of idle
//     accounts is the fallback.
//
// Secret types (Secret, Account, Message, Outgoing, Store, WipedError and the
// types of packages envelope and keyfile) print no key bytes, credential or
// content with any fmt verb; errors carry none either.
package store
