package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/fx"
	"github.com/cardgate/cardgate/internal/gateway"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/notify"
	"github.com/cardgate/cardgate/internal/payments"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve")
	fs.SetOutput(stderr)
	var (
		sf        storeFlags
		addr      = fs.String("addr", "127.0.0.1:8080", "address to listen on")
		publicURL = fs.String("public-url", "", "base URL of every normalUrl (default http://ADDR)")
		mode      = fs.String("mode", "sandbox", "sandbox or production")
		tlsCert   = fs.String("tls-cert", "", "serve HTTPS with this certificate (PEM)")
		tlsKey    = fs.String("tls-key", "", "private key of --tls-cert (PEM)")
		logLevel  = fs.String("log-level", "info", "debug, info, warn or error")
		logFormat = fs.String("log-format", "text", "text (key=value lines) or json (one object per line, for a log pipeline)")
		refundWin = fs.String("refund-window", "365d", "how long after capture refunds are accepted (e.g. 365d, 90d)")
		jobEvery  = fs.Duration("jobs-interval", time.Second, "how often time-driven work (expiry, voids, late answers) runs")
		notifyTO  = fs.Duration("notify-timeout", 10*time.Second, "timeout of one notification delivery attempt")
		notifyPer = fs.Int("notify-per-merchant", notify.DefaultPerMerchant, "notification deliveries in flight to one merchant at most (halved while its endpoint fails)")
		vaultKeys = fs.String("vault-keys", os.Getenv("CARDGATE_VAULT_KEYS"), "card vault keys \"id:base64key,…\", the first current ($CARDGATE_VAULT_KEYS); the sandbox keeps one in DATA/vault.key, or on PostgreSQL in the database")
		cpuProf   = fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
		acqFile   = fs.String("acquirers", "", "JSON list of the acquirers to route across, {\"name\",\"kind\":\"simulator\"|\"antom\",…} (default: the sandbox's ALIPAY, ADYEN and CHECKOUT simulators)")
		readyFile = fs.String("ready-file", "", "once serving, write {\"url\",\"addr\",\"mode\",\"store\",\"pid\"} as JSON to this file (for scripts that start serve on --addr 127.0.0.1:0)")
		fxRates   = fs.String("fx-rates", "", "exchange-rate table, CSV \"currency,rate\" against the first row's base (default: the embedded sandbox table; docs/fx.md)")
		feeBPS    = fs.Int64("fee-bps", 0, "fee on each capture, in basis points of the captured amount in its settlement currency (recorded with each payment; docs/reports.md)")
		feeFixed  = fs.Int64("fee-fixed", 0, "fixed fee per capture, in minor units of its settlement currency (recorded with each payment)")
		allow     cidrList
	)
	fs.Var(&allow, "notify-allow", "let notifications reach this private CIDR in production mode (repeatable; never opens link-local or metadata addresses)")
	sf.register(fs)
	sf.registerGatewayKey(fs, false)
	fs.Usage = serveUsage(fs)
	if err := envDefaults(fs); err != nil {
		return err
	}
	if err := parseArgs(fs, args, stdout); err != nil {
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
	var handler slog.Handler
	switch opts := (&slog.HandlerOptions{Level: level}); *logFormat {
	case "text":
		handler = slog.NewTextHandler(stderr, opts)
	case "json":
		handler = slog.NewJSONHandler(stderr, opts)
	default:
		return usageError{"serve", fmt.Errorf("--log-format %q: text or json", *logFormat)}
	}
	log := slog.New(handler)
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

	settle := payments.SettlementConfig{FeeBPS: *feeBPS, FeeFixedMinor: *feeFixed}
	if err := settle.Check(); err != nil {
		return err
	}
	if *fxRates != "" {
		if settle.Rates, err = loadRates(*fxRates); err != nil {
			return err
		}
	}

	var acquirers []gateway.AcquirerConfig
	if *acqFile != "" {
		if acquirers, err = gateway.LoadAcquirers(*acqFile); err != nil {
			return err
		}
	}
	if *readyFile != "" {
		// A file left by an earlier run must not pass for this one's.
		if err := os.Remove(*readyFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("--ready-file: %w", err)
		}
		defer os.Remove(*readyFile)
	}
	g, err := gateway.Start(ctx, gateway.Config{
		Mode:              gateway.Mode(*mode),
		Data:              sf.data,
		Database:          sf.database,
		Addr:              *addr,
		PublicURL:         *publicURL,
		TLSCert:           *tlsCert,
		TLSKey:            *tlsKey,
		Log:               log,
		Payments:          payments.Config{RefundWindow: refundWindow, Settlement: settle},
		JobsInterval:      *jobEvery,
		NotifyTimeout:     *notifyTO,
		NotifyPerMerchant: *notifyPer,
		NotifyAllow:       allow,
		VaultKeys:         *vaultKeys,
		Acquirers:         acquirers,
		GatewayKey:        sf.gatewayKey,
	})
	if err != nil {
		return err
	}
	defer g.Close()

	// The gateway logged "serving" before this banner: whoever waits for the banner finds the
	// log started.
	fmt.Fprintf(stdout, "cardgate listening on %s (%s mode, store %s)\n", g.URL, *mode, g.Store.Describe())
	if g.Mode == gateway.Sandbox {
		c, err := g.Credentials()
		if err != nil {
			return err
		}
		printSandboxBanner(stdout, g.URL, c, g.SandboxCreated)
	}
	if *readyFile != "" {
		if err := writeReadyFile(*readyFile, g); err != nil {
			return err
		}
	}

	select {
	case err := <-g.Served():
		return err
	case <-ctx.Done():
	}
	return g.Close()
}

// serveUsage is serve's help: each flag with the variable it also reads.
func serveUsage(fs *flag.FlagSet) func() {
	return func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: cardgate serve [flags]\n\nRuns the gateway. Every flag also reads the variable shown beside it; a flag given wins.\n\nFlags:\n")
		fs.VisitAll(func(f *flag.Flag) {
			name, use := flag.UnquoteUsage(f)
			fmt.Fprintf(out, "  --%s %s  ($%s)\n    \t%s", f.Name, name, envName(f.Name), use)
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
				fmt.Fprintf(out, " (default %q)", f.DefValue)
			}
			fmt.Fprintln(out)
		})
	}
}

func envName(flagName string) string {
	return "CARDGATE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// envDefaults gives every flag of fs the value of CARDGATE_<FLAG> (upper case, "-" as "_") when
// that variable is set, before the command line is parsed, so that a flag given still wins
// (docs/design.md "Interfaces other tools rely on"): a container sets CARDGATE_DATABASE, a unit
// file CARDGATE_FEE_BPS, and so on.
func envDefaults(fs *flag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		if v, ok := os.LookupEnv(name); ok && err == nil {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("$%s: %w", name, serr)
			}
		}
	})
	return err
}

// loadRates reads a --fx-rates table; a mistake stops serve naming the file and its line.
func loadRates(path string) (*fx.Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--fx-rates: %w", err)
	}
	defer f.Close()
	t, err := fx.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("--fx-rates %s: %w", path, err)
	}
	return t, nil
}

// readyInfo is what --ready-file holds once the gateway serves: where to call it, for scripts and
// tests that start serve on a free port (--addr 127.0.0.1:0) instead of parsing its banner.
type readyInfo struct {
	URL   string `json:"url"`
	Addr  string `json:"addr"`
	Mode  string `json:"mode"`
	Store string `json:"store"`
	PID   int    `json:"pid"`
}

// writeReadyFile writes the file whole or not at all (a rename), so that a reader polling for it
// never sees half of it.
func writeReadyFile(path string, g *gateway.Gateway) error {
	b, err := json.Marshal(readyInfo{URL: g.URL, Addr: g.Addr, Mode: string(g.Mode), Store: g.Store.Describe(), PID: os.Getpid()})
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("--ready-file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("--ready-file: %w", err)
	}
	return nil
}

func printSandboxBanner(w io.Writer, base string, c merchant.Credentials, created bool) {
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
Console: %s/dashboard/ (a sign-in: cardgate user create --username NAME --sandbox-merchant, the password on stdin)

`, state, base, c.ClientID, c.MerchantPrivateKey, c.MerchantPrivateKeyPkcs1, c.GatewayPublicKey, base)
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
