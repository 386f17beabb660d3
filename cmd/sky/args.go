package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// parse parses a command's flags wherever they stand among its arguments
// ("history ID --json" and "history --json ID" both work; "--" ends flags)
// and checks the number of positional arguments.
func parse(fs *flag.FlagSet, args []string, minArgs, maxArgs int, what string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError("%s: %v", fs.Name(), err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) < minArgs || len(pos) > maxArgs {
		return nil, usageError("%s expects %s", fs.Name(), what)
	}
	return pos, nil
}

// resolveHome picks the home directory: --home, then $SKY_HOME, then the
// user's data directory.
func resolveHome(flagHome string, getenv func(string) string) (string, error) {
	if flagHome != "" {
		return filepath.Abs(flagHome)
	}
	if h := getenv("SKY_HOME"); h != "" {
		return filepath.Abs(h)
	}
	if d := getenv("XDG_DATA_HOME"); d != "" && runtime.GOOS != "darwin" && runtime.GOOS != "windows" {
		return filepath.Join(d, "sky"), nil
	}
	switch runtime.GOOS {
	case "windows":
		if d := getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "sky"), nil
		}
	case "darwin":
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, "Library", "Application Support", "sky"), nil
		}
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", errors.New("cannot find a home directory for Sky; give one with --home DIR or SKY_HOME")
	}
	return filepath.Join(h, ".local", "share", "sky"), nil
}

// storeDir is where the encrypted store lives inside the home.
func storeDir(home string) string { return filepath.Join(home, "store") }

// parseTimer reads a timer: a Go duration or a number with d (days) or w
// (weeks), or "off".
func parseTimer(s string) (time.Duration, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "off" || s == "0" {
		return 0, nil
	}
	bad := fmt.Errorf("%q is not a duration; write for example 30s, 5m, 1h, 2d, 4w or off", s)
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.Atoi(n)
			if err != nil || v <= 0 || v > 10000 {
				return 0, bad
			}
			return time.Duration(v) * unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, bad
	}
	return d, nil
}

// formatTimer writes a timer as parseTimer reads it.
func formatTimer(d time.Duration) string {
	switch {
	case d == 0:
		return "off"
	case d%(7*24*time.Hour) == 0:
		return fmt.Sprintf("%dw", d/(7*24*time.Hour))
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

// timerWords says a timer in a sentence: "off", or "after 5m".
func timerWords(d time.Duration) string {
	if d == 0 {
		return "off"
	}
	return "after " + formatTimer(d)
}
