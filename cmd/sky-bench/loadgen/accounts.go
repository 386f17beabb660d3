package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skymsg/sky/wire"
)

// Dialer opens client connections to one skyd, spreading them over several
// local addresses when given (one address can make only about 28,000
// connections to one server port).
type Dialer struct {
	URL     string
	TLS     *tls.Config
	Sources []net.IP
	next    atomic.Uint64
}

// Dial opens and handshakes one connection.
func (d *Dialer) Dial(ctx context.Context) (*Conn, error) {
	opts := DialOptions{TLS: d.TLS}
	if len(d.Sources) > 0 {
		ip := d.Sources[d.next.Add(1)%uint64(len(d.Sources))]
		opts.LocalAddr = &net.TCPAddr{IP: ip}
	}
	return Dial(ctx, d.URL, opts)
}

// DialAnonymous opens and handshakes one anonymous connection.
func (d *Dialer) DialAnonymous(ctx context.Context) (*Conn, error) {
	opts := DialOptions{TLS: d.TLS}
	if len(d.Sources) > 0 {
		ip := d.Sources[d.next.Add(1)%uint64(len(d.Sources))]
		opts.LocalAddr = &net.TCPAddr{IP: ip}
	}
	return DialAnonymous(ctx, d.URL, opts)
}

// ParseSources parses "127.0.0.2-127.0.0.9" (an IPv4 range) or a
// comma-separated list of addresses.
func ParseSources(s string) ([]net.IP, error) {
	if s == "" {
		return nil, nil
	}
	if from, to, ok := strings.Cut(s, "-"); ok {
		a, b := net.ParseIP(from).To4(), net.ParseIP(to).To4()
		if a == nil || b == nil || a[0] != b[0] || a[1] != b[1] || a[2] != b[2] || a[3] > b[3] {
			return nil, fmt.Errorf("source range %q: give two IPv4 addresses differing in the last byte, low-high", s)
		}
		var ips []net.IP
		for i := int(a[3]); i <= int(b[3]); i++ {
			ips = append(ips, net.IPv4(a[0], a[1], a[2], byte(i)))
		}
		return ips, nil
	}
	var ips []net.IP
	for _, f := range strings.Split(s, ",") {
		ip := net.ParseIP(strings.TrimSpace(f))
		if ip == nil {
			return nil, fmt.Errorf("source address %q is not an IP address", f)
		}
		ips = append(ips, ip)
	}
	return ips, nil
}

// LoadDevices reads an accounts file (one JSON Device per line); a missing
// file holds none.
func LoadDevices(path string) ([]Device, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Device
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var d Device
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			return nil, fmt.Errorf("%s line %d: %w (delete the file to register fresh accounts)", path, line, err)
		}
		out = append(out, d)
	}
	return out, sc.Err()
}

// AppendDevices adds devices to an accounts file, creating it readable by
// its owner only (the keys authenticate the load generator's accounts).
func AppendDevices(path string, ds []Device) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, d := range ds {
		if err := enc.Encode(d); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// CodeSource supplies n activation codes.
type CodeSource func(ctx context.Context, n int) ([]string, error)

// CodesFromFile reads codes, one per line, from a file.
func CodesFromFile(path string) CodeSource {
	return func(ctx context.Context, n int) ([]string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		codes := strings.Fields(string(b))
		if len(codes) < n {
			return nil, fmt.Errorf("%s holds %d activation codes; %d more accounts are needed: create more with skyd admin codes create", path, len(codes), n)
		}
		return codes[:n], nil
	}
}

// CodesFromCommand runs an admin command line (such as "skyd admin --data
// DIR") with "codes create --days 1 --count K" appended, as often as needed.
func CodesFromCommand(argv []string) CodeSource {
	return func(ctx context.Context, n int) ([]string, error) {
		var codes []string
		for len(codes) < n {
			k := min(n-len(codes), 10000)
			args := append(append([]string(nil), argv[1:]...), "codes", "create", "--days", "1", "--count", strconv.Itoa(k))
			cmd := exec.CommandContext(ctx, argv[0], args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				return nil, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
			}
			got := strings.Fields(string(out))
			if len(got) != k {
				return nil, fmt.Errorf("%s printed %d codes, want %d", strings.Join(argv, " "), len(got), k)
			}
			codes = append(codes, got...)
		}
		return codes, nil
	}
}

// RegisterDevices registers one account per code, with up to concurrency
// registrations at once, waiting out the server's registration rate limit.
// progress, if set, is called after each registration.
func RegisterDevices(ctx context.Context, d *Dialer, codes []string, concurrency int, progress func()) ([]Device, error) {
	var (
		mu  sync.Mutex
		out []Device
	)
	err := forEach(ctx, len(codes), concurrency, progress, func(i int) error {
		dev, err := registerOne(ctx, d, codes[i])
		if err != nil {
			return err
		}
		mu.Lock()
		out = append(out, dev)
		mu.Unlock()
		return nil
	})
	return out, err
}

// forEach runs work(i) for every i below n on up to concurrency goroutines,
// calling progress (if set) after each success. A goroutine stops at its
// first error, all of them once ctx ends; forEach returns the first error.
func forEach(ctx context.Context, n, concurrency int, progress func(), work func(i int) error) error {
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range max(1, concurrency) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := work(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
				if progress != nil {
					progress()
				}
			}
		}()
	}
	wg.Wait()
	return first
}

func registerOne(ctx context.Context, d *Dialer, code string) (Device, error) {
	for {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		c, err := d.Dial(cctx)
		if err != nil {
			cancel()
			return Device{}, err
		}
		dev, err := c.Register(cctx, code)
		c.Close()
		cancel()
		var we *wire.Error
		if errors.As(err, &we) && we.GetCode() == wire.Code_RATE_LIMITED {
			select {
			case <-time.After(max(we.RetryAfter(), 10*time.Millisecond)):
				continue
			case <-ctx.Done():
				return Device{}, ctx.Err()
			}
		}
		if err != nil {
			return Device{}, fmt.Errorf("registering with an activation code: %w", err)
		}
		return dev, nil
	}
}
