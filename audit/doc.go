// Package audit is the seized-server audit: it shows what someone who takes
// a running skyd — its database files and write-ahead log, its PostgreSQL
// tables, its logs at debug level, its /metrics page and a recording of
// all its traffic — learns about the people who used it.
//
// The package holds the tools (Capture records every byte of every
// connection and Decode turns a recording back into protocol frames;
// SQLiteTables and PostgresTables dump every row of every table; Columns
// reads the reviewed allow-list), and its test, TestSeizedServer, runs
// 23 real clients through a scripted conversation whose texts carry
// random canaries, seizes everything, and checks:
//
//   - no canary (nor any other plaintext) anywhere;
//   - no sender on any sealed envelope, stored or pushed, and every send
//     with a delivery token made on a connection that never authenticated;
//   - no contact list: no row of any table names two accounts;
//   - every stored or transmitted ciphertext is exactly one of the sealed
//     sizes (wire.SealedSizes);
//   - stored times are coarse (receive times on the hour, dates at
//     midnight) and no IP address is kept, in the database or the logs;
//   - every column of every table is on the allow-list in columns.txt,
//     each with the reason the server keeps it; a new column fails the audit
//     until someone reviews it and adds it there;
//   - a group of 21 is sent to with one multi-recipient send (sealed sender
//     v2, multi_test.go): it comes on an anonymous connection, every copy is
//     a sealed size, and the one link v2 adds — copies of one send share
//     their ephemeral key and shared ciphertext — joins exactly the copies
//     still queued for that send's offline recipients, nothing else;
//   - once the message TTL has passed (a manual clock), nothing of the
//     conversation is left: no queued row and no ciphertext byte in the
//     database files.
//
// TestSeizedCluster does the same for what NATS carries and keeps for a
// cluster of two nodes: a wiretap on the cluster's subjects and key-value
// buckets, and every message its JetStream streams hold, searched for
// canaries, account IDs, group IDs and pieces of ciphertext.
//
// Run them with
//
//	go test ./audit -run 'TestSeizedServer|TestSeizedCluster' -v
//
// which prints a summary of what was seized. With SKY_REQUIRE_POSTGRES=1
// (as in CI) it also audits a server on PostgreSQL, and fails if PostgreSQL
// is unreachable.
package audit
