package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"golang.org/x/term"
)

var errNoPassphrase = errors.New("no passphrase: run sky in a terminal, or set SKY_PASSPHRASE, or use --passphrase-file FILE")

// passphrase returns the account passphrase: from --passphrase-file, else
// $SKY_PASSPHRASE, else the terminal (without echo; twice when confirm).
func (e *env) passphrase(confirm bool) ([]byte, error) {
	if e.passphraseFile != "" {
		b, err := os.ReadFile(e.passphraseFile)
		if err != nil {
			return nil, fmt.Errorf("cannot read the passphrase file: %w", err)
		}
		b = bytes.TrimSuffix(b, []byte("\n"))
		b = bytes.TrimSuffix(b, []byte("\r"))
		if len(b) == 0 {
			return nil, errors.New("the passphrase file is empty; put the passphrase in it")
		}
		return b, nil
	}
	if p := e.getenv("SKY_PASSPHRASE"); p != "" {
		return []byte(p), nil
	}
	return prompt("Sky passphrase: ", confirm, errNoPassphrase)
}

// panicPassphrase returns the panic passphrase: $SKY_PANIC_PASSPHRASE, else
// the terminal (twice).
func (e *env) panicPassphrase() ([]byte, error) {
	if p := e.getenv("SKY_PANIC_PASSPHRASE"); p != "" {
		return []byte(p), nil
	}
	return prompt("Panic passphrase (typed at any unlock, it erases everything): ", true,
		errors.New("no panic passphrase: run sky in a terminal, or set SKY_PANIC_PASSPHRASE"))
}

// prompt reads a passphrase from the controlling terminal without echo.
func prompt(label string, confirm bool, none error) ([]byte, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	fd := -1
	out := os.Stderr
	if err == nil {
		defer tty.Close()
		fd, out = int(tty.Fd()), tty
	} else if term.IsTerminal(int(os.Stdin.Fd())) {
		fd = int(os.Stdin.Fd())
	}
	if fd < 0 || !term.IsTerminal(fd) {
		return nil, none
	}
	read := func(label string) ([]byte, error) {
		fmt.Fprint(out, label)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(out)
		if err != nil {
			return nil, fmt.Errorf("reading the passphrase failed: %w", err)
		}
		return b, nil
	}
	p, err := read(label)
	if err != nil {
		return nil, err
	}
	if len(p) == 0 {
		return nil, errors.New("the passphrase is empty; type one")
	}
	if confirm {
		q, err := read("Again, to confirm: ")
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(p, q) {
			return nil, errors.New("the two passphrases differ; try again")
		}
	}
	return p, nil
}
