// Command sky is the Sky client: a scriptable command line over the client
// SDK (package client), and a daemon that serves JSON-RPC 2.0 on a unix
// socket for bots and integrations.
//
//	sky [--home DIR] [--passphrase-file FILE] COMMAND [ARGS]
//
// Run "sky help" for the commands. The home directory is --home, else
// $SKY_HOME, else the user's data directory (~/.local/share/sky on Linux).
// The passphrase is read from the terminal without echo, or from
// $SKY_PASSPHRASE or --passphrase-file for scripts ($SKY_PANIC_PASSPHRASE for
// "panic set").
//
// Every failure prints one line saying what failed and what to do, and exits
// non-zero (2 for a wrong command line). With --json, standard output holds
// only JSON, one object per line; notes go to standard error.
//
// "sky daemon" stays connected and serves JSON-RPC 2.0 on a unix socket
// (HOME/sky.sock, mode 0600; one JSON object per line each way). Its
// methods (rpcmethods.go) are listed by "sky help" and documented in
// docs/json-rpc.md. While a daemon serves on HOME/sky.sock, sky
// has it carry out id, send, receive, history, contacts, requests, group,
// broadcast, verify and timer (asking for no passphrase); the other commands
// need the daemon stopped.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/ui/safetext"
)

const usage = `sky is the Sky client.

usage: sky [--home DIR] [--passphrase-file FILE] COMMAND [ARGS]

  init --server URL --trust-root KEY --code CODE [--wipe-after N]
                                    create an account; prints your Sky ID (KEY is the
                                    server's trust root, from its operator, pinned for good)
  link CODE --server URL --trust-root KEY
                                    make this home a new device of an existing account
                                    (the code comes from sky devices link on one of its devices)
  id [--qr]                         print your Sky ID (and a QR code)
  send ID TEXT | send ID -          send a message (- reads the text from stdin)
  send ID --file PATH... [TEXT]     send files (photos' metadata removed), TEXT their caption;
                                    group send and broadcast send take --file alike
  save ATTACHMENT_ID [--out PATH] [--force]
                                    download and decrypt an attachment (IDs as receive and
                                    history print them); never overwrites without --force
  auto-download [SIZE|off]          show or set the size up to which received files download
                                    by themselves (default 100MiB; larger ones wait for save,
                                    which works while the server keeps them, 48 hours)
  receive [--follow] [--timeout D] [--json]
                                    print new messages and events
  history ID [--limit N] [--json]   print a conversation
  dismiss ID [MSGID...]             delete failed messages (all of the conversation's, or those)
  send-as-request ID                send the messages waiting for ID, whose delivery token the
                                    server refuses, as message requests (the server then
                                    learns that you write to ID)
  group create NAME ID... | add GROUP ID... | remove GROUP ID... | rename GROUP NAME
        | admin GROUP ID [--remove] | timer GROUP DURATION|off | leave GROUP
                                    make and change groups (you are admin of the ones
                                    you create; GROUP is a group's ID or name)
  group list | show GROUP | send GROUP TEXT | send GROUP - | history GROUP [--json]
                                    read and write in groups
  group link GROUP [--new|--revoke] [--qr] | approve GROUP ID | deny GROUP ID
                                    an invite link (sky:join:…): whoever has it can ask
                                    you, an admin, to let them in; it shows them your ID
                                    and the group's ID, nothing else of the group
  group join LINK                   ask the admin named in an invite link to let you in
  broadcast create NAME ID... | list | delete NAME | send NAME TEXT
            | edit NAME MSG TEXT | unsend NAME MSG  (MSG: any copy's ID; every copy, within 24 h)
                                    a broadcast list: one text sent to each as a 1:1 message
  contacts add ID [--name N] | list [--json] | remove ID
  profile set --name NAME [--avatar FILE|--no-avatar] | show [ID] [--json] [--avatar-out FILE]
                                    your display name and picture, sent end to end to
                                    contacts (never to strangers); a nickname you give wins
  typing [on|off]                   typing indicators in sky web and sky tui (off by default:
                                    they show others when you are active)
  requests list [--json] | accept ID | reject ID
  verify ID [--qr] [--confirm NUMBER | --keep-old]
                                    show the safety number; --confirm NUMBER marks the
                                    number compared verified (or accepts a new key),
                                    --keep-old refuses a new key
  timer ID [DURATION|off]           show or set a conversation's disappearing timer
  reply CONV MSG TEXT | react CONV MSG [EMOJI] | edit CONV MSG TEXT | unsend CONV MSG
                                    quote, react to (no EMOJI: remove), edit or delete for
                                    everyone message MSG (its ID; CONV a contact or group);
                                    only your own within 24 hours for edit and unsend
  search TEXT [--with CONV] [--json]
                                    find messages by text or file name (decrypted and
                                    scanned in memory; no index on disk)
  timer --default [DURATION|off]    show or set the timer of new conversations
  panic set [--delete-account | --wipe-all-devices] | clear | status | wipe-after N
                                    the panic passphrase (wipes everything when typed),
                                    and the wipe after N failed unlocks (0: never)
  account status [--json] | delete [--yes]
  devices list [--json] | link | remove N
                                    the account's devices (up to 5), on a list signed by your
                                    identity key that contacts check; link prints a one-time
                                    code for sky link and waits; remove N makes device N erase
                                    itself and stops contacts sending to it
  notes add TITLE [TEXT|-] [--timer D] | list [--json] | show ID [--json]
        | edit ID [--title T] [--text T|-] [--timer D|off] | rm ID
                                    notes to self, kept only in the encrypted store
  backup create [FILE] [--disappearing] [--new-key] [--no-files] [--json]
                                    an encrypted backup of the account (the first one shows
                                    the recovery key, once; messages with a timer only with
                                    --disappearing, each keeping its deadline)
  backup restore FILE | restore FILE
                                    bring a backup back in a fresh home (asks for the recovery
                                    key, then a new passphrase); sessions start anew
  backup schedule --dir DIR [--every D] [--keep N] [--disappearing] | schedule off
        | status [--json] | run [--now]
                                    automatic backups while sky daemon/web/tui runs (or cron:
                                    sky backup run); the panic passphrase erases them all
  web [--listen 127.0.0.1:PORT] [--open]
                                    the app in your browser: prints the address to open
                                    (it starts locked); also serves the daemon's socket
  daemon [--socket PATH]            stay connected; serve JSON-RPC 2.0 on a unix socket
                                    (HOME/sky.sock); while it runs there, id, send, receive,
                                    history, contacts, requests, group, broadcast, verify and
                                    timer go through it
  tui [ID|NAME|GROUP] [--no-mouse]  chat in the terminal (holds the daemon's socket too)

Durations: 30s, 5m, 1h, 2d, 4w (5 seconds to 4 weeks), or off.
Environment: SKY_HOME, SKY_PASSPHRASE, SKY_PANIC_PASSPHRASE, SKY_RECOVERY_KEY.
`

// errUsage marks a command line that cannot be run; it exits with status 2.
var errUsage = errors.New("usage")

// usageError is a wrong command line, with what is wrong.
func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

func main() { os.Exit(sky()) }

// sky runs the command line and returns the exit status.
func sky() int {
	disableCoreDumps()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return report(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr), os.Stderr)
}

// report prints err as one line and returns the exit status.
func report(err error, stderr io.Writer) int {
	var status exitStatus
	switch {
	case err == nil:
		return 0
	case errors.As(err, &status):
		return int(status) // its message is printed already
	case errors.Is(err, flag.ErrHelp):
		return 2
	case errors.Is(err, errUsage):
		msg := strings.TrimPrefix(err.Error(), errUsage.Error()+": ")
		fmt.Fprintf(stderr, "sky: %s (run \"sky help\" for the commands)\n", msg)
		return 2
	}
	fmt.Fprintln(stderr, "sky:", oneLine(err.Error()))
	return 1
}

// oneLine is s on one line, inert: errors may quote what a peer or the
// server chose.
func oneLine(s string) string {
	return safetext.Line(strings.Join(strings.Fields(s), " "))
}

// env is what every command gets.
type env struct {
	ctx            context.Context
	home           string
	passphraseFile string
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// shared, in a daemon running a command for sky (viadaemon.go), is the
	// daemon's client: open returns it, online and release leave it be.
	shared *client.Client
	// waiting: the user watches this command (receive), so reconnection
	// attempts are not left to back off to a minute.
	waiting bool
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	fs := flag.NewFlagSet("sky", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&e.home, "home", "", "")
	fs.StringVar(&e.passphraseFile, "passphrase-file", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage+rpcHelp())
			return nil
		}
		return usageError("%v", err)
	}
	args = fs.Args()
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		fmt.Fprint(stdout, usage+rpcHelp())
		return nil
	}
	h, ok := commands[cmd]
	if !ok {
		return usageError("unknown command %q", cmd)
	}
	home, err := resolveHome(e.home, e.getenv)
	if err != nil {
		return err
	}
	e.home = home
	if ok, err := e.viaDaemon(args); ok {
		return err
	}
	return h(e, rest)
}

var commands map[string]func(*env, []string) error

func init() {
	commands = map[string]func(*env, []string) error{
		"init":            cmdInit,
		"id":              cmdID,
		"send":            cmdSend,
		"receive":         cmdReceive,
		"history":         cmdHistory,
		"dismiss":         cmdDismiss,
		"send-as-request": cmdSendAsRequest,
		"group":           cmdGroup,
		"broadcast":       cmdBroadcast,
		"contacts":        cmdContacts,
		"requests":        cmdRequests,
		"verify":          cmdVerify,
		"timer":           cmdTimer,
		"panic":           cmdPanic,
		"account":         cmdAccount,
		"daemon":          cmdDaemon,
		"tui":             cmdTUI,
		"save":            cmdSave,
		"auto-download":   cmdAutoDownload,
		"notes":           cmdNotes,
		"web":             cmdWeb,
		"profile":         cmdProfile,
		"backup":          cmdBackup,
		"restore":         cmdRestore,
		"typing":          cmdTyping,
		"devices":         cmdDevices,
		"link":            cmdLink,
		"reply":           cmdReply, "react": cmdReact, "edit": cmdEdit, "unsend": cmdUnsend, "search": cmdSearch,
	}
}
