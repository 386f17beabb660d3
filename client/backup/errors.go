package backup

import "errors"

// Errors of backup and restore. Each says what failed and what to do; none
// carries a key or content. Compare with errors.Is.
var (
	ErrBadRecoveryCode = errors.New("that is not a Sky recovery key (52 characters A-Z and 2-7, in groups of four); check what you typed")
	ErrWrongKey        = errors.New("the recovery key does not open this backup; use the key shown when this backup was made")
	ErrNotBackup       = errors.New("the file is not a Sky backup")
	ErrNewerVersion    = errors.New("the backup was made by a newer version of Sky; upgrade Sky to restore it")
	ErrDamaged         = errors.New("the backup is damaged, truncated or was altered; nothing was restored; use another copy of it")
	ErrHomeInUse       = errors.New("the home directory already holds a Sky account; restore into a fresh home (--home DIR)")
	ErrNoSchedule      = errors.New("scheduled backups are off; turn them on with sky backup schedule --dir DIR --every D")
)
