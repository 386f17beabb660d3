package main

import (
	"context"
	"fmt"
	"strings"
)

// rpcMethod is one JSON-RPC method of the daemon: the table below is both
// what the daemon dispatches on and what "sky help" and docs/json-rpc.md
// list (a test checks the document names every method), so they cannot
// drift apart.
type rpcMethod struct {
	name   string
	params string // the params object, as "sky help" shows it
	result string
	doc    string
	call   func(d *daemon, ctx context.Context, rc *rpcConn, p params, mine *[]int) (any, *rpcError)
}

// rpcMethods is filled in init: its functions refer to the daemon's, which
// refer back to the table.
var rpcMethods []rpcMethod

func init() {
	group := func(d *daemon, ctx context.Context, rc *rpcConn, p params, mine *[]int) (any, *rpcError) {
		return d.groupCall(p.method, p)
	}
	rpcMethods = []rpcMethod{
		{"id", "{}", `{"id": ID}`, "your Sky ID", func(d *daemon, _ context.Context, _ *rpcConn, _ params, _ *[]int) (any, *rpcError) {
			return map[string]string{"id": d.c.ID()}, nil
		}},
		{"send", `{"to": ID, "text": T}`, "message", "queue a text to ID (or a contact's nickname); it goes out at once while connected", rpcSend},
		{"history", `{"id": ID, "limit": N}`, "[message]", "a conversation, oldest first (limit 0: all)", rpcHistory},
		{"contacts.list", "{}", "[contact]", "your contacts", rpcContactsList},
		{"contacts.add", `{"id": ID, "name": N}`, "true", "add a contact, or rename one", func(d *daemon, _ context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
			return nil, rpcFail(d.c.AddContact(p.ID, p.Name))
		}},
		{"contacts.remove", `{"id": ID}`, "true", "remove a contact", func(d *daemon, _ context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
			return nil, rpcFail(d.c.RemoveContact(p.ID))
		}},
		{"contacts.send_as_request", `{"id": ID}`, "true", "send the messages waiting for ID, whose delivery token the server refuses, as message requests (the server learns that you write to ID)", func(d *daemon, _ context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
			return nil, rpcFail(d.c.SendAsRequest(p.ID))
		}},
		{"requests.list", "{}", "[request]", "message requests waiting for you", rpcRequestsList},
		{"requests.accept", `{"id": ID}`, "true", "accept a message request: the sender becomes a contact", func(d *daemon, _ context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
			return nil, rpcFail(d.c.Accept(p.ID))
		}},
		{"requests.reject", `{"id": ID}`, "true", "reject a message request: its messages are deleted", func(d *daemon, _ context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
			return nil, rpcFail(d.c.Reject(p.ID))
		}},
		{"group.create", `{"name": N, "members": [ID]}`, "group", "make a group (you are its admin)", group},
		{"group.add", `{"group": G, "members": [ID]}`, "group", "add members (admins only)", group},
		{"group.remove", `{"group": G, "members": [ID]}`, "group", "remove members (admins only)", group},
		{"group.leave", `{"group": G}`, "true", "leave a group", group},
		{"group.list", "{}", "[group]", "your groups", group},
		{"group.send", `{"group": G, "text": T}`, "message", "send a text to a group (G: its ID or name)", group},
		{"send.files", `{"to": ID, "files": [PATH], "text": T}`, "message", "upload files (absolute paths) once and send them with an optional caption", rpcSendFiles},
		{"group.send.files", `{"group": G, "files": [PATH], "text": T}`, "message", "send files to a group, each uploaded once", rpcGroupSendFiles},
		{"attachments.auto_download", `{"size": N}`, `{"size": N}`, "show (without size) or set the size in bytes up to which received files download by themselves (0: none)", rpcAutoDownload},
		{"attachments.save", `{"id": ATTACHMENT_ID, "out": PATH, "force": B}`, `{"path": P}`, "download, check and decrypt an attachment to a file (never over one without force)", rpcSaveAttachment},
		{"reply", `{"to": ID, "group": G, "message": MID, "text": T}`, "message", "reply to message MID of a conversation (to a contact, or group G), quoting it", rpcReply},
		{"react", `{"to": ID, "group": G, "message": MID, "emoji": E}`, "true", "react to a message with one emoji (empty: remove your reaction)", rpcReact},
		{"edit", `{"to": ID, "group": G, "message": MID, "text": T}`, "true", "edit a message you sent (within 24 hours)", rpcEdit},
		{"unsend", `{"to": ID, "group": G, "message": MID}`, "true", "delete a message you sent for everyone (within 24 hours)", rpcUnsend},
		{"search", `{"text": T, "to": ID, "group": G}`, "[message]", "messages whose text or file names contain T, in all conversations or one", rpcSearch},
		{"profile.set", `{"name": N, "avatar": PATH, "no_avatar": B}`, "profile", "set your display name and avatar (a picture file, absolute path; none: keep the current one), shared end to end with contacts", rpcProfileSet},
		{"profile.get", `{"id": ID}`, "profile", "your profile, or the one contact ID shared", rpcProfileGet},
		{"broadcast.send", `{"name": LIST, "text": T, "files": [PATH]}`, "[message]", "send a text, or files (absolute paths, each uploaded once) with an optional caption, to every member of a broadcast list, each as a 1:1 message", rpcBroadcastSend},
		{"broadcast.edit", `{"name": LIST, "message": MID, "text": T}`, "true", "edit every copy of a broadcast you sent (MID: any copy's ID; within 24 hours)", rpcBroadcastEdit},
		{"broadcast.unsend", `{"name": LIST, "message": MID}`, "true", "delete every copy of a broadcast you sent for everyone (within 24 hours)", rpcBroadcastUnsend},
		{"typing.set", `{"on": B}`, "true", "turn typing indicators on or off (off by default; off, you neither send nor see them)", rpcTypingSet},
		{"typing", `{"to": ID, "group": G, "typing": B}`, "true", "say you are typing (true) or stopped, to a contact or group G; sent at most every 3 s, only when typing indicators are on", rpcTyping},
		{"group.history", `{"group": G, "limit": N}`, "[message]", "a group's conversation; the user's texts carry each member's receipt", group},
		{"group.link", `{"group": G, "set": "new"|"revoke"}`, `{"link": L}`, "show the group's invite link (made on this device), make a new one, or revoke it (admins)", group},
		{"group.join", `{"link": L}`, `{"admin": ID, "group": G}`, "ask the admin named in an invite link to let you into its group", group},
		{"group.approve", `{"group": G, "id": ID}`, "group", "let in someone who asked to join with the invite link (admins)", group},
		{"group.deny", `{"group": G, "id": ID}`, "group", "turn down someone who asked to join with the invite link", group},
		{"group.receipts", `{"group": G, "set": "on"|"off"|"default"}`, "receipts", "show a group's delivery and read receipts setting, or (admins) set it; without set, only show", group},
		{"backup.create", `{"out": PATH, "disappearing": B, "new_key": B, "no_files": B}`, "backup", "write an encrypted backup to PATH (absolute, a new file); recovery_key only when one was made", rpcBackupCreate},
		{"backup.status", "{}", "backup status", "the recovery key's presence, the schedule, the last scheduled backup and the files written", rpcBackupStatus},
		{"receive.subscribe", "{}", `{"subscription": N}`, "get messages and events as notifications, the unread ones first", rpcSubscribe},
		{"receive.unsubscribe", `{"subscription": N}`, "true", "end a subscription", rpcUnsubscribe},
		{"cli", `{"args": [ARG], "stdin": T}`, `{"stdout": T, "stderr": T, "status": N}`, "run one of sky's everyday commands as sky would", func(d *daemon, ctx context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
			r, rerr := d.runCLI(ctx, p.cliParams)
			if rerr != nil {
				return nil, rerr
			}
			return r, nil
		}},
	}
}

// findMethod returns the method named name.
func findMethod(name string) (rpcMethod, bool) {
	for _, m := range rpcMethods {
		if m.name == name {
			return m, true
		}
	}
	return rpcMethod{}, false
}

// rpcHelp is the method list of "sky help".
func rpcHelp() string {
	var b strings.Builder
	b.WriteString("\nsky daemon's JSON-RPC 2.0 methods (one JSON object per line on HOME/sky.sock; docs/json-rpc.md):\n")
	for _, m := range rpcMethods {
		fmt.Fprintf(&b, "  %-20s %-34s → %s\n", m.name, m.params, m.result)
	}
	b.WriteString("  notifications: \"receive\" {subscription, message, line}, \"event\" {subscription, event, line}\n")
	return b.String()
}

// rpcFail is err as a JSON-RPC error (nil for nil).
func rpcFail(err error) *rpcError {
	if err == nil {
		return nil
	}
	return &rpcError{rpcServerError, oneLine(err.Error())}
}

func rpcSend(d *daemon, _ context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
	m, err := d.c.Send(p.To, p.Text)
	if err != nil {
		return nil, rpcFail(err)
	}
	return toJSON(m), nil
}

func rpcHistory(d *daemon, _ context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
	out, err := historyJSON(d.c, p.ID, p.Limit)
	return out, rpcFail(err)
}

func rpcContactsList(d *daemon, _ context.Context, _ *rpcConn, _ params, _ *[]int) (any, *rpcError) {
	cs, err := d.c.Contacts()
	names, _ := d.c.Names()
	out := []map[string]any{}
	for _, ct := range cs {
		out = append(out, contactJSON(ct, names[ct.ID]))
	}
	return out, rpcFail(err)
}

func rpcRequestsList(d *daemon, _ context.Context, _ *rpcConn, _ params, _ *[]int) (any, *rpcError) {
	rs, err := d.c.Requests()
	out := []map[string]any{}
	for _, r := range rs {
		out = append(out, map[string]any{"id": r.ID, "first_at": r.FirstAt.UTC(), "messages": r.Messages})
	}
	return out, rpcFail(err)
}

func rpcSubscribe(d *daemon, _ context.Context, rc *rpcConn, _ params, mine *[]int) (any, *rpcError) {
	d.mu.Lock()
	d.nextSub++
	id := d.nextSub
	d.subs[id] = rc
	d.mu.Unlock()
	*mine = append(*mine, id)
	return map[string]int{"subscription": id}, nil
}

func rpcUnsubscribe(d *daemon, _ context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
	d.mu.Lock()
	_, ok := d.subs[p.Subscription]
	delete(d.subs, p.Subscription)
	d.mu.Unlock()
	if !ok {
		return nil, &rpcError{rpcInvalidParams, "no such subscription"}
	}
	return nil, nil
}
