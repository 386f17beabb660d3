package backup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/skymsg/sky/client/core"
	"github.com/skymsg/sky/client/store"
)

// What the SDK keeps about backups, in the store's settings (sealed like
// everything else; their names hashed). None of it goes into a backup.
const (
	setPrefix   = "backup/"
	setKey      = "backup/key"      // the recovery key's 30 bytes
	setSchedule = "backup/schedule" // Schedule: 1 dir, 2 every (s), 3 keep, 4 disappearing
	setLast     = "backup/last"     // 1 unix ns of the last scheduled run, 2 its file, 3 its error
	setFiles    = "backup/files"    // bytes repeated: the files this client wrote, newest first
)

// maxTracked bounds the files remembered (and erased by a panic): the
// newest are kept.
const maxTracked = 64

// Manager makes backups of an open account: by hand (Create) and on a
// schedule (SetSchedule, RunDue). It keeps the recovery key inside the
// encrypted store, so scheduled backups need no one to type it, and
// records every file it writes so that the panic passphrase erases them.
type Manager struct{ c *core.Core }

// New returns the backup manager of c.
func New(c *core.Core) *Manager { return &Manager{c: c} }

// Schedule is when and where automatic backups go.
type Schedule struct {
	Dir          string        // absolute directory of the user's choice
	Every        time.Duration // at least MinInterval; 0: off
	Keep         int           // how many scheduled backups to keep (1..100)
	Disappearing bool          // include messages with a timer (Options.Disappearing)
}

// MinInterval is the shortest schedule.
const MinInterval = time.Hour

// Result is one backup made.
type Result struct {
	Summary
	Path string
	// Code is the recovery key, only when this backup made a new one: it
	// is shown to the user now and never again.
	Code string
}

// Status is what the user sees of backups.
type Status struct {
	KeySet   bool
	Schedule Schedule
	Last     time.Time // the last scheduled backup
	LastPath string
	LastErr  string    // why the last scheduled backup failed, if it did
	Next     time.Time // when the next scheduled backup is due (zero: off)
	Files    []string  // backups this client wrote, newest first
}

// skip names the settings a backup leaves out: the backup settings, the
// own group sender keys and the lists of who holds them (a restored device
// makes new sender keys and hands them out, as rotateSenderKey does).
func (m *Manager) skip(self string) func(string) bool {
	own := "sk/" + self + "."
	return func(name string) bool {
		return strings.HasPrefix(name, setPrefix) || strings.HasPrefix(name, own) || strings.HasPrefix(name, "group-sk-sent/")
	}
}

// key returns the stored recovery key, making one if there is none or
// fresh is set; made reports a new one (to be shown).
func (m *Manager) key(fresh bool) (k RecoveryKey, made bool, err error) {
	err = m.c.Update(func(tx *store.Tx) error {
		b, err := core.Setting(tx, setKey)
		if err != nil {
			return err
		}
		if b != nil && !fresh {
			if len(b) != keyBytes {
				return fmt.Errorf("%w: the stored recovery key has %d bytes", store.ErrCorrupt, len(b))
			}
			k = RecoveryKey{b: new([keyBytes]byte)}
			copy(k.b[:], b)
			clear(b)
			return nil
		}
		k, made = NewRecoveryKey(), true
		return tx.SetSetting(setKey, k.b[:])
	})
	return k, made, err
}

// CreateOptions are the choices of one backup by hand.
type CreateOptions struct {
	Disappearing bool // include messages with a timer (Options.Disappearing)
	NewKey       bool // make a new recovery key first
	NoFiles      bool // leave the attachments' files out (Options.Files)
}

// Create writes a backup to path (which must not exist) under the account's
// recovery key, making the key first if there is none or o.NewKey is set
// (then Result.Code holds it, to show once). A new key does not change
// backups made before: they stay under the key they were made with.
func (m *Manager) Create(path string, o CreateOptions) (Result, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Result{}, err
	}
	k, made, err := m.key(o.NewKey)
	if err != nil {
		return Result{}, err
	}
	defer k.Zero()
	sum, err := Create(m.c.St, abs, k, Options{Now: m.c.Now(), Disappearing: o.Disappearing, Files: !o.NoFiles, Skip: m.skip(m.c.Self().Name)})
	if err != nil {
		return Result{}, err
	}
	if err := m.track(abs, nil); err != nil {
		return Result{}, err
	}
	r := Result{Summary: sum, Path: abs}
	if made {
		r.Code = k.Code()
	}
	return r, nil
}

// track records a new file (newest first) and forgets the files in drop;
// the store's panic list follows.
func (m *Manager) track(add string, drop []string) error {
	var list []string
	err := m.c.Update(func(tx *store.Tx) error {
		old, err := core.StringList(tx, setFiles)
		if err != nil {
			return err
		}
		if add != "" {
			list = append(list, add)
		}
		for _, f := range old {
			if f != add && !slices.Contains(drop, f) {
				list = append(list, f)
			}
		}
		list = list[:min(len(list), maxTracked)]
		return core.SaveStringList(tx, setFiles, list)
	})
	if err != nil {
		return err
	}
	_, err = m.c.St.SetBackups(list)
	return err
}

// SetSchedule turns scheduled backups on (Every > 0) or off. Turning them
// on makes the recovery key if there is none: its code is returned, to be
// shown once.
func (m *Manager) SetSchedule(s Schedule) (code string, err error) {
	if s.Every == 0 {
		return "", m.c.Update(func(tx *store.Tx) error { return tx.DeleteSetting(setSchedule) })
	}
	switch {
	case !filepath.IsAbs(s.Dir):
		return "", fmt.Errorf("the backup directory must be an absolute path (got %q)", s.Dir)
	case s.Every < MinInterval:
		return "", fmt.Errorf("scheduled backups run at most every %v", MinInterval)
	case s.Keep < 1 || s.Keep > 100:
		return "", fmt.Errorf("keep between 1 and 100 scheduled backups (got %d)", s.Keep)
	}
	if fi, err := os.Stat(s.Dir); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("the backup directory %s does not exist; create it first", s.Dir)
	}
	k, made, err := m.key(false)
	if err != nil {
		return "", err
	}
	if made {
		code = k.Code()
	}
	k.Zero()
	var b []byte
	b = core.PutBytes(b, 1, []byte(s.Dir))
	b = core.PutNum(b, 2, uint64(s.Every/time.Second))
	b = core.PutNum(b, 3, uint64(s.Keep))
	if s.Disappearing {
		b = core.PutNum(b, 4, 1)
	}
	return code, m.c.Update(func(tx *store.Tx) error { return tx.SetSetting(setSchedule, b) })
}

// Status reports the schedule, the last scheduled backup and the files.
func (m *Manager) Status() (Status, error) {
	var st Status
	err := m.c.View(func(tx *store.Tx) error {
		k, err := core.Setting(tx, setKey)
		st.KeySet = k != nil
		clear(k)
		if err != nil {
			return err
		}
		f, err := core.SettingFields(tx, setSchedule)
		if err != nil {
			return err
		}
		st.Schedule = Schedule{Dir: string(f.One(1)), Every: time.Duration(f.Nums[2]) * time.Second, Keep: int(f.Nums[3]), Disappearing: f.Nums[4] == 1}
		l, err := core.SettingFields(tx, setLast)
		if err != nil {
			return err
		}
		if ns := l.Nums[1]; ns > 0 {
			st.Last = time.Unix(0, int64(ns))
		}
		st.LastPath, st.LastErr = string(l.One(2)), string(l.One(3))
		st.Files, err = core.StringList(tx, setFiles)
		return err
	})
	if st.Schedule.Every > 0 {
		st.Next = st.Last.Add(st.Schedule.Every)
		if st.Last.IsZero() {
			st.Next = m.c.Now()
		}
	}
	return st, err
}

// scheduledName is a scheduled backup's file name; its time is UTC to the
// second, so names sort by age.
func scheduledName(t time.Time) string {
	return "sky-backup-" + t.UTC().Format("20060102-150405.000") + ".skybackup"
}

// RunDue makes the scheduled backup if one is due at now (or force is
// set), then erases the scheduled backups beyond Keep, oldest first (only
// files this client wrote in that directory). ran reports whether a backup
// was attempted; its outcome is also recorded for Status.
func (m *Manager) RunDue(force bool) (r Result, ran bool, err error) {
	st, err := m.Status()
	if err != nil {
		return Result{}, false, err
	}
	now := m.c.Now()
	if st.Schedule.Every == 0 {
		if force {
			return Result{}, false, ErrNoSchedule
		}
		return Result{}, false, nil
	}
	if !force && now.Before(st.Next) {
		return Result{}, false, nil
	}
	path := filepath.Join(st.Schedule.Dir, scheduledName(now))
	r, err = m.Create(path, CreateOptions{Disappearing: st.Schedule.Disappearing})
	if err == nil {
		err = m.prune(st.Schedule)
	}
	m.recordRun(now, path, err)
	return r, true, err
}

func (m *Manager) recordRun(at time.Time, path string, runErr error) {
	var b []byte
	b = core.PutNum(b, 1, uint64(at.UnixNano()))
	b = core.PutBytes(b, 2, []byte(path))
	if runErr != nil {
		b = core.PutBytes(b, 3, []byte(runErr.Error()))
	}
	m.c.Update(func(tx *store.Tx) error { return tx.SetSetting(setLast, b) })
}

// prune erases this client's scheduled backups in s.Dir beyond s.Keep.
func (m *Manager) prune(s Schedule) error {
	st, err := m.Status()
	if err != nil {
		return err
	}
	var ours []string
	for _, f := range st.Files {
		if filepath.Dir(f) == filepath.Clean(s.Dir) && strings.HasPrefix(filepath.Base(f), "sky-backup-") {
			ours = append(ours, f)
		}
	}
	slices.Sort(ours)
	slices.Reverse(ours) // newest first
	if len(ours) <= s.Keep {
		return nil
	}
	old := ours[s.Keep:]
	var errs []error
	for _, f := range old {
		if err := store.EraseBackupFile(f); err != nil {
			errs = append(errs, fmt.Errorf("erasing the old backup %s: %w", f, err))
		}
	}
	return errors.Join(append(errs, m.track("", old))...)
}
