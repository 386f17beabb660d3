package web

import (
	"net/http"
	"path/filepath"
	"time"

	"github.com/skymsg/sky/client"
	"github.com/skymsg/sky/client/backup"
)

// Encrypted backups (package client/backup) in the settings: status, a
// backup by hand to a file on this computer, and the schedule. The
// recovery key a first backup makes is in that call's answer only.
var backupRoutes = map[string]route{
	"/api/backup":          {http.MethodGet, true, apiBackupStatus},
	"/api/backup/create":   {http.MethodPost, true, apiBackupCreate},
	"/api/backup/schedule": {http.MethodPost, true, apiBackupSchedule},
}

func apiBackupStatus(s *Server, c *client.Client, _ *http.Request, _ *body) (any, error) {
	st, err := c.Backups().Status()
	if err != nil {
		return nil, err
	}
	files := st.Files
	if files == nil {
		files = []string{}
	}
	return map[string]any{"keySet": st.KeySet, "dir": st.Schedule.Dir, "every": int64(st.Schedule.Every / time.Second),
		"keep": st.Schedule.Keep, "disappearing": st.Schedule.Disappearing, "last": millis(st.Last), "lastPath": st.LastPath,
		"lastError": st.LastErr, "next": millis(st.Next), "files": files}, nil
}

func apiBackupCreate(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	if !filepath.IsAbs(in.Path) {
		return nil, badRequest("Give the backup file's full path on this computer (for example /home/you/sky.skybackup).")
	}
	r, err := c.Backups().Create(in.Path, backup.CreateOptions{Disappearing: in.Disappearing})
	if err != nil {
		return nil, err
	}
	return map[string]any{"path": r.Path, "messages": r.Messages, "files": r.Files, "leftOut": r.LeftOut, "recoveryKey": r.Code}, nil
}

func apiBackupSchedule(s *Server, c *client.Client, _ *http.Request, in *body) (any, error) {
	sch := backup.Schedule{}
	if !in.Clear {
		if !filepath.IsAbs(in.Path) {
			return nil, badRequest("Give the backup folder's full path on this computer.")
		}
		sch = backup.Schedule{Dir: in.Path, Every: time.Duration(in.Seconds) * time.Second, Keep: in.N, Disappearing: in.Disappearing}
	}
	code, err := c.Backups().SetSchedule(sch)
	if err != nil {
		return nil, err
	}
	return map[string]any{"recoveryKey": code}, nil
}
