package main

// The operator's trust root for sealed sender: an offline key that signs the
// server's certificate. Clients pin its public half at registration.
//
//	skyd admin trust-root init --out FILE        new root; private half to FILE, public half printed
//	skyd admin trust-root certify --key FILE     certify a new server key with it (run with the key plugged in)
//	skyd admin trust-root show                   print the public half clients pin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/skymsg/sky/protocol/sealed"
	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/store"
)

const rootFileHeader = "# Sky trust root: the operator's private key. Keep this file OFFLINE.\n" +
	"# It signs server certificates: skyd admin trust-root certify --key FILE\n"

// trustRootInit writes a new trust root's private half to --out (never
// overwriting a file) and prints the public half.
func trustRootInit(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("trust-root init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "file for the private key (required; it must not exist)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *out == "" {
		return usageErr(stderr, "trust-root init needs --out FILE (the private key's new file) and no arguments")
	}
	root := sealed.GenerateTrustRoot()
	if err := writeTrustRoot(*out, root); err != nil {
		return err
	}
	fmt.Fprintln(stdout, encodePublic(root))
	fmt.Fprintf(stderr, "skyd: the trust root's private key is in %s: keep it offline (it is needed only to certify a server key);\n"+
		"skyd: its public key (above) is what clients pin: sky init --trust-root KEY\n", *out)
	return nil
}

// trustRootCertify certifies a new server key with the root in --key.
func trustRootCertify(ctx context.Context, st store.Store, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("trust-root certify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyFile := fs.String("key", "", "the trust root's private key file, from trust-root init (required)")
	keyID := fs.Uint("key-id", 0, "the new server key's ID (default: one more than the current)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *keyFile == "" {
		return usageErr(stderr, "trust-root certify needs --key FILE (the trust root's private key) and no arguments")
	}
	root, err := readTrustRoot(*keyFile)
	if err != nil {
		return err
	}
	if cur, err := server.TrustRoot(ctx, st); err == nil && cur != root.Public() {
		fmt.Fprintln(stderr, "skyd: warning: this server was certified by another trust root before; clients that pinned it will refuse the new certificate")
	}
	cert, err := server.Certify(ctx, st, root, uint32(*keyID))
	if err != nil {
		return fmt.Errorf("certifying the server key: %w", err)
	}
	if err := certifyKeyDir(ctx, st, root); err != nil {
		return err
	}
	fmt.Fprintln(stdout, encodePublic(root))
	fmt.Fprintf(stderr, "skyd: server key %d certified by this trust root (running servers use it within a minute); "+
		"you can take the private key offline again\n", cert.KeyID())
	return nil
}

// trustRootShow prints the public key of the root that certified the
// server.
func trustRootShow(ctx context.Context, st store.Store, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return usageErr(stderr, "trust-root show takes no arguments")
	}
	pub, err := server.TrustRoot(ctx, st)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(pub.Bytes()))
	return nil
}

func encodePublic(root *sealed.TrustRoot) string {
	return base64.StdEncoding.EncodeToString(root.Public().Bytes())
}

func writeTrustRoot(path string, root *sealed.TrustRoot) error {
	priv, err := root.MarshalBinary()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating the trust root's directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("writing the trust root: %w (trust-root init never overwrites a file; choose another with --out)", err)
	}
	_, err = fmt.Fprintf(f, "%s%s\n", rootFileHeader, base64.StdEncoding.EncodeToString(priv))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("writing the trust root: %w", err)
	}
	return nil
}

var errBadRootFile = errors.New("the trust root file does not hold a trust root (make one with skyd admin trust-root init)")

func readTrustRoot(path string) (*sealed.TrustRoot, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the trust root: %w", err)
	}
	var key []byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if key != nil {
			return nil, errBadRootFile
		}
		if key, err = base64.StdEncoding.DecodeString(line); err != nil {
			return nil, errBadRootFile
		}
	}
	root, err := sealed.ParseTrustRoot(key)
	if err != nil {
		return nil, errBadRootFile
	}
	return root, nil
}

// firstStartTrustRoot sets up sealed sender on a brand-new server, so that
// zero-configuration start works: it makes a trust root, keeps its private
// half in dir/trust-root.key for the operator to move offline, certifies
// the server with it and prints the public half clients pin. A server that
// is already certified is left alone; one that is not but has accounts gets
// a warning.
func firstStartTrustRoot(ctx context.Context, st store.Store, dir string, stdout, stderr io.Writer) error {
	if _, err := server.TrustRoot(ctx, st); err == nil || !errors.Is(err, server.ErrNoServerCertificate) {
		return err
	}
	if empty, err := st.Empty(ctx); err != nil {
		return err
	} else if !empty {
		fmt.Fprintln(stderr, "skyd: warning: no sealed-sender certificate, so clients cannot register or send: "+
			"create a trust root offline (skyd admin trust-root init --out FILE) and certify this server (skyd admin trust-root certify --key FILE)")
		return nil
	}
	root := sealed.GenerateTrustRoot()
	path := filepath.Join(dir, "trust-root.key")
	if err := writeTrustRoot(path, root); err != nil {
		return err
	}
	if _, err := server.Certify(ctx, st, root, 0); err != nil {
		return err
	}
	if err := certifyKeyDir(ctx, st, root); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "skyd: first start. Trust root (clients pin it: sky init --trust-root KEY):\n%s\n", encodePublic(root))
	fmt.Fprintf(stdout, "skyd: its private key is in %s: move it offline; it is needed only to certify a new server key\n", path)
	return nil
}
