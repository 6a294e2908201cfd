package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/vault"
)

// One vault key for every instance of a sandbox on PostgreSQL (issue 11): instances in different
// working directories, as on different hosts, seal and open with the keys kept in the database,
// so a 3-D Secure challenge opened on one completes on another; production keeps to --vault-keys.

// pgInit runs `cardgate init --json` on a database and returns the sandbox merchant.
func pgInit(t *testing.T, dbURL, data string) merchant.Credentials {
	t.Helper()
	var creds merchant.Credentials
	if err := json.Unmarshal(cardgate(t, "init", "--json", "--database", dbURL, "--data", data), &creds); err != nil {
		t.Fatal(err)
	}
	return creds
}

func clientFor(t *testing.T, in *instance, creds merchant.Credentials) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{BaseURL: "http://" + in.addr, ClientID: creds.ClientID, PrivateKey: creds.MerchantPrivateKey,
		GatewayPublicKey: creds.GatewayPublicKey, HTTPClient: &http.Client{Timeout: 15 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openPG(t *testing.T, dbURL string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// storedKEKs lists the ids in sandbox_vault_keys, the current first.
func storedKEKs(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT kek_id FROM sandbox_vault_keys ORDER BY seq DESC`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// sealedKEK is the key a pending challenge's card is sealed under.
func sealedKEK(t *testing.T, db *sql.DB, paymentID string) string {
	t.Helper()
	var sealed string
	if err := db.QueryRow(`SELECT sealed_card FROM payments WHERE payment_id = $1`, paymentID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	s, err := vault.ParseSealed(sealed)
	if err != nil {
		t.Fatalf("sealed card of %s: %v", paymentID, err)
	}
	return s.KEKID
}

func noKeyFile(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "vault.key")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s/vault.key: %v, want none (the keys are in the database)", d, err)
		}
	}
}

// onInstance points a challenge's page at another instance, as a load balancer may.
func onInstance(p rotPending, from, to *instance) rotPending {
	p.url = strings.Replace(p.url, "http://"+from.addr, "http://"+to.addr, 1)
	return p
}

// pgDump dumps the schema of a freshSchema URL, data included, as an auditor would.
func pgDump(t *testing.T, dbURL string) []byte {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	schema := q.Get("search_path")
	q.Del("search_path")
	u.RawQuery = q.Encode()
	out, err := exec.Command("pg_dump", "--dbname", u.String(), "--schema", schema).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("pg_dump: %v\n%s", err, stderr)
	}
	return out
}

// TestThreeDSAcrossInstancesPostgres: two sandbox instances in different working directories
// start at once on one empty database and share one stored key (and no key file); a challenge
// opened on either is completed on the other; `vault rotate --database` while both serve adds a
// key that both follow, and challenges and saved cards keep working across them. Then the data
// directories, the logs and a pg_dump hold none of the card numbers.
func TestThreeDSAcrossInstancesPostgres(t *testing.T) {
	dbURL := freshSchema(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	creds := pgInit(t, dbURL, dirA)
	a := newInstance(t, "--database", dbURL, "--data", dirA, "--log-level", "debug")
	b := newInstance(t, "--database", dbURL, "--data", dirB, "--log-level", "debug")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, in := range []*instance{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = in.tryStart() }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	db := openPG(t, dbURL)
	first := storedKEKs(t, db)
	if len(first) != 1 {
		t.Fatalf("stored keys %v after two first starts, want exactly one", first)
	}
	noKeyFile(t, dirA, dirB)

	la, lb := newRotLoad(clientFor(t, a, creds), "xa"), newRotLoad(clientFor(t, b, creds), "xb")
	across := func(when string, l *rotLoad, from, to *instance, kek string) {
		t.Helper()
		p, err := l.challenge()
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if got := sealedKEK(t, db, p.paymentID); got != kek {
			t.Errorf("%s: card sealed under %s, want the stored key %s", when, got, kek)
		}
		l.complete(t, onInstance(p, from, to))
	}
	across("opened on A, completed on B", la, a, b, first[0])
	across("opened on B, completed on A", lb, b, a, first[0])

	// Saved cards and pending challenges made on A; B pays with A's saved cards.
	before := rotSetUp(t, la)
	lb.tokens = append([]rotSaved(nil), la.tokens...)
	lb.allTokensPay(t)

	// The rotation while both serve: load on A through rotateUnderLoad, and on B alongside.
	logs := map[string][]byte{}
	stopB := lb.run(2)
	rep := rotateUnderLoad(t, la, logs, "--database", dbURL, "--data", t.TempDir())
	stopB()
	if n := lb.failures.Load(); n != 0 {
		t.Errorf("%d pays on B failed during the rotation: %s", n, strings.Join(lb.errs, "; "))
	}
	now := storedKEKs(t, db)
	if len(now) != 2 || now[0] != rep.KEK || now[1] != first[0] {
		t.Fatalf("stored keys after the rotation %v, want [%s %s] (the new one current, the old kept)", now, rep.KEK, first[0])
	}
	if rep.Rewrapped["card_tokens"] < 20 || rep.Rewrapped["payments.sealed_card"] < 3 {
		t.Errorf("rotate report %+v, want the 20 tokens and 3 pending cards rewrapped", rep)
	}
	tok, cards := sealedUnder(t, db, rep.KEK)
	t.Logf("after the rotation: %d saved cards and %d pending challenges' cards, all under %s", tok, cards, rep.KEK)
	noKeyFile(t, dirA, dirB)

	// Challenges opened on A before the rotation (rewrapped since) complete on B; new ones,
	// sealed under the new key, complete on the other instance either way.
	for _, p := range before {
		la.complete(t, onInstance(p, a, b))
	}
	across("after the rotation, opened on A, completed on B", la, a, b, rep.KEK)
	across("after the rotation, opened on B, completed on A", lb, b, a, rep.KEK)
	la.allTokensPay(t)
	lb.mu.Lock()
	lb.tokens = append(lb.tokens, la.tokens...)
	lb.mu.Unlock()
	lb.allTokensPay(t)
	la.mu.Lock()
	pendingA := append([]rotPending(nil), la.pending...)
	la.mu.Unlock()
	lb.mu.Lock()
	pendingB := append([]rotPending(nil), lb.pending...)
	lb.mu.Unlock()
	for _, p := range pendingA {
		la.complete(t, onInstance(p, a, b))
	}
	for _, p := range pendingB {
		lb.complete(t, onInstance(p, b, a))
	}
	t.Logf("in all: %d token pays, %d tokenizing pays, %d challenges (%d completed on the other instance)",
		la.tokenPays.Load()+lb.tokenPays.Load(), la.newTokens.Load()+lb.newTokens.Load(),
		la.challenges.Load()+lb.challenges.Load(), 4+len(before)+len(pendingA)+len(pendingB))

	// The card-data scan: both data directories, both logs, the rotate output and a pg_dump.
	a.kill(syscall.SIGTERM)
	b.kill(syscall.SIGTERM)
	logs["A"], logs["B"] = a.logs.Bytes(), b.logs.Bytes()
	dump := pgDump(t, dbURL)
	for _, want := range []string{"sandbox_vault_keys", before[0].paymentID, rep.KEK} {
		if !bytes.Contains(dump, []byte(want)) {
			t.Fatalf("pg_dump has no %q: the scan would prove nothing", want)
		}
	}
	logs["pg_dump"] = dump
	hpScanDir(t, "stopped A", dirA, logs, rotCardsAll())
	hpScanDir(t, "stopped B", dirB, nil, rotCardsAll())
}

// TestThreeDSProductionIgnoresSandboxKeysPostgres: production on PostgreSQL seals under
// --vault-keys and never writes sandbox_vault_keys; `vault rotate` without --vault-keys refuses its
// database; and once a sandbox has stored a key in the same database, production still neither
// seals under it nor, without --vault-keys, turns 3-D Secure on with it.
func TestThreeDSProductionIgnoresSandboxKeysPostgres(t *testing.T) {
	dbURL, data := freshSchema(t), t.TempDir()
	creds := pgInit(t, dbURL, data)
	prod, err := vault.GenerateKEK("e2e-prod")
	if err != nil {
		t.Fatal(err)
	}
	prodKeys, err := vault.EncodeKeys(prod)
	if err != nil {
		t.Fatal(err)
	}
	db := openPG(t, dbURL)
	production := func(extra ...string) *instance {
		in := newInstance(t, append([]string{"--database", dbURL, "--data", data, "--mode", "production"}, extra...)...)
		in.start()
		return in
	}
	challengeUnder := func(in *instance, kek string) {
		t.Helper()
		l := newRotLoad(clientFor(t, in, creds), "prod")
		p, err := l.challenge()
		if err != nil {
			t.Fatal(err)
		}
		if got := sealedKEK(t, db, p.paymentID); got != kek {
			t.Errorf("production sealed a card under %s, want its configured %s", got, kek)
		}
		l.complete(t, p)
	}

	p1 := production("--vault-keys", prodKeys)
	challengeUnder(p1, "e2e-prod")
	if ids := storedKEKs(t, db); len(ids) != 0 {
		t.Errorf("production stored sandbox keys %v", ids)
	}
	noKeyFile(t, data)

	// vault rotate without --vault-keys on the production database: refused, nothing stored.
	out, err := exec.Command(binary, "vault", "rotate", "--database", dbURL, "--data", data).CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte("keeps no sandbox vault keys")) || !bytes.Contains(out, []byte("--vault-keys")) {
		t.Errorf("vault rotate without --vault-keys on a production database: %v\n%s\nwant a refusal naming --vault-keys", err, out)
	}
	if ids := storedKEKs(t, db); len(ids) != 0 {
		t.Errorf("a refused rotation stored keys %v", ids)
	}
	noKeyFile(t, data)
	p1.kill(syscall.SIGTERM)

	// A sandbox that served once on this database left its key there.
	sb := newInstance(t, "--database", dbURL, "--data", t.TempDir())
	sb.start()
	sb.kill(syscall.SIGTERM)
	sandbox := storedKEKs(t, db)
	if len(sandbox) != 1 {
		t.Fatalf("stored keys after a sandbox served %v, want one", sandbox)
	}

	p2 := production("--vault-keys", prodKeys)
	challengeUnder(p2, "e2e-prod")
	p2.kill(syscall.SIGTERM)

	// Without --vault-keys production has no vault, stored keys or not.
	p3 := production()
	l := newRotLoad(clientFor(t, p3, creds), "prodnokeys")
	req := payRequest(rotChallenge.pan, rotChallenge.cvv)
	l.orderOf(req, 1)
	req.PaymentRedirectURL = tdsRedirect
	req.PaymentMethod.PaymentMethodMetaData.Is3DSAuthentication = true
	resp, err := l.c.Pay(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Result.ResultStatus != "F" || resp.Result.ResultCode != "PARAM_ILLEGAL" || resp.NormalURL != "" {
		t.Errorf("3-D Secure pay on production without --vault-keys: %+v normalUrl %q, want F/PARAM_ILLEGAL (no vault)", resp.Result, resp.NormalURL)
	}
	p3.kill(syscall.SIGTERM)
	if !bytes.Contains(p3.logs.Bytes(), []byte("no --vault-keys")) {
		t.Errorf("production without --vault-keys did not say that 3-D Secure is off:\n%s", p3.logs.Bytes())
	}
	if ids := storedKEKs(t, db); len(ids) != 1 || ids[0] != sandbox[0] {
		t.Errorf("stored keys %v after production served, want the sandbox's %v unchanged", ids, sandbox)
	}
	logs := map[string][]byte{"p1": p1.logs.Bytes(), "p2": p2.logs.Bytes(), "p3": p3.logs.Bytes(), "pg_dump": pgDump(t, dbURL)}
	hpScanDir(t, "stopped", data, logs, []tdsCard{rotChallenge})
}

// TestSandboxAdoptsKeyFilePostgres: a sandbox on PostgreSQL that kept its key in DATA/vault.key
// (as before issue 11; here a gateway given the file's keys with --vault-keys seals under it)
// moves the file's keys into the database on its next start, so its pending challenge and saved
// card still open, now on another instance that never had the file.
func TestSandboxAdoptsKeyFilePostgres(t *testing.T) {
	dbURL, dirA, dirB := freshSchema(t), t.TempDir(), t.TempDir()
	creds := pgInit(t, dbURL, dirA)
	keyFile := filepath.Join(dirA, "vault.key")
	if _, err := vault.LoadOrCreateFile(keyFile); err != nil {
		t.Fatal(err)
	}
	fileKEK := firstKEK(t, keyFile)
	db := openPG(t, dbURL)

	before := newInstance(t, "--database", dbURL, "--data", dirA, "--vault-keys", strings.TrimSpace(string(mustRead(t, keyFile))))
	before.start()
	lo := newRotLoad(clientFor(t, before, creds), "adopt")
	if err := lo.tokenize(); err != nil {
		t.Fatal(err)
	}
	p, err := lo.challenge()
	if err != nil {
		t.Fatal(err)
	}
	if got := sealedKEK(t, db, p.paymentID); got != fileKEK {
		t.Fatalf("card sealed under %s, want the key file's %s", got, fileKEK)
	}
	before.kill(syscall.SIGTERM)
	if ids := storedKEKs(t, db); len(ids) != 0 {
		t.Fatalf("a gateway with --vault-keys stored sandbox keys %v", ids)
	}

	a := newInstance(t, "--database", dbURL, "--data", dirA)
	a.start()
	if ids := storedKEKs(t, db); len(ids) != 1 || ids[0] != fileKEK {
		t.Fatalf("stored keys %v, want the key file's [%s]", ids, fileKEK)
	}
	if !bytes.Contains(a.logs.Bytes(), []byte("keys of the key file are now kept in the database")) {
		t.Errorf("the adoption is not logged:\n%s", a.logs.Bytes())
	}
	b := newInstance(t, "--database", dbURL, "--data", dirB)
	b.start()
	noKeyFile(t, dirB)
	lb := newRotLoad(clientFor(t, b, creds), "adopt-b")
	lb.tokens = lo.tokens
	lb.allTokensPay(t)
	lb.complete(t, onInstance(p, before, b))
	a.kill(syscall.SIGTERM)
	b.kill(syscall.SIGTERM)
	hpScanDir(t, "stopped", dirB, map[string][]byte{"before": before.logs.Bytes(), "A": a.logs.Bytes(), "B": b.logs.Bytes(), "pg_dump": pgDump(t, dbURL)}, rotCardsAll())
}
