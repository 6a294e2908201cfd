// Package gateway assembles a complete cardgate from one Config: the store, the gateway key,
// the sandbox merchant, the vault, the acquirer, the payments service, the time-driven jobs, the
// notification dispatcher, the API and pages, the operator's endpoints and the metrics. `cardgate
// serve` is a flag parser in front of Start; bench, the simulation and the tests start the same
// gateway, so that what they exercise is what runs in production.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/acquirer/antom"
	"github.com/cardgate/cardgate/internal/api"
	"github.com/cardgate/cardgate/internal/calllog"
	"github.com/cardgate/cardgate/internal/checkout"
	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/dashboard"
	"github.com/cardgate/cardgate/internal/disputes"
	"github.com/cardgate/cardgate/internal/jobs"
	"github.com/cardgate/cardgate/internal/keyring"
	"github.com/cardgate/cardgate/internal/logctx"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/metrics"
	"github.com/cardgate/cardgate/internal/notify"
	"github.com/cardgate/cardgate/internal/openapi"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/reports"
	"github.com/cardgate/cardgate/internal/sandbox"
	"github.com/cardgate/cardgate/internal/store"
	"github.com/cardgate/cardgate/internal/store/postgres"
	"github.com/cardgate/cardgate/internal/store/sqlite"
	"github.com/cardgate/cardgate/internal/threeds"
	"github.com/cardgate/cardgate/internal/vault"
	"github.com/cardgate/cardgate/protocol"
)

// Mode is sandbox (the moving clock, the sandbox merchant, loopback notify URLs, a generated
// vault key) or production.
type Mode string

const (
	Sandbox    Mode = "sandbox"
	Production Mode = "production"
)

// Config is everything a gateway is built from. The zero value of each field is what `serve`
// does without the matching flag, except where said.
type Config struct {
	Mode Mode // default Sandbox

	// Store is the open store to run on; the gateway owns it from Start on and closes it. When
	// nil, Start opens Database (a postgres:// URL) or, without it, the SQLite store in Data.
	Store    store.Store
	Data     string // the SQLite directory; the sandbox's vault key file lives here too
	Database string

	// Addr is where the HTTP server listens ("127.0.0.1:0" picks a free port); empty serves no
	// HTTP (the simulation calls Service and Handler itself). Listener, when set, is used instead.
	Addr      string
	Listener  net.Listener
	PublicURL string // base URL of every normalUrl and page (default http(s)://ADDR)
	TLSCert   string // with TLSKey: serve HTTPS
	TLSKey    string

	Log *slog.Logger // default: discarded

	Payments          payments.Config // RefundWindow, timeouts; OnOutbox and PublicURL are set here
	JobsInterval      time.Duration   // how often due work runs (default 1 s)
	NotifyTimeout     time.Duration   // one delivery attempt (default 10 s)
	NotifyPerMerchant int             // deliveries in flight to one merchant (default notify.DefaultPerMerchant)
	NotifyAllow       []netip.Prefix  // private ranges notifications may reach in production
	VaultKeys         string          // "id:base64key,…", the first current; production's only source
	// GatewayKey is where the key that signs every answer and notification is (the store's, or
	// an HSM's through PKCS#11) and which signer uses it.
	GatewayKey KeyConfig
	// Acquirers are the acquirers payments are routed across (default SandboxAcquirers).
	Acquirers []AcquirerConfig

	// Manual leaves the jobs and the dispatcher to the caller (Jobs.RunDue, Dispatcher.DeliverDue,
	// the sandbox clock's advance): for the simulation and tests that move time themselves. A
	// Manual gateway captures automatic payments in the pay's request, unless DeferCaptures.
	Manual bool
	// DeferCaptures (Manual only) holds automatic captures until Service.FlushCaptures: the
	// simulation decides when they run and whether a crash comes first.
	DeferCaptures bool
	// Clock replaces the payments' clock (the simulation's fixed clock); the sandbox's clock
	// call then moves nothing, so it is for Manual gateways.
	Clock clock.Clock
	// WrapStore and WrapAcquirer wrap what the payments service runs on (fault injection,
	// counting); WrapAcquirer is called once per acquirer. nil keeps them as they are.
	WrapStore    func(payments.Store) payments.Store
	WrapAcquirer func(acquirer.Acquirer) acquirer.Acquirer
	// HTTPServer adjusts the HTTP server before it serves (tests shorten its timeouts).
	HTTPServer func(*http.Server)
}

// Gateway is a started gateway.
type Gateway struct {
	Mode Mode
	// URL is the base URL merchants call (the public URL when one is set); Addr is the address
	// listened on, empty without HTTP.
	URL  string
	Addr string

	Store store.Store
	Key   keyring.Key
	// Signer names what makes the gateway's signatures: go, openssl or pkcs11.
	Signer     string
	keyCloser  io.Closer // the HSM session of a PKCS#11 key
	Clock      clock.Clock
	Offset     *clock.Offset // the sandbox clock; nil in production or with Config.Clock
	Service    *payments.Service
	Dispatcher *notify.Dispatcher
	Jobs       *jobs.Runner
	Disputes   *disputes.Service
	calls      *calllog.Recorder
	Metrics    *metrics.Metrics
	// API is the signed API inside Handler (its Paths are what it routes).
	API *api.Server
	// Handler serves everything: the API, the pages and the operator's endpoints.
	Handler http.Handler

	// SandboxMerchant is the sandbox merchant (sandbox mode only); SandboxCreated says this
	// start created it.
	SandboxMerchant merchant.Merchant
	SandboxCreated  bool

	router    *router // the acquirers and the routing among them
	log       *slog.Logger
	ln        net.Listener // closed by Close when a failed Start never served on it
	srv       *http.Server
	served    chan error
	stopBg    context.CancelFunc
	bgDone    sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// OpenStore opens the store a gateway runs on: PostgreSQL at database (postgres:// or
// postgresql://), or else the embedded SQLite store in the directory data.
func OpenStore(ctx context.Context, data, database string) (store.Store, error) {
	if database != "" {
		if strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://") {
			return postgres.Open(ctx, database)
		}
		return nil, errors.New("--database: only postgres:// URLs are understood")
	}
	return sqlite.Open(ctx, data)
}

// Start builds the gateway and, with an address, serves it. On an error everything it started
// is stopped again and the store closed.
func Start(ctx context.Context, cfg Config) (g *Gateway, err error) {
	if cfg.Mode == "" {
		cfg.Mode = Sandbox
	}
	if cfg.Mode != Sandbox && cfg.Mode != Production {
		return nil, fmt.Errorf("mode must be sandbox or production, not %q", cfg.Mode)
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	if err := cfg.Payments.Settlement.Check(); err != nil {
		return nil, err
	}
	if err := cfg.GatewayKey.Check(); err != nil {
		return nil, err // before the store is opened (or a data directory made for nothing)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// A line logged with a request's context carries its id, whichever part of the gateway logs it.
	log = slog.New(logctx.NewHandler(log.Handler()))
	st := cfg.Store
	if st == nil {
		if st, err = OpenStore(ctx, cfg.Data, cfg.Database); err != nil {
			return nil, err
		}
	}
	g = &Gateway{Mode: cfg.Mode, Store: st, log: log, served: make(chan error, 1)}
	defer func() {
		if err != nil {
			_ = g.Close()
			g = nil
		}
	}()
	wall := clock.Wall{}
	lk, err := LoadKey(ctx, st, cfg.GatewayKey, wall.Now(), log)
	if err != nil {
		return g, err
	}
	g.Key, g.Signer, g.keyCloser = lk.Key, lk.SignerName, lk.Closer
	signerName := lk.SignerName
	log.Info("gateway key", "version", g.Key.Version, "signer", signerName, "key", lk.Source)

	ln := cfg.Listener
	if ln == nil && cfg.Addr != "" {
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return g, fmt.Errorf("listen: %w", err)
		}
	}
	if ln != nil {
		g.Addr, g.ln = ln.Addr().String(), ln
	}
	g.URL = strings.TrimRight(cfg.PublicURL, "/")
	if g.URL == "" && ln != nil {
		scheme := "http"
		if cfg.TLSCert != "" {
			scheme = "https"
		}
		g.URL = scheme + "://" + g.Addr
	}

	// The sandbox clock is real time plus an offset that the sandbox can move forward (and that
	// every instance on the store shares); production runs on the wall clock.
	g.Clock = wall
	switch {
	case cfg.Clock != nil:
		g.Clock = cfg.Clock
	case cfg.Mode == Sandbox:
		stored, _, err := st.ClockOffset(ctx)
		if err != nil {
			return g, err
		}
		g.Offset = clock.NewOffset(wall, stored)
		g.Clock = g.Offset
	}

	// Notifications: a dispatcher delivers the outbox concurrently; in production it may not
	// reach loopback or private addresses unless NotifyAllow opens them.
	g.Metrics = metrics.New(st, g.Clock.Now)
	g.Metrics.SetSigner(signerName)
	if gs, ok := st.(interface{ GroupStats() (int64, int64) }); ok {
		g.Metrics.ObserveGroupCommits(gs.GroupStats)
	}
	g.Dispatcher = notify.New(st, g.Key, g.Clock, log, notify.Config{
		Timeout:     orDefault(cfg.NotifyTimeout, 10*time.Second),
		PerMerchant: orDefault(cfg.NotifyPerMerchant, notify.DefaultPerMerchant),
		Policy:      notify.Policy{AllowPrivate: cfg.Mode == Sandbox, Allow: cfg.NotifyAllow},
		Observe:     g.Metrics.ObserveAttempt,
	})
	// The simulators book their authorizations in the store, as an acquirer keeps its own books:
	// an instance killed during an authorization leaves it where the others can ask about it.
	list := cfg.Acquirers
	if len(list) == 0 {
		list = SandboxAcquirers()
	}
	g.router, err = buildAcquirers(list, st, g.Clock, g.URL, func(a acquirer.Acquirer) acquirer.Acquirer {
		if cfg.WrapAcquirer != nil {
			a = cfg.WrapAcquirer(a)
		}
		a = g.Metrics.Acquirer(a)
		if cfg.Mode == Sandbox {
			// Forced results answer in front of the acquirer (and of its metrics: a forced
			// answer is no call to it), behind the breaker, which sees a decline like any other.
			a = sandbox.Wrap(a, st, log)
		}
		return a
	}, acquirer.BreakerConfig{Now: wall.Now, OnChange: func(name string, open bool) {
		g.Metrics.ObserveBreaker(name, open)
		if open {
			log.Warn("acquirer set aside after technical failures in a row; routes try it last until a probe succeeds", "acquirer", name)
		} else {
			log.Info("acquirer healthy again", "acquirer", name)
		}
	}})
	if err != nil {
		return g, err
	}
	g.router.rules, g.router.log = st, log
	for _, name := range g.router.set.Names() {
		g.Metrics.ObserveBreaker(name, false) // every acquirer's gauge exists from the start
	}
	var payStore payments.Store = st
	if cfg.WrapStore != nil {
		payStore = cfg.WrapStore(st)
	}
	pc := cfg.Payments
	if pc.PublicURL == "" {
		pc.PublicURL = g.URL
	}
	pc.OnOutbox = g.Dispatcher.Wake
	pc.OnFailover = g.Metrics.ObserveFailover
	first, _ := g.router.Acquirer(g.router.set.Names()[0])
	g.Service = payments.NewService(payStore, first, g.Clock, log, pc).WithRouter(g.router)

	keys, err := vaultKeys(ctx, cfg, st, log)
	if err != nil {
		return g, err
	}
	if keys != nil {
		g.Service.With3DS(threeds.Simulator{}, keys)
	}

	// Disputes: their own service on the same store, its notifications in the same outbox.
	var evidence disputes.Vault = noVault{}
	if keys != nil {
		evidence = keys
	}
	g.Disputes = disputes.NewService(st, disputePayments{st}, evidence, g.Clock).OnNotice(g.Dispatcher.Wake)

	// The merchants' call log, written off the request path (internal/calllog).
	g.calls = calllog.NewRecorder(st, log, wall.Now)
	apiCfg := api.Config{Calls: callLog{g.calls, st}, Disputes: g.Disputes, Notifications: notifications{st, g.Dispatcher}, Routing: st, Acquirers: g.AcquirerNames, Observe: g.Metrics.ObserveAPI, BadBody: g.Metrics.ObserveBadBody,
		Reports: reports.NewService(st, g.Clock)}
	if g.Offset != nil {
		g.Jobs = jobs.NewSandbox(g.Service, g.Offset, st, log).WithDeliveries(g.Dispatcher).WithDisputes(g.Disputes)
		apiCfg.Sandbox = sandboxControls{jobs: g.Jobs, clock: g.Offset, Store: st}
	} else {
		g.Jobs = jobs.New(g.Service, g.Clock, log).WithDisputes(g.Disputes)
	}
	gatewayPub, err := g.Key.PublicKeyBase64()
	if err != nil {
		return g, err
	}
	consoleCfg := dashboard.Config{Store: st, Notifier: g.Dispatcher, Disputes: g.Disputes, Acquirers: g.AcquirerNames,
		GatewayPublicKey: gatewayPub, Secure: cfg.TLSCert != "" || strings.HasPrefix(g.URL, "https://"), Clock: g.Clock, Wall: wall, Log: log, Sandbox: apiCfg.Sandbox}
	g.API = api.New(g.Service, st, g.Key, wall, log, apiCfg)
	g.Handler = withOps(g.API,
		loggedPages(checkout.New(g.Service, merchantsOf(st), cfg.Mode == Sandbox, log), log), dashboard.New(consoleCfg), st, g.Metrics, g.upstreamNotices())

	if cfg.Mode == Sandbox {
		if g.SandboxMerchant, g.SandboxCreated, err = merchant.EnsureSandbox(ctx, st, wall.Now()); err != nil {
			return g, err
		}
	}

	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	g.stopBg = stop
	g.bgDone.Add(1)
	go func() { defer g.bgDone.Done(); g.calls.Run(bg) }()
	switch {
	case !cfg.Manual:
		// Automatic captures run off the request path (payments/captures.go); a clean stop
		// records those in flight before the store closes.
		waitCaptures := g.Service.StartCaptures(bg)
		g.bgDone.Add(1)
		go func() { defer g.bgDone.Done(); waitCaptures() }()
	case cfg.DeferCaptures:
		g.Service.DeferCaptures()
	}
	if !cfg.Manual {
		interval := orDefault(cfg.JobsInterval, time.Second)
		g.bgDone.Add(2)
		go func() { defer g.bgDone.Done(); g.Jobs.Run(bg, interval) }()
		go func() { defer g.bgDone.Done(); g.Dispatcher.Run(bg) }()
	}

	if ln != nil {
		g.srv = &http.Server{
			Handler:           g.Handler,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      35 * time.Second, // > ReadTimeout: a body that timed out still gets its PARAM_ILLEGAL
			IdleTimeout:       120 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		if cfg.HTTPServer != nil {
			cfg.HTTPServer(g.srv)
		}
		log.Info("serving", "addr", g.Addr, "mode", string(cfg.Mode), "publicUrl", g.URL, "console", g.URL+dashboard.Prefix)
		go func() {
			var err error
			if cfg.TLSCert != "" {
				err = g.srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
			} else {
				err = g.srv.Serve(ln)
			}
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			g.served <- err
		}()
	}
	return g, nil
}

// Acquirer returns the configured acquirer of that name, as the payments service calls it.
func (g *Gateway) Acquirer(name string) (acquirer.Acquirer, bool) { return g.router.Acquirer(name) }

// AcquirerNames lists the acquirers payments are routed across, in configuration order.
func (g *Gateway) AcquirerNames() []string { return g.router.set.Names() }

// Credentials are what a merchant configures an Antom SDK with to call this gateway as its
// sandbox merchant (sandbox mode only).
func (g *Gateway) Credentials() (merchant.Credentials, error) {
	if g.SandboxMerchant.ClientID == "" {
		return merchant.Credentials{}, errors.New("no sandbox merchant: the gateway runs in production mode")
	}
	pub, err := g.Key.PublicKeyBase64()
	if err != nil {
		return merchant.Credentials{}, err
	}
	return merchant.CredentialsOf(g.SandboxMerchant, pub)
}

// Served reports the HTTP server's end when it stops on its own (a failed listener, bad TLS
// files); it never fires for a gateway without HTTP or one stopped by Close.
func (g *Gateway) Served() <-chan error { return g.served }

// Close stops serving (letting calls in progress finish for up to 10 s), stops the jobs and the
// dispatcher, and closes the store. It may be called more than once.
func (g *Gateway) Close() error {
	g.closeOnce.Do(func() {
		var errs []error
		if g.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			g.log.Info("shutting down")
			errs = append(errs, g.srv.Shutdown(ctx))
			cancel()
		} else if g.ln != nil {
			_ = g.ln.Close() // a Start that failed after listening
		}
		if g.stopBg != nil {
			g.stopBg()
			g.bgDone.Wait()
		}
		if g.Store != nil {
			errs = append(errs, g.Store.Close())
		}
		if g.keyCloser != nil {
			// Last: nothing signs once the server and the dispatcher have stopped.
			errs = append(errs, g.keyCloser.Close())
		}
		g.closeErr = errors.Join(errs...)
	})
	return g.closeErr
}

// vaultKeys are the card vault's keys. Production's come from configuration only, never from
// the database they protect; the sandbox keeps a generated key in a file beside its data, or,
// on PostgreSQL, where its instances may run on several hosts, in the database they share.
// Without keys 3-D Secure and saved cards are off (nil).
func vaultKeys(ctx context.Context, cfg Config, st store.Store, log *slog.Logger) (*vault.Live, error) {
	ks, sharedKeys := st.(vault.KeyStore)
	keyFile := filepath.Join(cfg.Data, "vault.key")
	switch {
	case cfg.VaultKeys != "":
		k, err := vault.ParseKeys(cfg.VaultKeys)
		if err != nil {
			return nil, fmt.Errorf("--vault-keys: %w", err)
		}
		return vault.Fixed(k), nil
	case cfg.Mode == Sandbox && sharedKeys:
		return sandboxStoreKeys(ctx, ks, keyFile, log)
	case cfg.Mode == Sandbox:
		if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		// The key file is followed while serving: `cardgate vault rotate` puts a new key in it.
		keys, err := vault.LiveFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("vault key file: %w", err)
		}
		return keys, nil
	default:
		log.Warn("no --vault-keys: 3-D Secure, saved cards and the hosted page's save-card are off (card data is kept only sealed)")
		return nil, nil
	}
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

// upstreamNotices serves the notifications of the antom upstreams, each at its own path. A
// notification is a hint: the gateway takes the result from its own signed inquiry. A verified
// PAYMENT_RESULT makes that inquiry at once (otherwise the due work asks every 2 s); captures
// and refunds are asked about by the due work. Nothing is taken from a notification's body alone.
func (g *Gateway) upstreamNotices() map[string]http.Handler {
	out := map[string]http.Handler{}
	for name, up := range g.router.upstreams {
		out[UpstreamNotifyPath(name)] = up.NotifyHandler(func(ctx context.Context, n antom.Notice) error {
			g.log.InfoContext(ctx, "upstream notification", "acquirer", name, "notifyType", n.Type,
				"paymentId", n.PaymentID, "acquirerTransactionId", n.AcquirerTransactionID)
			if n.Type == protocol.NotifyTypePaymentResult && n.PaymentID != "" {
				// Acknowledged whatever the inquiry says: the due work asks again if it failed.
				if err := g.Service.AcquirerNoticed(ctx, n.PaymentID); err != nil {
					g.log.WarnContext(ctx, "inquiry after an upstream notification", "acquirer", name, "paymentId", n.PaymentID, "err", err)
				}
			}
			return nil
		})
	}
	return out
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
		return api.Payer(m), name, nil
	}
}

// notifications joins the outbox store and the dispatcher for the API's notification calls.
type notifications struct {
	store.Store
	*notify.Dispatcher
}

// The operator's endpoints: unsigned, outside the /ams, /cardgate and /sandbox paths.
const (
	PathHealthz = "/healthz"
	PathReadyz  = "/readyz"
	PathMetrics = "/metrics"
	PathOpenAPI = "/openapi.json"
)

// OpsPaths lists the operator's endpoints that withOps serves, for the OpenAPI document's test.
func OpsPaths() []string { return []string{PathHealthz, PathReadyz, PathMetrics, PathOpenAPI} }

// withOps serves the operator's endpoints beside the API: /healthz (the process answers),
// /readyz (the store answers too), /metrics and /openapi.json (the API's description), beside the
// console. They are unsigned and outside the /ams and /cardgate paths, so they cannot collide
// with an API.
func withOps(apiHandler, pages, console http.Handler, st store.Store, m *metrics.Metrics, upstream map[string]http.Handler) http.Handler {
	metricsHandler := m.Handler()
	document := openapi.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := upstream[r.URL.Path]; ok {
			h.ServeHTTP(w, r) // verified by the upstream's key, not a merchant's
			return
		}
		switch r.URL.Path {
		case PathHealthz:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, "ok\n")
		case PathOpenAPI:
			document.ServeHTTP(w, r)
		case PathReadyz:
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if err := st.Ping(ctx); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, "store not ready\n")
				return
			}
			_, _ = io.WriteString(w, "ready\n")
		case PathMetrics:
			metricsHandler.ServeHTTP(w, r)
		default:
			if checkout.Handles(r.URL.Path) {
				pages.ServeHTTP(w, r)
				return
			}
			if dashboard.Handles(r.URL.Path) {
				console.ServeHTTP(w, r) // signed in with a password, not a merchant's signature
				return
			}
			apiHandler.ServeHTTP(w, r)
		}
	})
}

// loggedPages logs the buyer's page requests as the API logs its calls, under a request id that
// every line they cause carries. The path's last segment, the page's token (which lets whoever
// holds it submit a challenge code), is left out.
func loggedPages(pages http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := logctx.With(r.Context(), logctx.NewID())
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		pages.ServeHTTP(sw, r.WithContext(ctx))
		page := r.URL.Path
		if i := strings.LastIndexByte(strings.TrimSuffix(page, "/"), '/'); i > 0 {
			page = page[:i+1] + "…"
		}
		log.InfoContext(ctx, "page request", "method", r.Method, "page", page, "status", sw.status, "ms", time.Since(start).Milliseconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// callLog is the API's call log: recorded through the batching writer, read from the store.
type callLog struct {
	*calllog.Recorder
	store.Store
}

// sandboxControls are what the sandbox calls act on: the clock (through the jobs runner, which
// runs what falls due as it moves) and the store's test data and forced results.
type sandboxControls struct {
	jobs  *jobs.Runner
	clock *clock.Offset
	store.Store
}

func (c sandboxControls) Advance(ctx context.Context, d time.Duration) (time.Time, error) {
	return c.jobs.Advance(ctx, d)
}

func (c sandboxControls) ResetClock(ctx context.Context) (time.Time, error) {
	return c.jobs.ResetClock(ctx)
}

func (c sandboxControls) Now() time.Time { return c.clock.Now() }
