package main

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/internal/bench"
	"github.com/cardgate/cardgate/internal/gateway"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/signer"
	"github.com/cardgate/cardgate/protocol"
)

// benchCmd is the load generator (docs/design.md "Performance"): it signs real calls as a merchant,
// against a gateway it starts in this process on a temporary store or against a running one
// (--url), and with --baseline measures the protocol floor of a call in the same run.
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench")
	fs.SetOutput(stderr)
	var (
		cf          clientFlags
		start       = fs.Bool("start", false, "start a gateway in this process on a temporary store (the default without --url)")
		storeKind   = fs.String("store", "sqlite", "store of the started gateway and of the baseline: sqlite or postgres (postgres needs --database; the default with --database)")
		mixName     = fs.String("mix", "pay", "workload: "+bench.MixNames())
		concurrency = fs.Int("concurrency", 32, "closed loop: concurrent workers")
		rate        = fs.Float64("rate", 0, "open loop: iterations started per second (overrides --concurrency)")
		duration    = fs.Duration("duration", 10*time.Second, "how long to measure")
		count       = fs.Int64("count", 0, "iterations to run instead of a duration")
		notifyOn    = fs.Bool("notify", false, "give a paymentNotifyUrl of a built-in receiver on 127.0.0.1 that verifies and acknowledges every notification (a --url gateway must run on this host, and in production mode with --notify-allow 127.0.0.1/32)")
		baseline    = fs.Bool("baseline", false, "also measure a minimal server (verify, decode, one durable insert, encode, sign) with the same load and report the ratios")
		preload     = fs.Int64("preload", 0, "before measuring, insert this many approved and captured payments of the bench merchant")
		asJSON      = fs.Bool("json", false, "print the result as one JSON object")
		cpuProfile  = fs.String("cpuprofile", "", "write a CPU profile of this process (load generator and started gateway) during the first gateway round")
		logLevel    = fs.String("log-level", "info", "log level of the started gateway (its log goes to gateway.log in its temporary directory)")
		progress    = fs.Bool("progress", true, "print a progress line on stderr every second")
		notifyWait  = fs.Duration("notify-wait", 10*time.Second, "with --notify, how long to wait after the load for the notifications it owes (the figures say how long it took)")
		rounds      = fs.Int("rounds", 0, "with --baseline, alternate gateway and baseline this many times, splitting the duration or count (default 4; 1 without --baseline)")
		signerName  = fs.String("signer", "", "what signs the started gateway's answers and notifications: go (crypto/rsa) or openssl (libcrypto, a -tags openssl build); default this build's, "+signer.Name()+". The baseline and the load generator always sign with go")
	)
	cf.register(fs)
	if err := parseArgs(fs, args, stdout); err != nil {
		return err
	}
	urlGiven, storeGiven, signerGiven := false, false, false
	fs.Visit(func(f *flag.Flag) {
		urlGiven = urlGiven || f.Name == "url"
		storeGiven = storeGiven || f.Name == "store"
		signerGiven = signerGiven || f.Name == "signer"
	})
	if signerGiven {
		if urlGiven {
			return errors.New("--signer chooses the signer of the gateway bench starts; a --url gateway signs with what it was built and started with")
		}
		if *signerName != signer.NameGo && *signerName != signer.NameOpenSSL {
			return fmt.Errorf("--signer %q: go or openssl", *signerName)
		}
		if err := (gateway.KeyConfig{Signer: *signerName}).Check(); err != nil {
			return err
		}
	}
	if !storeGiven && cf.store.database != "" {
		*storeKind = "postgres" // --database names a PostgreSQL store, as for serve
	}
	if *start && urlGiven {
		return errors.New("--start and --url exclude each other")
	}
	// --url A,B,C: instances of one gateway on one store, called in turn.
	urls := strings.Split(cf.url, ",")
	cf.url = urls[0]
	*start = *start || !urlGiven
	if _, ok := bench.Mixes[*mixName]; !ok {
		return fmt.Errorf("--mix %q: one of %s", *mixName, bench.MixNames())
	}
	if *storeKind != "sqlite" && *storeKind != "postgres" {
		return fmt.Errorf("--store must be sqlite or postgres, not %q", *storeKind)
	}
	if *storeKind == "postgres" && cf.store.database == "" && (*start || *baseline) {
		return errors.New("--store postgres needs --database postgres://… (a fresh schema is made in it and dropped after)")
	}
	if *concurrency <= 0 || *rate < 0 || *preload < 0 || (*count <= 0 && *duration <= 0) {
		return errors.New("--concurrency, --duration or --count must be positive, --rate and --preload not negative")
	}

	tmp, err := os.MkdirTemp("", "cardgate-bench-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	cfg := bench.Config{Mix: *mixName, Concurrency: *concurrency, Rate: *rate, Duration: *duration, Count: *count,
		RunID: strconv.FormatInt(time.Now().UnixNano(), 36), Label: "gateway"}
	if *progress {
		cfg.Progress, cfg.ProgressCR = stderr, isTerminal(stderr)
	}
	report := &bench.Report{Mix: *mixName, Concurrency: *concurrency, Rate: *rate, Store: *storeKind, Preload: *preload, Notify: *notifyOn}

	// The gateway under test.
	var (
		gw     *startedGateway
		target = cf
	)
	if *start {
		gw, err = startBenchGateway(ctx, *storeKind, cf.store.database, tmp, *logLevel, *signerName)
		if err != nil {
			return err
		}
		defer gw.stop()
		target.url, target.clientID, target.privateKey, target.gatewayKey = gw.url, gw.creds.ClientID, gw.creds.MerchantPrivateKey, gw.creds.GatewayPublicKey
		target.store = gw.store
	} else if target.clientID == "" || target.privateKey == "" || target.gatewayKey == "" {
		// Credentials of the sandbox merchant of --data/--database, as the other client commands.
		if _, err := target.client(ctx); err != nil {
			return err
		}
		report.Store = storeKindOf(target.store)
	}
	if *start {
		urls = []string{target.url}
	}
	// The load generator signs through client, with crypto/rsa; so does the floor.
	report.Signers = &bench.Signers{Client: signer.NameGo}
	if gw != nil {
		report.Signers.Gateway = gw.Signer
	} else if name, err := bench.ScrapeSigner(ctx, http.DefaultClient, urls[0]); err == nil {
		report.Signers.Gateway = name
	}
	if *baseline {
		report.Signers.Baseline = signer.NameGo
	}
	c, err := benchClient(urls, target.clientID, target.privateKey, target.gatewayKey, *concurrency)
	if err != nil {
		return err
	}

	var rcv *bench.Receiver
	if *notifyOn {
		pub, err := protocol.ParsePublicKey(target.gatewayKey)
		if err != nil {
			return fmt.Errorf("gateway public key: %w", err)
		}
		if rcv, err = bench.StartReceiver(pub); err != nil {
			return err
		}
		defer rcv.Close()
		cfg.NotifyURL = rcv.URL()
	}

	if err := bench.Warm(ctx, c, cfg); err != nil {
		return fmt.Errorf("gateway %s: %w", target.url, err)
	}
	if *preload > 0 {
		if err := preloadStore(ctx, c, cfg, target, *preload, stderr); err != nil {
			return err
		}
	}
	if rcv != nil {
		// The warm-up's notifications are not the measurement's.
		rcv.WaitFor(int64(bench.Mixes[*mixName].Notifications*(*concurrency+1)), 2*time.Second)
		rcv.Reset()
	}

	// The floor is started and warmed before the measurement, so that the rounds can alternate.
	var floor *floorServer
	if *baseline {
		if floor, err = startFloor(ctx, *storeKind, cf.store.database, tmp, *concurrency); err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		defer floor.close()
		bcfg := cfg
		bcfg.Label, bcfg.NotifyURL = "baseline", ""
		if err := bench.Warm(ctx, floor.client, bcfg); err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
	}

	// Gateway and baseline alternate in rounds, so that a change in what else runs on the
	// machine weighs on both alike instead of on whichever ran second.
	n := *rounds
	if n <= 0 {
		n = 1
		if *baseline {
			n = 4
		}
	}
	if *count > 0 {
		n = int(min(int64(n), *count))
	}
	var gwRounds, baseRounds []*bench.Result
	owed := int64(0) // notifications the measured iterations owe
	var (
		watch      *bench.OutboxWatch
		delivery   *bench.Delivery
		received   int64         // notifications that arrived during the gateway rounds
		measured   time.Duration // the gateway rounds' time
		lastWaited time.Duration
	)
	if rcv != nil {
		// Every instance reports the one store's outbox: the first one's /metrics suffice.
		watch = bench.WatchOutbox(ctx, urls[0])
		defer watch.Close()
		delivery = &bench.Delivery{}
	}
	for i := range n {
		rc := cfg
		rc.Duration = *duration / time.Duration(n)
		if *count > 0 {
			rc.Count = *count / int64(n)
			if i == n-1 {
				rc.Count = *count - rc.Count*int64(n-1)
			}
		}
		if n > 1 {
			rc.Label = fmt.Sprintf("gateway %d/%d", i+1, n)
		}
		stopProfile := func() {}
		if *cpuProfile != "" && i == 0 {
			f, err := os.Create(*cpuProfile)
			if err != nil {
				return fmt.Errorf("--cpuprofile: %w", err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				f.Close()
				return fmt.Errorf("--cpuprofile: %w", err)
			}
			stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
		}
		before := int64(0)
		if rcv != nil {
			before = rcv.Valid()
		}
		res, err := bench.Run(ctx, c, rc)
		stopProfile()
		if err != nil {
			return err
		}
		gwRounds = append(gwRounds, res)
		if gw != nil {
			// The automatic captures of the round's last answers trail them by a few
			// milliseconds (payments/captures.go); they finish before the baseline's round.
			if err := gw.Service.CapturesIdle(ctx); err != nil {
				return err
			}
		}
		if rcv != nil {
			received += rcv.Valid() - before
			measured += res.Elapsed
			if s, err := watch.Sample(ctx); err == nil && i == n-1 {
				delivery.PendingAtEnd, delivery.OldestPendingAtEndMs = s.Pending, float64(s.Oldest.Milliseconds())
			}
			// Deliveries trail the answers; they finish (or --notify-wait runs out) before the
			// baseline's round starts.
			owed += res.Iterations * int64(bench.Mixes[*mixName].Notifications)
			waitStart := time.Now()
			rcv.WaitUntil(owed, *notifyWait)
			lastWaited = time.Since(waitStart)
		}
		if floor != nil {
			rc.Label, rc.NotifyURL = "baseline", ""
			if n > 1 {
				rc.Label = fmt.Sprintf("baseline %d/%d", i+1, n)
			}
			res, err := bench.Run(ctx, floor.client, rc)
			if err != nil {
				return fmt.Errorf("baseline: %w", err)
			}
			baseRounds = append(baseRounds, res)
		}
	}
	report.Rounds = n
	report.Summary = bench.Summarize(bench.Merge(gwRounds...))
	if report.DurationS > 0 {
		report.IterationsPerSec = math.Round(float64(report.Iterations)/report.DurationS*10) / 10
	}
	if rcv != nil {
		report.Notifications = rcv.Valid()
		report.NotificationsByType = rcv.ByType()
		report.NotificationsInvalid = rcv.Invalid()
		watch.Close()
		m := watch.Max()
		delivery.PendingMax, delivery.OldestPendingMaxMs = m.Pending, float64(m.Oldest.Milliseconds())
		delivery.NotifyOwed, delivery.NotifyWaitMs = owed, float64(lastWaited.Milliseconds())
		if measured > 0 {
			delivery.NotifyPerSec = math.Round(float64(received)/measured.Seconds()*10) / 10
		}
		if report.IterationsPerSec > 0 {
			delivery.NotifyPerIteration = math.Round(delivery.NotifyPerSec/report.IterationsPerSec*1000) / 1000
		}
		if err := watch.Err(); err != nil {
			delivery.OutboxSampleError = err.Error()
		}
		report.Delivery = delivery
	}
	if floor != nil {
		report.SetBaseline(bench.Summarize(bench.Merge(baseRounds...)))
	}

	if *asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(report)
	}
	report.WriteTable(stdout)
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func storeKindOf(sf storeFlags) string {
	if sf.database != "" {
		return "postgres"
	}
	return "sqlite"
}

// benchClient is a merchant client whose transport keeps a connection per worker, calling the
// instances at urls in turn.
func benchClient(urls []string, clientID, privateKey, gatewayKey string, concurrency int) (*client.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 0
	tr.MaxIdleConnsPerHost = max(concurrency, 64)
	var rt http.RoundTripper = tr
	if len(urls) > 1 {
		rr, err := bench.NewRoundRobin(tr, urls)
		if err != nil {
			return nil, fmt.Errorf("--url: %w", err)
		}
		rt = rr
	}
	return client.New(client.Config{BaseURL: urls[0], ClientID: clientID, PrivateKey: privateKey, GatewayPublicKey: gatewayKey,
		HTTPClient: &http.Client{Transport: rt, Timeout: 60 * time.Second}})
}

// startedGateway is the gateway `cardgate serve` runs, started in this process on a temporary
// store.
type startedGateway struct {
	*gateway.Gateway
	url        string
	creds      merchant.Credentials
	store      storeFlags
	logFile    *os.File
	dropSchema func()
}

// startBenchGateway creates a temporary store (a directory under tmp, or a fresh schema in the
// PostgreSQL database) and starts the sandbox gateway on it on a free loopback port, logging to
// gateway.log in tmp.
func startBenchGateway(ctx context.Context, kind, database, tmp, logLevel, signerName string) (*startedGateway, error) {
	g := &startedGateway{store: storeFlags{data: filepath.Join(tmp, "gateway")}}
	if kind == "postgres" {
		u, drop, err := bench.TempSchema(ctx, database, "cg_bench")
		if err != nil {
			return nil, err
		}
		g.store.database, g.dropSchema = u, drop
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		g.stop()
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	var err error
	if g.logFile, err = os.Create(filepath.Join(tmp, "gateway.log")); err != nil {
		g.stop()
		return nil, err
	}
	gw, err := gateway.Start(ctx, gateway.Config{
		Data: g.store.data, Database: g.store.database, Addr: "127.0.0.1:0",
		Log:        slog.New(slog.NewTextHandler(g.logFile, &slog.HandlerOptions{Level: level})),
		GatewayKey: gateway.KeyConfig{Signer: signerName},
	})
	if err != nil {
		g.stop()
		return nil, fmt.Errorf("gateway did not start: %w (log in %s)", err, g.logFile.Name())
	}
	g.Gateway, g.url = gw, gw.URL
	if g.creds, err = gw.Credentials(); err != nil {
		g.stop()
		return nil, err
	}
	return g, nil
}

// stop shuts the gateway down and drops its schema; it is safe to call twice.
func (g *startedGateway) stop() {
	if g.Gateway != nil {
		if err := g.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "cardgate bench: gateway:", err)
		}
		g.Gateway = nil
	}
	if g.logFile != nil {
		g.logFile.Close()
		g.logFile = nil
	}
	if g.dropSchema != nil {
		g.dropSchema()
		g.dropSchema = nil
	}
}

// preloadStore makes one real payment to copy, then bulk-inserts n copies of it into the
// gateway's store.
func preloadStore(ctx context.Context, c *client.Client, cfg bench.Config, target clientFlags, n int64, stderr io.Writer) error {
	st, err := target.store.open(ctx)
	if err != nil {
		return fmt.Errorf("--preload needs the gateway's store (--data or --database): %w", err)
	}
	defer st.Close()
	imp, ok := st.(bench.Importer)
	if !ok {
		return fmt.Errorf("--preload: store %s cannot import", st.Describe())
	}
	cfg.RunID += "-template"
	templateID, err := bench.TemplatePayment(ctx, c, cfg)
	if err != nil {
		return fmt.Errorf("--preload template payment: %w", err)
	}
	return bench.Preload(ctx, imp, target.clientID, templateID, n, stderr)
}

// floorServer is the minimal server of --baseline, in this process, on a store of the same kind
// as the gateway's, with a merchant client for it.
type floorServer struct {
	client *client.Client
	close  func()
}

func startFloor(ctx context.Context, kind, database, tmp string, concurrency int) (fl *floorServer, err error) {
	var fst bench.FloorStore
	if kind == "postgres" {
		fst, err = bench.OpenPostgresFloor(ctx, database)
	} else {
		fst, err = bench.OpenSQLiteFloor(ctx, filepath.Join(tmp, "baseline"))
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			fst.Close()
		}
	}()
	// Keys of its own: the floor stands for any gateway, not for this one's merchant.
	merchantKey, err := protocol.GenerateKey()
	if err != nil {
		return nil, err
	}
	gatewayKey, err := protocol.GenerateKey()
	if err != nil {
		return nil, err
	}
	priv, err := protocol.EncodePrivateKeyPKCS8(merchantKey)
	if err != nil {
		return nil, err
	}
	pub, err := protocol.EncodePublicKey(&gatewayKey.PublicKey)
	if err != nil {
		return nil, err
	}
	url, stop, err := serveFloor(fst, &merchantKey.PublicKey, gatewayKey)
	if err != nil {
		return nil, err
	}
	c, err := benchClient([]string{url}, "SANDBOX_BASELINE", priv, pub, concurrency)
	if err != nil {
		stop()
		return nil, err
	}
	return &floorServer{client: c, close: func() { stop(); fst.Close() }}, nil
}

func serveFloor(st bench.FloorStore, merchantPub *rsa.PublicKey, gatewayKey *rsa.PrivateKey) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: bench.FloorHandler(st, merchantPub, gatewayKey), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}
