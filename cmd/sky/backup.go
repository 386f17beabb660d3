package main

// Encrypted backups (package client/backup): create, restore, status, and
// the schedule.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/client/backup"
)

func cmdBackup(e *env, args []string) error {
	if len(args) == 0 {
		return usageError("backup expects create, restore, status, schedule or run")
	}
	if strings.HasPrefix(args[0], "-") { // sky backup --out FILE (the form)
		return backupCreate(e, args)
	}
	switch args[0] {
	case "create":
		return backupCreate(e, args[1:])
	case "restore":
		return cmdRestore(e, args[1:])
	case "status":
		return backupStatus(e, args[1:])
	case "schedule":
		return backupSchedule(e, args[1:])
	case "run":
		return backupRun(e, args[1:])
	}
	return usageError("backup expects create, restore, status, schedule or run, not %q", args[0])
}

type jsonBackup struct {
	Path         string    `json:"path"`
	Created      time.Time `json:"created"`
	Records      int       `json:"records"`
	Messages     int       `json:"messages"`
	Files        int       `json:"files"`
	FileBytes    int64     `json:"file_bytes"`
	LeftOut      int       `json:"left_out"`
	Disappearing bool      `json:"disappearing"`
	RecoveryKey  string    `json:"recovery_key,omitempty"`
}

func backupJSON(r backup.Result) jsonBackup {
	return jsonBackup{Path: r.Path, Created: r.Created, Records: r.Records, Messages: r.Messages, Files: r.Files, FileBytes: r.FileBytes, LeftOut: r.LeftOut,
		Disappearing: r.Disappearing, RecoveryKey: r.Code}
}

// reportBackup prints a backup made, and the recovery key if it is new.
func reportBackup(e *env, r backup.Result, asJSON bool) error {
	if asJSON {
		return writeJSON(e.stdout, backupJSON(r))
	}
	fmt.Fprintln(e.stdout, r.Path)
	left := ""
	if r.LeftOut > 0 {
		left = fmt.Sprintf("; %d disappearing messages left out (--disappearing includes them)", r.LeftOut)
	}
	fmt.Fprintf(e.stderr, "sky: backed up %d messages, %d attachments' files (%d bytes) and %d other records%s\n",
		r.Messages, r.Files, r.FileBytes, r.Records, left)
	if r.Code != "" {
		fmt.Fprintf(e.stdout, "\nRecovery key: %s\n\n", r.Code)
		fmt.Fprintln(e.stderr, "sky: write the recovery key down and keep it apart from the backup: it is shown only now,")
		fmt.Fprintln(e.stderr, "sky: and without it no backup of this account can be restored (sky backup create --new-key makes another).")
	}
	return nil
}

func backupCreate(e *env, args []string) error {
	fs := flag.NewFlagSet("backup create", flag.ContinueOnError)
	out := fs.String("out", "", "")
	disappearing := fs.Bool("disappearing", false, "")
	newKey := fs.Bool("new-key", false, "")
	noFiles := fs.Bool("no-files", false, "")
	asJSON := fs.Bool("json", false, "")
	pos, err := parse(fs, args, 0, 1, "[FILE] [--disappearing] [--new-key] [--no-files] [--json]")
	if err != nil {
		return err
	}
	path := *out
	if len(pos) == 1 {
		if path != "" {
			return usageError("backup create takes FILE or --out FILE, not both")
		}
		path = pos[0]
	}
	return withClient(e, func(c *client.Client) error {
		if path == "" {
			path = "sky-backup-" + time.Now().UTC().Format("20060102-150405") + ".skybackup"
		}
		r, err := c.Backups().Create(path, backup.CreateOptions{Disappearing: *disappearing, NewKey: *newKey, NoFiles: *noFiles})
		if err != nil {
			return fmt.Errorf("the backup failed: %w", err)
		}
		return reportBackup(e, r, *asJSON)
	})
}

func backupRun(e *env, args []string) error {
	fs := flag.NewFlagSet("backup run", flag.ContinueOnError)
	now := fs.Bool("now", false, "")
	asJSON := fs.Bool("json", false, "")
	if _, err := parse(fs, args, 0, 0, "[--now] [--json]"); err != nil {
		return err
	}
	return withClient(e, func(c *client.Client) error {
		r, ran, err := c.Backups().RunDue(*now)
		if err != nil {
			return fmt.Errorf("the scheduled backup failed: %w", err)
		}
		if !ran {
			fmt.Fprintln(e.stderr, "sky: no scheduled backup is due (--now makes one anyway)")
			return nil
		}
		return reportBackup(e, r, *asJSON)
	})
}

func backupSchedule(e *env, args []string) error {
	fs := flag.NewFlagSet("backup schedule", flag.ContinueOnError)
	dir := fs.String("dir", "", "")
	every := fs.String("every", "1d", "")
	keep := fs.Int("keep", 7, "")
	disappearing := fs.Bool("disappearing", false, "")
	pos, err := parse(fs, args, 0, 1, "--dir DIR [--every D] [--keep N] [--disappearing] | off")
	if err != nil {
		return err
	}
	s := backup.Schedule{Keep: *keep, Disappearing: *disappearing}
	switch {
	case len(pos) == 1 && pos[0] == "off":
	case len(pos) == 1:
		return usageError("backup schedule takes off, or --dir DIR")
	case *dir == "":
		return usageError("backup schedule needs --dir DIR (where the backups go) or off")
	default:
		if s.Dir, err = filepath.Abs(*dir); err != nil {
			return err
		}
		if s.Every, err = parseTimer(*every); err != nil || s.Every == 0 {
			return usageError("--every: write for example 12h, 1d or 1w")
		}
	}
	return withClient(e, func(c *client.Client) error {
		code, err := c.Backups().SetSchedule(s)
		if err != nil {
			return err
		}
		if s.Every == 0 {
			fmt.Fprintln(e.stderr, "sky: scheduled backups are off")
			return nil
		}
		fmt.Fprintf(e.stderr, "sky: a backup goes to %s every %s while sky daemon, web or tui runs (or at sky backup run); the last %d are kept\n",
			s.Dir, formatTimer(s.Every), s.Keep)
		if code != "" {
			fmt.Fprintf(e.stdout, "\nRecovery key: %s\n\n", code)
			fmt.Fprintln(e.stderr, "sky: write the recovery key down and keep it apart from the backups: it is shown only now.")
		}
		return nil
	})
}

type jsonBackupStatus struct {
	RecoveryKey bool       `json:"recovery_key"`
	Dir         string     `json:"dir,omitempty"`
	Every       int64      `json:"every_seconds,omitempty"`
	Keep        int        `json:"keep,omitempty"`
	Last        *time.Time `json:"last,omitempty"`
	LastPath    string     `json:"last_path,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	Next        *time.Time `json:"next,omitempty"`
	Files       []string   `json:"files"`
}

func statusJSON(s backup.Status) jsonBackupStatus {
	files := s.Files
	if files == nil {
		files = []string{}
	}
	return jsonBackupStatus{RecoveryKey: s.KeySet, Dir: s.Schedule.Dir, Every: int64(s.Schedule.Every / time.Second), Keep: s.Schedule.Keep,
		Last: optTime(s.Last), LastPath: s.LastPath, LastError: s.LastErr, Next: optTime(s.Next), Files: files}
}

func backupStatus(e *env, args []string) error {
	fs := flag.NewFlagSet("backup status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	if _, err := parse(fs, args, 0, 0, "[--json]"); err != nil {
		return err
	}
	return withClient(e, func(c *client.Client) error {
		s, err := c.Backups().Status()
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e.stdout, statusJSON(s))
		}
		key := "none yet (the first backup makes it)"
		if s.KeySet {
			key = "set (shown once when it was made)"
		}
		fmt.Fprintf(e.stdout, "recovery key: %s\n", key)
		if s.Schedule.Every == 0 {
			fmt.Fprintln(e.stdout, "schedule: off")
		} else {
			fmt.Fprintf(e.stdout, "schedule: every %s to %s, keeping %d\n", formatTimer(s.Schedule.Every), s.Schedule.Dir, s.Schedule.Keep)
			fmt.Fprintf(e.stdout, "next: %s\n", s.Next.Local().Format("2006-01-02 15:04"))
		}
		if !s.Last.IsZero() {
			fmt.Fprintf(e.stdout, "last scheduled: %s %s\n", s.Last.Local().Format("2006-01-02 15:04"), s.LastPath)
		}
		if s.LastErr != "" {
			fmt.Fprintf(e.stdout, "last scheduled backup failed: %s\n", oneLine(s.LastErr))
		}
		for _, f := range s.Files {
			fmt.Fprintf(e.stdout, "file: %s\n", f)
		}
		return nil
	})
}

// recoveryKey reads the recovery key: $SKY_RECOVERY_KEY, else the terminal
// (without echo).
func (e *env) recoveryKey() (backup.RecoveryKey, error) {
	code := e.getenv("SKY_RECOVERY_KEY")
	if code == "" {
		b, err := prompt("Recovery key: ", false,
			errors.New("no recovery key: run sky in a terminal, or set SKY_RECOVERY_KEY"))
		if err != nil {
			return backup.RecoveryKey{}, err
		}
		code = string(b)
		clear(b)
	}
	return backup.ParseRecoveryKey(code)
}

// cmdRestore restores a backup into a home without an account: it asks for
// the recovery key first (checked before anything is written), then for
// the new passphrase.
func cmdRestore(e *env, args []string) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	pos, err := parse(fs, args, 1, 1, "FILE [--json]")
	if err != nil {
		return err
	}
	if exists, _ := storeExists(e.home); exists {
		return fmt.Errorf("%w (%s)", backup.ErrHomeInUse, e.home)
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return fmt.Errorf("cannot read the backup: %w", err)
	}
	defer f.Close()
	k, err := e.recoveryKey()
	if err != nil {
		return err
	}
	defer k.Zero()
	// Check the key against the file's header before asking for anything
	// else: a wrong key is said at once.
	head := make([]byte, 256)
	n, _ := io.ReadFull(f, head)
	if err := backup.Read(bytes.NewReader(head[:n]), k, backup.Handler{}); errors.Is(err, backup.ErrWrongKey) || errors.Is(err, backup.ErrNotBackup) || errors.Is(err, backup.ErrNewerVersion) {
		return fmt.Errorf("nothing was restored: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	pass, err := e.passphrase(true)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(e.home, 0o700); err != nil {
		return err
	}
	sum, err := backup.Restore(storeDir(e.home), f, k, pass, backup.RestoreOptions{KDF: testKDF})
	clear(pass)
	if err != nil {
		return fmt.Errorf("nothing was restored: %w", err)
	}
	if *asJSON {
		return writeJSON(e.stdout, map[string]any{"id": sum.AccountID, "server": sum.Server, "created": sum.Created,
			"messages": sum.Messages, "files": sum.Files, "records": sum.Records, "left_out": sum.LeftOut})
	}
	fmt.Fprintln(e.stdout, sum.AccountID)
	fmt.Fprintf(e.stderr, "sky: restored %s from the backup of %s: %d messages (%d past their deadline left out), %d attachments' files\n",
		sum.AccountID, sum.Created.Local().Format("2006-01-02 15:04"), sum.Messages, sum.LeftOut, sum.Files)
	fmt.Fprintln(e.stderr, "sky: sessions start anew: your first message to each contact starts one (they see no key change);")
	fmt.Fprintln(e.stderr, "sky: set your panic passphrase again (sky panic set), it is not part of a backup")
	return nil
}

func rpcBackupCreate(d *daemon, _ context.Context, _ *rpcConn, p params, _ *[]int) (any, *rpcError) {
	if p.Out == "" || !filepath.IsAbs(p.Out) {
		return nil, &rpcError{rpcInvalidParams, "out must be an absolute path to a new file (the daemon's working directory is its own)"}
	}
	r, err := d.c.Backups().Create(p.Out, backup.CreateOptions{Disappearing: p.Disappearing, NewKey: p.NewKey, NoFiles: p.NoFiles})
	if err != nil {
		return nil, rpcFail(err)
	}
	return backupJSON(r), nil
}

func rpcBackupStatus(d *daemon, _ context.Context, _ *rpcConn, _ params, _ *[]int) (any, *rpcError) {
	s, err := d.c.Backups().Status()
	if err != nil {
		return nil, rpcFail(err)
	}
	return statusJSON(s), nil
}

// runScheduledBackups makes the scheduled backup whenever one is due while
// a host holds the account (sky daemon, web, tui): at once if one is due,
// then checking every minute. A failure is said on stderr and kept for
// sky backup status.
func runScheduledBackups(ctx context.Context, c *client.Client, stderr io.Writer) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		if _, ran, err := c.Backups().RunDue(false); ran && err != nil {
			fmt.Fprintln(stderr, "sky: the scheduled backup failed:", oneLine(err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// backupArgs makes the paths of a backup command absolute before a daemon
// carries it out (its working directory is its own): backup create's FILE
// (or the default name in this directory), and schedule's --dir.
func backupArgs(args []string) []string {
	if len(args) < 2 || args[0] != "backup" {
		return args
	}
	out := slices.Clone(args)
	switch sub := args[1]; {
	case sub == "create" || strings.HasPrefix(sub, "-"):
		start, named := 2, false
		if sub != "create" {
			start = 1
		}
		for i := start; i < len(out); i++ {
			name, _, eq := strings.Cut(out[i], "=")
			switch {
			case strings.TrimLeft(name, "-") == "out":
				named = true
				if !eq {
					i++ // absFileArgs makes its value absolute
				}
			case !strings.HasPrefix(out[i], "-"):
				out[i], named = abs(out[i]), true
			}
		}
		if !named {
			out = append(out, abs("sky-backup-"+time.Now().UTC().Format("20060102-150405")+".skybackup"))
		}
	case sub == "schedule":
		for i := 2; i < len(out); i++ {
			name, val, eq := strings.Cut(out[i], "=")
			if strings.TrimLeft(name, "-") != "dir" || !strings.HasPrefix(name, "-") {
				continue
			}
			if eq {
				out[i] = name + "=" + abs(val)
			} else if i+1 < len(out) {
				out[i+1] = abs(out[i+1])
				i++
			}
		}
	}
	return out
}
