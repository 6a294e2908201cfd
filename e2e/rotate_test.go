package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to read the PostgreSQL store as an auditor would

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/vault"
	"github.com/cardgate/cardgate/protocol"
)

// Key rotation while the gateway serves (issue 5): `cardgate vault rotate` runs as its own process
// while merchants keep paying with saved cards, saving new ones and leaving 3-D Secure challenges
// pending; no pay may fail, and afterwards every stored envelope is under the new key.

// rotReport is what `cardgate vault rotate --json` prints.
type rotReport struct {
	KEK       string         `json:"kek"`
	Rewrapped map[string]int `json:"rewrapped"`
	Records   map[string]int `json:"records"`
	Remaining int            `json:"remaining"`
	Passes    int            `json:"passes"`
}

func (r rotReport) rewrapped() int {
	return r.Rewrapped["card_tokens"] + r.Rewrapped["payments.sealed_card"]
}

// rotCards are the approved test cards the load saves, each with a CVV of its own.
var rotCards = []tdsCard{
	{"4054695723100768", "271"}, {"4117347806156383", "272"}, {"5555555555554444", "273"}, {"378282246310005", "2740"},
	{"3566002020360505", "275"}, {"6011111111111117", "276"}, {"36227206271667", "277"}, {"6200000000000005", "278"},
}

// rotChallenge is challenged whenever 3-D Secure is asked for; its card waits sealed meanwhile.
var rotChallenge = tdsCard{"4000002760003184", "279"}

type rotSaved struct{ token, buyer, pan string }

type rotPending struct{ paymentID, url string }

// rotLoad is the merchants' traffic: token pays, new tokenizing pays and challenges left pending.
type rotLoad struct {
	c      *client.Client
	web    *http.Client
	prefix string

	mu      sync.Mutex
	tokens  []rotSaved
	pending []rotPending
	errs    []string

	seq                                        atomic.Int64
	tokenPays, newTokens, challenges, failures atomic.Int64
}

func newRotLoad(c *client.Client, prefix string) *rotLoad {
	return &rotLoad{c: c, prefix: prefix, web: &http.Client{
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (l *rotLoad) fail(format string, args ...any) {
	l.failures.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) < 20 {
		l.errs = append(l.errs, fmt.Sprintf(format, args...))
	}
}

func (l *rotLoad) orderOf(req *protocol.PayRequest, n int64) {
	req.Order.ReferenceOrderID = fmt.Sprintf("%s-order-%d", l.prefix, n)
	req.PaymentRequestID = newRequestID(l.prefix)
}

// tokenize saves a card for a new buyer with a server-to-server pay (tokenizeMode ENABLED).
func (l *rotLoad) tokenize() error {
	n := l.seq.Add(1)
	card := rotCards[int(n)%len(rotCards)]
	req := payRequest(card.pan, card.cvv)
	l.orderOf(req, n)
	req.PaymentMethod.PaymentMethodMetaData.TokenizeMode = "ENABLED"
	req.Order.Buyer.ReferenceBuyerID = fmt.Sprintf("%s-buyer-%d", l.prefix, n)
	resp, err := l.c.Pay(context.Background(), req)
	switch {
	case err != nil:
		return err
	case resp.Result.ResultStatus != "S" || resp.PaymentResultInfo == nil || !strings.HasPrefix(resp.PaymentResultInfo.CardToken, "ctk_"):
		return fmt.Errorf("tokenizing pay: %+v cardToken %v", resp.Result, resp.PaymentResultInfo)
	}
	l.newTokens.Add(1)
	l.mu.Lock()
	l.tokens = append(l.tokens, rotSaved{resp.PaymentResultInfo.CardToken, req.Order.Buyer.ReferenceBuyerID, card.pan})
	l.mu.Unlock()
	return nil
}

// payToken pays with a saved card, without CVV.
func (l *rotLoad) payToken(s rotSaved) error {
	req := tkTokenPay(s.token, s.buyer)
	l.orderOf(req, l.seq.Add(1))
	resp, err := l.c.Pay(context.Background(), req)
	switch {
	case err != nil:
		return err
	case resp.Result.ResultStatus != "S" || resp.PaymentResultInfo == nil || resp.PaymentResultInfo.CardNo != tkMasked(s.pan):
		return fmt.Errorf("token pay %s: %+v", s.token, resp.Result)
	}
	l.tokenPays.Add(1)
	return nil
}

// challenge opens a 3-D Secure challenge and leaves it pending: its card is sealed meanwhile.
func (l *rotLoad) challenge() (rotPending, error) {
	req := payRequest(rotChallenge.pan, rotChallenge.cvv)
	l.orderOf(req, l.seq.Add(1))
	req.PaymentRedirectURL = tdsRedirect
	req.PaymentMethod.PaymentMethodMetaData.Is3DSAuthentication = true
	resp, err := l.c.Pay(context.Background(), req)
	switch {
	case err != nil:
		return rotPending{}, err
	case resp.Result.ResultStatus != "U" || !strings.Contains(resp.NormalURL, "/threeds/"):
		return rotPending{}, fmt.Errorf("challenge pay: %+v normalUrl %q", resp.Result, resp.NormalURL)
	}
	l.challenges.Add(1)
	p := rotPending{resp.PaymentID, resp.NormalURL}
	return p, nil
}

func (l *rotLoad) randomToken() rotSaved {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tokens[rand.IntN(len(l.tokens))]
}

// run starts workers that pay until the returned stop is called; stop waits for them.
func (l *rotLoad) run(workers int) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				switch n := rand.IntN(100); {
				case n < 80:
					if err := l.payToken(l.randomToken()); err != nil {
						l.fail("%v", err)
					}
				case n < 95:
					if err := l.tokenize(); err != nil {
						l.fail("%v", err)
					}
				default:
					p, err := l.challenge()
					if err != nil {
						l.fail("%v", err)
						continue
					}
					l.mu.Lock()
					l.pending = append(l.pending, p)
					l.mu.Unlock()
				}
			}
		}()
	}
	return func() { close(done); wg.Wait() }
}

// complete answers a pending challenge with the right code and expects the payment approved.
func (l *rotLoad) complete(t *testing.T, p rotPending) {
	t.Helper()
	res, err := l.web.PostForm(p.url, url.Values{"otp": {"1234"}})
	if err != nil {
		t.Fatalf("POST %s: %v", p.url, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != tdsRedirect {
		t.Errorf("challenge %s: %d %q, want 303 to %s", p.paymentID, res.StatusCode, res.Header.Get("Location"), tdsRedirect)
	}
	inq, err := l.c.InquiryPayment(context.Background(), &protocol.InquiryPaymentRequest{PaymentID: p.paymentID})
	if err != nil {
		t.Fatal(err)
	}
	if inq.PaymentStatus != "SUCCESS" || inq.PaymentResultInfo == nil || inq.PaymentResultInfo.CVVResultRaw != "Y" {
		t.Errorf("challenge %s after 1234: %s/%s, want SUCCESS with the sealed CVV checked (cvvResultRaw Y)", p.paymentID, inq.PaymentStatus, inq.PaymentResultCode)
	}
}

// allTokensPay pays once with every saved card, one after the other.
func (l *rotLoad) allTokensPay(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	all := append([]rotSaved(nil), l.tokens...)
	l.mu.Unlock()
	failed := 0
	for _, s := range all {
		if err := l.payToken(s); err != nil {
			failed++
			if failed <= 5 {
				t.Errorf("after the rotation: %v", err)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d saved cards no longer pay", failed, len(all))
	}
}

// rotateUnderLoad runs the rotate command while 4 workers pay, stops the load one second after
// the command ended, and returns its report. logs collects the command's output for the scan.
func rotateUnderLoad(t *testing.T, l *rotLoad, logs map[string][]byte, args ...string) rotReport {
	t.Helper()
	pays0, tokens0, chall0 := l.tokenPays.Load(), l.newTokens.Load(), l.challenges.Load()
	stop := l.run(4)
	time.Sleep(300 * time.Millisecond) // the load is under way before the key changes
	cmd := exec.Command(binary, append([]string{"vault", "rotate", "--json"}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	started := time.Now()
	err := cmd.Run()
	took := time.Since(started)
	time.Sleep(time.Second)
	stop()
	logs[fmt.Sprintf("rotate %d stdout", len(logs))] = out.Bytes()
	logs[fmt.Sprintf("rotate %d stderr", len(logs))] = errOut.Bytes()
	if err != nil {
		t.Fatalf("cardgate vault rotate: %v\n%s", err, errOut.Bytes())
	}
	var rep rotReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("rotate --json printed %q: %v", out.Bytes(), err)
	}
	t.Logf("rotation to %s in %v: %d passes, rewrapped %v, records %v, remaining %d; during it: %d token pays, %d new tokens, %d challenges, %d failures",
		rep.KEK, took.Round(time.Millisecond), rep.Passes, rep.Rewrapped, rep.Records, rep.Remaining,
		l.tokenPays.Load()-pays0, l.newTokens.Load()-tokens0, l.challenges.Load()-chall0, l.failures.Load())
	if rep.Remaining != 0 || rep.KEK == "" || rep.Passes < 2 {
		t.Errorf("rotate report %+v, want remaining 0 after at least 2 passes", rep)
	}
	if n := l.failures.Load(); n != 0 {
		l.mu.Lock()
		t.Errorf("%d pays failed during the rotation: %s", n, strings.Join(l.errs, "; "))
		l.mu.Unlock()
	}
	if l.tokenPays.Load() == pays0 || l.newTokens.Load() == tokens0 {
		t.Errorf("no load ran during the rotation")
	}
	return rep
}

// sealedUnder checks that every stored envelope is under kek and returns how many there are.
func sealedUnder(t *testing.T, db *sql.DB, kek string) (tokens, cards int) {
	t.Helper()
	for _, q := range []struct {
		query string
		n     *int
	}{
		{`SELECT token_id, sealed FROM card_tokens`, &tokens},
		{`SELECT payment_id, sealed_card FROM payments WHERE sealed_card <> ''`, &cards},
	} {
		rows, err := db.Query(q.query)
		if err != nil {
			t.Fatalf("%s: %v", q.query, err)
		}
		bad := 0
		for rows.Next() {
			var id, sealed string
			if err := rows.Scan(&id, &sealed); err != nil {
				t.Fatal(err)
			}
			*q.n++
			if !strings.HasPrefix(sealed, "v1."+kek+".") {
				if bad++; bad <= 3 {
					t.Errorf("%s: %s is sealed under %.24q…, want v1.%s.", q.query, id, sealed, kek)
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if bad > 0 {
			t.Errorf("%s: %d of %d envelopes not under %s", q.query, bad, *q.n, kek)
		}
	}
	return tokens, cards
}

// firstKEK is the id of the current key in a key file: the first entry.
func firstKEK(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(b)), ",")
	id, _, ok := strings.Cut(first, ":")
	clear(b)
	if !ok || id == "" {
		t.Fatalf("key file %s: no id in its first entry", path)
	}
	return id
}

// rotSetUp makes 20 saved cards (different buyers) and three challenges left pending.
func rotSetUp(t *testing.T, l *rotLoad) []rotPending {
	t.Helper()
	for range 20 {
		if err := l.tokenize(); err != nil {
			t.Fatal(err)
		}
	}
	var before []rotPending
	for range 3 {
		p, err := l.challenge()
		if err != nil {
			t.Fatal(err)
		}
		before = append(before, p)
	}
	return before
}

func rotCardsAll() []tdsCard { return append(append([]tdsCard(nil), rotCards...), rotChallenge) }

// TestVaultRotateWhilePaying: SQLite sandbox with its key file. Two rotations, each while four
// workers pay with saved cards, save new ones and open challenges; no pay fails, the report says
// nothing remains, every envelope is under the key now first in vault.key, every saved card still
// pays and challenges opened before a rotation complete after it.
func TestVaultRotateWhilePaying(t *testing.T) {
	g := startGateway(t)
	l := newRotLoad(g.client, "rot")
	before := rotSetUp(t, l)
	db := g.db()
	keyFile := filepath.Join(g.dir, "vault.key")
	kek := firstKEK(t, keyFile)
	if tok, cards := sealedUnder(t, db, kek); tok != 20 || cards != 3 {
		t.Fatalf("before the rotation: %d tokens and %d sealed cards, want 20 and 3", tok, cards)
	}
	logs := map[string][]byte{}
	for round := range 2 {
		rep := rotateUnderLoad(t, l, logs, "--data", g.dir)
		now := firstKEK(t, keyFile)
		if rep.KEK != now || now == kek {
			t.Errorf("round %d: report kek %q, vault.key first %q, previous %q: want the new first key", round+1, rep.KEK, now, kek)
		}
		kek = now
		tok, cards := sealedUnder(t, db, kek)
		t.Logf("round %d: %d saved cards and %d pending challenges' cards, all under %s", round+1, tok, cards, kek)
		if rep.Rewrapped["card_tokens"] < 20 || rep.Rewrapped["payments.sealed_card"] < 3-round {
			t.Errorf("round %d: rewrapped %v, want at least the 20 tokens and the %d pending cards made before", round+1, rep.Rewrapped, 3-round)
		}
		l.allTokensPay(t)
		// A challenge opened before the rotation completes after it.
		l.complete(t, before[round])
	}
	if ids := strings.Count(string(mustRead(t, keyFile)), ","); ids != 2 {
		t.Errorf("vault.key holds %d keys, want 3 (the new first, the older kept)", ids+1)
	}
	l.mu.Lock()
	pending := append([]rotPending{before[2]}, l.pending...)
	l.mu.Unlock()
	for _, p := range pending {
		l.complete(t, p)
	}
	t.Logf("in all: %d token pays, %d tokenizing pays, %d challenges (%d completed after rotations), %d failures",
		l.tokenPays.Load(), l.newTokens.Load(), l.challenges.Load(), len(pending)+2, l.failures.Load())

	logs["stdout"], logs["stderr"] = g.stdout.Bytes(), g.stderr.Bytes()
	logs["vault.key"] = mustRead(t, keyFile) // and the rest of the data directory
	hpScanDir(t, "running", g.dir, logs, rotCardsAll())
	g.stop()
	logs["stdout"], logs["stderr"] = g.stdout.Bytes(), g.stderr.Bytes()
	hpScanDir(t, "stopped", g.dir, logs, rotCardsAll())
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVaultRotateWhilePayingPostgres: production-style keys on PostgreSQL. Saved cards and pending
// challenges are made by a gateway that has only the old key; the gateway restarted with
// --vault-keys new,old keeps serving while `vault rotate --vault-keys new,old` rewraps everything.
// It fails, never skips, without PostgreSQL (postgresURL).
func TestVaultRotateWhilePayingPostgres(t *testing.T) {
	dbURL, data := freshSchema(t), t.TempDir()
	oldKEK, err := vault.GenerateKEK("e2e-old")
	if err != nil {
		t.Fatal(err)
	}
	newKEK, err := vault.GenerateKEK("e2e-new")
	if err != nil {
		t.Fatal(err)
	}
	oldOnly, err := vault.EncodeKeys(oldKEK)
	if err != nil {
		t.Fatal(err)
	}
	both, err := vault.EncodeKeys(newKEK, oldKEK)
	if err != nil {
		t.Fatal(err)
	}
	store := []string{"--database", dbURL, "--data", data}
	var creds merchant.Credentials
	if err := json.Unmarshal(cardgate(t, append([]string{"init", "--json"}, store...)...), &creds); err != nil {
		t.Fatal(err)
	}
	clientOf := func(in *instance) *client.Client {
		c, err := client.New(client.Config{BaseURL: "http://" + in.addr, ClientID: creds.ClientID, PrivateKey: creds.MerchantPrivateKey,
			GatewayPublicKey: creds.GatewayPublicKey, HTTPClient: &http.Client{Timeout: 15 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	oldGW := newInstance(t, append(store, "--log-level", "debug", "--vault-keys", oldOnly)...)
	oldGW.start()
	l := newRotLoad(clientOf(oldGW), "rotpg")
	before := rotSetUp(t, l)
	if tok, cards := sealedUnder(t, db, "e2e-old"); tok != 20 || cards != 3 {
		t.Fatalf("under the old key: %d tokens and %d sealed cards, want 20 and 3", tok, cards)
	}
	oldGW.kill(syscall.SIGTERM)

	// The rolling restart: the new key first, the old one still there to open what it wraps.
	gw := newInstance(t, append(store, "--log-level", "debug", "--vault-keys", both)...)
	gw.start()
	l.c = clientOf(gw)
	for i, p := range before { // the buyer's page, now served by the new instance
		before[i].url = strings.Replace(p.url, "http://"+oldGW.addr, "http://"+gw.addr, 1)
	}
	logs := map[string][]byte{}
	rep := rotateUnderLoad(t, l, logs, "--database", dbURL, "--vault-keys", both)
	if rep.KEK != "e2e-new" || rep.Rewrapped["card_tokens"] < 20 || rep.Rewrapped["payments.sealed_card"] < 3 {
		t.Errorf("rotate report %+v, want kek e2e-new with the 20 tokens and 3 pending cards rewrapped", rep)
	}
	tok, cards := sealedUnder(t, db, "e2e-new")
	t.Logf("%d saved cards and %d pending challenges' cards, all under e2e-new", tok, cards)
	l.allTokensPay(t)
	l.complete(t, before[0])

	// A second run finds nothing left to do.
	again := rotateUnderLoad(t, l, logs, "--database", dbURL, "--vault-keys", both)
	if again.KEK != "e2e-new" || again.rewrapped() != 0 {
		t.Errorf("second rotation %+v, want nothing rewrapped", again)
	}
	sealedUnder(t, db, "e2e-new")
	l.allTokensPay(t)
	l.mu.Lock()
	pending := append(before[1:], l.pending...)
	l.mu.Unlock()
	for _, p := range pending {
		l.complete(t, p)
	}
	t.Logf("in all: %d token pays, %d tokenizing pays, %d challenges, %d failures",
		l.tokenPays.Load(), l.newTokens.Load(), l.challenges.Load(), l.failures.Load())

	// The card-data scan: the rows of every table, the logs and the rotate output.
	gw.kill(syscall.SIGTERM)
	logs["old gateway"], logs["gateway"] = oldGW.logs.Bytes(), gw.logs.Bytes()
	for _, table := range []string{"payments", "payment_events", "outbox", "card_tokens", "transactions", "notify_attempts"} {
		rows, err := db.Query(`SELECT t::text FROM ` + table + ` t`)
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		var all []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			all = append(all, s)
		}
		rows.Close()
		logs["table "+table] = []byte(strings.Join(all, "\n"))
	}
	hpScanDir(t, "stopped", data, logs, rotCardsAll())
}
