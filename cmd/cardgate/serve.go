package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer/simulator"
	"github.com/cardgate/cardgate/internal/api"
	"github.com/cardgate/cardgate/internal/checkout"
	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/jobs"
	"github.com/cardgate/cardgate/internal/keyring"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/metrics"
	"github.com/cardgate/cardgate/internal/notify"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/store"
	"github.com/cardgate/cardgate/internal/threeds"
	"github.com/cardgate/cardgate/internal/vault"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		sf        storeFlags
		addr      = fs.String("addr", "127.0.0.1:8080", "address to listen on")
		publicURL = fs.String("public-url", "", "base URL of every normalUrl (default http://ADDR)")
		mode      = fs.String("mode", "sandbox", "sandbox or production")
		tlsCert   = fs.String("tls-cert", "", "serve HTTPS with this certificate (PEM)")
		tlsKey    = fs.String("tls-key", "", "private key of --tls-cert (PEM)")
		logLevel  = fs.String("log-level", "info", "debug, info, warn or error")
		refundWin = fs.String("refund-window", "365d", "how long after capture refunds are accepted (e.g. 365d, 90d)")
		jobEvery  = fs.Duration("jobs-interval", time.Second, "how often time-driven work (expiry, voids, late answers) runs")
		notifyTO  = fs.Duration("notify-timeout", 10*time.Second, "timeout of one notification delivery attempt")
		notifyPer = fs.Int("notify-per-merchant", notify.DefaultPerMerchant, "notification deliveries in flight to one merchant at most (halved while its endpoint fails)")
		vaultKeys = fs.String("vault-keys", os.Getenv("CARDGATE_VAULT_KEYS"), "card vault keys \"id:base64key,…\", the first current ($CARDGATE_VAULT_KEYS); the sandbox keeps one in DATA/vault.key, or on PostgreSQL in the database")
		cpuProf   = fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
		allow     cidrList
	)
	fs.Var(&allow, "notify-allow", "let notifications reach this private CIDR in production mode (repeatable; never opens link-local or metadata addresses)")
	sf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *mode != "sandbox" && *mode != "production" {
		return fmt.Errorf("--mode must be sandbox or production, not %q", *mode)
	}
	if *notifyPer <= 0 {
		return fmt.Errorf("--notify-per-merchant must be positive, not %d", *notifyPer)
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	refundWindow, err := clock.ParseDuration(*refundWin)
	if err != nil || refundWindow <= 0 {
		return fmt.Errorf("--refund-window %q: need a positive duration such as 365d", *refundWin)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer f.Close()
		defer pprof.StopCPUProfile() // runs first: the profile is complete before the file closes
	}

	st, gw, err := sf.openWithGatewayKey(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	wall := clock.Wall{}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
	}
	base := *publicURL
	if base == "" {
		base = scheme + "://" + ln.Addr().String()
	}
	base = strings.TrimRight(base, "/")

	// The sandbox clock is real time plus an offset that the sandbox can move forward (and that
	// every instance on the store shares); production runs on the wall clock.
	var (
		payClock clock.Clock = wall
		offset   *clock.Offset
	)
	if *mode == "sandbox" {
		stored, err := st.ClockOffset(ctx)
		if err != nil {
			return err
		}
		offset = clock.NewOffset(wall, stored)
		payClock = offset
	}
	// Notifications: a dispatcher delivers the outbox concurrently; in production it may not
	// reach loopback or private addresses unless --notify-allow opens them.
	mets := metrics.New(st, payClock.Now)
	dispatcher := notify.New(st, gw, payClock, log, notify.Config{
		Timeout:     *notifyTO,
		PerMerchant: *notifyPer,
		Policy:      notify.Policy{AllowPrivate: *mode == "sandbox", Allow: allow},
		Observe:     mets.ObserveAttempt,
	})
	// The simulator books its authorizations in the store, as an acquirer keeps its own books: an
	// instance killed during an authorization leaves it where the others can ask about it.
	acq := mets.Acquirer(simulator.New("CARDGATE_SIM", payClock).WithLedger(st.SimulatorLedger()))
	svc := payments.NewService(st, acq, payClock, log,
		payments.Config{RefundWindow: refundWindow, OnOutbox: dispatcher.Wake, PublicURL: base})
	// Production's vault keys come from configuration only, never from the database they
	// protect; the sandbox keeps a generated key in a file beside its data, or, on PostgreSQL,
	// where its instances may run on several hosts, in the database they share.
	var keys *vault.Live
	ks, sharedKeys := st.(vault.KeyStore)
	switch {
	case *vaultKeys != "":
		k, err := vault.ParseKeys(*vaultKeys)
		if err != nil {
			return fmt.Errorf("--vault-keys: %w", err)
		}
		keys = vault.Fixed(k)
	case *mode == "sandbox" && sharedKeys:
		if keys, err = sandboxStoreKeys(ctx, ks, filepath.Join(sf.data, "vault.key"), log); err != nil {
			return err
		}
	case *mode == "sandbox":
		if err := os.MkdirAll(sf.data, 0o700); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
		// The key file is followed while serving: `cardgate vault rotate` puts a new key in it.
		if keys, err = vault.LiveFile(filepath.Join(sf.data, "vault.key")); err != nil {
			return fmt.Errorf("vault key file: %w", err)
		}
	default:
		log.Warn("no --vault-keys: 3-D Secure, saved cards and the hosted page's save-card are off (card data is kept only sealed)")
	}
	if keys != nil {
		svc.With3DS(threeds.Simulator{}, keys)
	}
	apiCfg := api.Config{Notifications: notifications{st, dispatcher}, Observe: mets.ObserveAPI, BadBody: mets.ObserveBadBody}
	var runner *jobs.Runner
	if offset != nil {
		runner = jobs.NewSandbox(svc, offset, st, log).WithDeliveries(dispatcher)
		apiCfg.Sandbox = runner
	} else {
		runner = jobs.New(svc, payClock, log)
	}
	handler := withOps(api.New(svc, st, gw, wall, log, apiCfg), checkout.New(svc, merchantsOf(st), *mode == "sandbox", log), st, mets)
	jobsCtx, stopJobs := context.WithCancel(ctx)
	jobsDone := make(chan struct{})
	go func() {
		defer close(jobsDone)
		runner.Run(jobsCtx, *jobEvery)
	}()
	dispatchDone := make(chan struct{})
	go func() {
		defer close(dispatchDone)
		dispatcher.Run(jobsCtx)
	}()
	defer func() {
		stopJobs()
		<-jobsDone
		<-dispatchDone
	}()

	// Logged before the banner: whoever waits for the banner finds the log started.
	log.Info("serving", "addr", ln.Addr().String(), "mode", *mode, "publicUrl", base)
	fmt.Fprintf(stdout, "cardgate listening on %s (%s mode, store %s)\n", base, *mode, st.Describe())
	if *mode == "sandbox" {
		m, created, err := merchant.EnsureSandbox(ctx, st, wall.Now())
		if err != nil {
			return err
		}
		if err := printSandboxBanner(stdout, base, m, gw, created); err != nil {
			return err
		}
	}

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      35 * time.Second, // > ReadTimeout: a body that timed out still gets its PARAM_ILLEGAL
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() {
		if *tlsCert != "" {
			errc <- srv.ServeTLS(ln, *tlsCert, *tlsKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	log.Info("shutting down")
	return srv.Shutdown(shutdownCtx)
}

// sandboxStoreKeys gives a sandbox on PostgreSQL the keys every instance shares: those in the
// database, stored by the first instance to start (from the key file it had kept until then, if
// any), re-read at most once a second so that `vault rotate` reaches every instance.
func sandboxStoreKeys(ctx context.Context, ks vault.KeyStore, keyFile string, log *slog.Logger) (*vault.Live, error) {
	adopted, err := vault.SeedStore(ctx, ks, keyFile)
	if err != nil {
		return nil, err
	}
	keys, err := vault.LiveStore(ctx, ks, vault.StoreRefresh)
	if err != nil {
		return nil, err
	}
	k, err := keys.Keyring()
	if err != nil {
		return nil, err
	}
	if adopted {
		log.Info("vault: the keys of the key file are now kept in the database, for every sandbox instance; the file is no longer read",
			"file", keyFile, "current", k.CurrentID())
	} else {
		log.Info("vault: sandbox keys kept in the database, shared by every instance", "current", k.CurrentID())
	}
	return keys, nil
}

func printSandboxBanner(w io.Writer, base string, m merchant.Merchant, gw keyring.Key, created bool) error {
	pub, err := gw.PublicKeyBase64()
	if err != nil {
		return err
	}
	c, err := merchant.CredentialsOf(m, pub)
	if err != nil {
		return err
	}
	state := "existing"
	if created {
		state = "created"
	}
	fmt.Fprintf(w, `
Sandbox merchant (%s). Point an Antom SDK at cardgate with:
  gateway URL          %s
  client id            %s
  merchant private key %s
  (PKCS#1, for Python) %s
  gateway public key   %s

The same as JSON: cardgate init --json

`, state, base, c.ClientID, c.MerchantPrivateKey, c.MerchantPrivateKeyPkcs1, c.GatewayPublicKey)
	return nil
}

// merchantsOf finds the merchant of a payment for the buyer's pages.
func merchantsOf(st store.Store) checkout.MerchantLookup {
	return func(ctx context.Context, id string) (payments.Merchant, string, error) {
		m, err := st.MerchantByClientID(ctx, id)
		if err != nil {
			return payments.Merchant{}, "", fmt.Errorf("merchant of a payment page: %w", err)
		}
		name := m.Name
		if name == "" {
			name = m.ClientID
		}
		return payments.Merchant{ID: m.ClientID, FingerprintKey: m.FingerprintKey, NotifyURL: m.NotifyURL}, name, nil
	}
}

// cidrList is a repeatable --notify-allow flag.
type cidrList []netip.Prefix

func (c *cidrList) String() string { return fmt.Sprint([]netip.Prefix(*c)) }

func (c *cidrList) Set(v string) error {
	p, err := netip.ParsePrefix(v)
	if err != nil {
		return fmt.Errorf("not a CIDR such as 10.0.0.0/8: %w", err)
	}
	*c = append(*c, p.Masked())
	return nil
}

// notifications joins the outbox store and the dispatcher for the API's notification calls.
type notifications struct {
	store.Store
	*notify.Dispatcher
}

// withOps serves the operator's endpoints beside the API: /healthz (the process answers),
// /readyz (the store answers too) and /metrics. They are unsigned and outside the /ams and
// /cardgate paths, so they cannot collide with an API.
func withOps(api, pages http.Handler, st store.Store, m *metrics.Metrics) http.Handler {
	metricsHandler := m.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, "ok\n")
		case "/readyz":
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if err := st.Ping(ctx); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, "store not ready\n")
				return
			}
			_, _ = io.WriteString(w, "ready\n")
		case "/metrics":
			metricsHandler.ServeHTTP(w, r)
		default:
			if checkout.Handles(r.URL.Path) {
				pages.ServeHTTP(w, r)
				return
			}
			api.ServeHTTP(w, r)
		}
	})
}
