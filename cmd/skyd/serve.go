package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"github.com/skymsg/sky/server"
	"github.com/skymsg/sky/server/metrics"
	"github.com/skymsg/sky/server/store"
	"github.com/skymsg/sky/wire"
)

type serveFlags struct {
	storeFlags
	clusterFlags
	listen, metricsListen string
	tlsCert, tlsKey       string
	acmeDomain, acmeCache string
	acmeDirectory, acmeCA string
	ttl                   time.Duration
	queueCap, maxConns    int
	maxDevices            int
	logLevel              string
	tuning                tuningFlags
	blobs                 blobFlags
	keydir                keyDirFlags
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("skyd serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f serveFlags
	f.storeFlags.register(fs)
	f.clusterFlags.register(fs)
	f.blobs.register(fs)
	f.keydir.register(fs)
	fs.StringVar(&f.listen, "listen", "127.0.0.1:7443", "address for client WebSocket connections; anything but loopback needs TLS")
	fs.StringVar(&f.metricsListen, "metrics-listen", "127.0.0.1:7444", "address for /metrics and /healthz (empty: off)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate file (PEM), with --tls-key")
	fs.StringVar(&f.tlsKey, "tls-key", "", "TLS private key file (PEM), with --tls-cert")
	fs.StringVar(&f.acmeDomain, "acme-domain", "", "obtain a certificate for this domain from Let's Encrypt (ACME TLS-ALPN; serve on port 443)")
	fs.StringVar(&f.acmeCache, "acme-cache", "", "directory for ACME certificates (default: DATA/acme)")
	fs.StringVar(&f.acmeDirectory, "acme-directory", acme.LetsEncryptURL, "the ACME CA's directory URL, for a CA other than Let's Encrypt (an organisation's own, such as step-ca)")
	fs.StringVar(&f.acmeCA, "acme-ca", "", "PEM file of the root certificates to trust for the ACME CA's own HTTPS (default: the system's)")
	fs.DurationVar(&f.ttl, "message-ttl", server.DefaultMessageTTL, "delete undelivered messages this old (at most 720h)")
	fs.IntVar(&f.queueCap, "queue-cap", server.DefaultQueueCap, "most messages queued for one device")
	fs.IntVar(&f.maxConns, "max-connections", server.DefaultMaxConnections, "most simultaneous client connections")
	fs.IntVar(&f.maxDevices, "max-devices", server.DefaultMaxDevices, fmt.Sprintf("most linked devices of one account at once (1 to %d)", server.DeviceLimit))
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	f.tuning.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve takes no arguments, got %q", fs.Args())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if f.ttl < time.Second || f.ttl > server.MaxMessageTTL {
		return fmt.Errorf("--message-ttl %v out of range: use between 1s and %v (30 days)", f.ttl, server.MaxMessageTTL)
	}
	tlsConfig, err := f.tlsConfig()
	if err != nil {
		return err
	}

	st, where, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	dataDir := f.data
	if dataDir == "" {
		dataDir = defaultDataDir()
	}
	if err := firstStartTrustRoot(ctx, st, dataDir, stdout, stderr); err != nil {
		return err
	}
	if err := firstStartCode(ctx, st, stdout); err != nil {
		return err
	}
	reg := metrics.NewRegistry()
	cl, err := f.join(ctx, f.db, st, log, reg, stdout)
	if err != nil {
		return err
	}
	if cl != nil {
		defer cl.Close() // after the server (defers run last first)
	}
	cfg := server.Config{
		Store: st, Logger: log, Metrics: reg,
		MessageTTL: f.ttl, QueueCap: f.queueCap, MaxConnections: f.maxConns, MaxDevices: f.maxDevices,
		Cluster: serverCluster(cl),
	}
	if err := f.tuning.apply(&cfg, fs); err != nil {
		return err
	}
	blobs, bst, err := f.blobs.open(ctx, dataDir, f.clusterFlags, f.ttl)
	if err != nil {
		return err
	}
	if bst != nil {
		defer bst.Close()
	}
	cfg.Blobs = blobs
	if cfg.KeyDir, err = f.keydir.config(); err != nil {
		return err
	}
	srv, err := server.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer srv.Close()

	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w (choose another address with --listen)", f.listen, err)
	}
	scheme := "ws"
	if tlsConfig != nil {
		ln, scheme = tls.NewListener(ln, tlsConfig), "wss"
	}
	hs := srv.HTTPServer()
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("client listener stopped", "err", err)
		}
	}()
	if f.metricsListen != "" {
		mln, err := net.Listen("tcp", f.metricsListen)
		if err != nil {
			hs.Close()
			return fmt.Errorf("listening on %s for metrics: %w (choose another with --metrics-listen, or pass --metrics-listen='' to turn it off)", f.metricsListen, err)
		}
		mux := metricsHandler(reg, st)
		f.tuning.handle(mux)
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go ms.Serve(mln)
		defer ms.Close()
		fmt.Fprintf(stdout, "skyd: metrics on http://%s/metrics\n", mln.Addr())
	}
	fmt.Fprintf(stdout, "skyd: serving %s://%s%s (%s, messages kept %v)\n", scheme, ln.Addr(), wire.Path, where, f.ttl)

	<-ctx.Done()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hs.Shutdown(sctx)
	srv.Close()
	fmt.Fprintln(stdout, "skyd: stopped")
	return nil
}

// tlsConfig returns the TLS configuration the flags ask for, or nil for
// plain WebSocket, which is allowed on loopback addresses only.
func (f *serveFlags) tlsConfig() (*tls.Config, error) {
	files := f.tlsCert != "" || f.tlsKey != ""
	switch {
	case files && f.acmeDomain != "":
		return nil, errors.New("use either --tls-cert/--tls-key or --acme-domain, not both")
	case files && (f.tlsCert == "" || f.tlsKey == ""):
		return nil, errors.New("--tls-cert and --tls-key go together: pass both")
	case files:
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("loading the TLS certificate: %w", err)
		}
		return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
	case f.acmeDomain != "":
		cache := f.acmeCache
		if cache == "" {
			dir := f.data
			if dir == "" {
				dir = defaultDataDir()
			}
			cache = filepath.Join(dir, "acme")
		}
		ac, err := f.acmeClient()
		if err != nil {
			return nil, err
		}
		m := &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			HostPolicy: autocert.HostWhitelist(f.acmeDomain),
			Cache:      autocert.DirCache(cache),
			Client:     ac,
		}
		c := m.TLSConfig()
		c.MinVersion = tls.VersionTLS12
		return c, nil
	}
	if !loopback(f.listen) {
		return nil, fmt.Errorf("refusing plain WebSocket on %s, which is not a loopback address: pass --tls-cert and --tls-key, or --acme-domain, or listen on 127.0.0.1 behind a TLS proxy", f.listen)
	}
	return nil, nil
}

// acmeClient is the ACME client of --acme-directory, trusting --acme-ca's
// roots (if given) for the CA's HTTPS.
func (f *serveFlags) acmeClient() (*acme.Client, error) {
	u, err := url.Parse(f.acmeDirectory)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("--acme-directory must be an https:// URL, got %q", f.acmeDirectory)
	}
	c := &acme.Client{DirectoryURL: f.acmeDirectory}
	if f.acmeCA == "" {
		return c, nil
	}
	pem, err := os.ReadFile(f.acmeCA)
	if err != nil {
		return nil, fmt.Errorf("reading --acme-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--acme-ca %s holds no PEM certificate", f.acmeCA)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	c.HTTPClient = &http.Client{Transport: tr, Timeout: time.Minute}
	return c, nil
}

// loopback reports whether addr (host:port) names only loopback interfaces.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// firstStartCode prints one activation code when the store is brand new, so
// the operator can register the first account at once.
func firstStartCode(ctx context.Context, st store.Store, stdout io.Writer) error {
	empty, err := st.Empty(ctx)
	if err != nil {
		return err
	}
	if !empty {
		return nil
	}
	codes, err := server.CreateCodes(ctx, st, 1, 90*day, time.Now().Add(30*day))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "skyd: first start. Activation code for the first account (90 days, redeem within 30 days):\n%s\n", codes[0])
	fmt.Fprintln(stdout, "skyd: more codes: skyd admin codes create --days 90 --count 10")
	return nil
}

func metricsHandler(reg *metrics.Registry, st store.Store) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		reg.WriteTo(w)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if _, err := st.Empty(ctx); err != nil {
			http.Error(w, "storage unreachable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}
