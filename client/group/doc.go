// Package group is the membership logic of Sky groups, apart from any I/O:
// what a member accepts as a group's state, and what follows from it.
//
// A group's state (State: version, name, members, admins, timer) lives only
// on its members' clients. Every change is a whole new state made by an
// admin (Change), delivered to each member inside the 1:1 session with the
// author, so the receiving client knows who made it; the server carries
// only sealed envelopes and learns nothing of the group.
//
// A member accepts a change (Record.Apply) only when:
//
//   - it comes from an admin of the member's current state, and its version
//     is higher than the current one; or
//   - it has the current version but differs from the accepted change
//     (two admins changed the group at once): then the change with the
//     greater digest wins, on every member alike, provided its author was
//     an admin of the state both changes replaced; or
//   - the member does not know the group (or was removed from it) and the
//     change names it as a member and its author as an admin: an
//     invitation.
//
// Every change is also signed (chain.go, signed.go): ApplySigned checks a
// change's proof — admin signatures back to a creation signed by the group
// key the ID commits to — before these rules judge it, so no copy of the
// group its admins did not sign is accepted, by a member or an invitee.
//
// Everything else — an older version (a replay), a change by a non-admin,
// the loser of a concurrent change — is refused with a typed error and
// changes nothing. A member may also leave on its own (Record.Depart): the
// others stop sending to it at once, and an admin removes it with a change.
//
// Applying a change returns an Outcome: what to show (Diff), whether the
// member must replace its own sender key because someone who held it is
// gone (Rotate), and whose sender keys to forget. Recipients is the one
// list a member encrypts group messages and sender keys to.
package group
