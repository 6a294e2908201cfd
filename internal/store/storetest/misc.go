package storetest

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/keyring"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/store"
)

func testKeysAndMerchants(t *testing.T, s store.Store) {
	if keys, err := s.GatewayKeys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("a new store has keys: %v %v", keys, err)
	}
	_, err := s.SandboxMerchant(ctx)
	wantErr(t, "sandbox merchant of a new store", err, merchant.ErrNotFound)
	m := Sandbox(t, s)
	// Instances starting at once on one new store all end with the same gateway key.
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		keys []keyring.Key
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := keyring.Ensure(ctx, s, T0)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			keys = append(keys, k)
			mu.Unlock()
		}()
	}
	wg.Wait()
	k2, err := keyring.Ensure(ctx, s, T0)
	if err != nil {
		t.Fatal(err)
	}
	for _, k1 := range keys {
		if k1.Version != "1" || !k1.Private.Equal(k2.Private) {
			t.Fatal("Ensure must return the stored key, not a new one")
		}
	}
	again, created, err := merchant.EnsureSandbox(ctx, s, T0)
	if err != nil || created || again.ClientID != m.ClientID || again.PrivateKey != m.PrivateKey {
		t.Fatalf("EnsureSandbox is not repeatable: %v %v", created, err)
	}
	got, err := s.MerchantByClientID(ctx, m.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "sandbox merchant", got, m)
	_, err = s.MerchantByClientID(ctx, "SANDBOX_NOPE")
	wantErr(t, "unknown merchant", err, merchant.ErrNotFound)

	// A production merchant: several public keys, no private key.
	o := merchant.Merchant{ClientID: "PROD_1", Name: "Shop 商店", PublicKeys: map[string]string{"1": "PUB-A", "2": "PUB-B"},
		FingerprintKey: []byte{0, 1, 2, 0xff}, NotifyURL: "https://shop.example/n", CreatedAt: T0.Add(time.Minute)}
	if err := s.CreateMerchant(ctx, o); err != nil {
		t.Fatal(err)
	}
	if got, err = s.MerchantByClientID(ctx, "PROD_1"); err != nil {
		t.Fatal(err)
	}
	same(t, "production merchant", got, o)
	if err := s.CreateMerchant(ctx, o); err == nil {
		t.Fatal("a client id registered twice")
	}
	if err := s.SetNotifyURL(ctx, "PROD_1", "https://shop.example/n2"); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.MerchantByClientID(ctx, "PROD_1"); got.NotifyURL != "https://shop.example/n2" {
		t.Fatalf("notify url: %q", got.NotifyURL)
	}
	wantErr(t, "notify url of an unknown merchant", s.SetNotifyURL(ctx, "PROD_NOPE", "https://x.example"), merchant.ErrNotFound)

	// Gateway keys: newest last; a version is stored once.
	for _, k := range []keyring.StoredKey{{Version: "3", PrivateKey: "K3", CreatedAt: T0.Add(2 * time.Hour)}, {Version: "2", PrivateKey: "K2", CreatedAt: T0.Add(time.Hour)}} {
		if err := s.AddGatewayKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, "a version stored twice", s.AddGatewayKey(ctx, keyring.StoredKey{Version: "2", PrivateKey: "OTHER", CreatedAt: T0}), keyring.ErrExists)
	stored, err := s.GatewayKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var versions []string
	for _, k := range stored {
		versions = append(versions, k.Version)
	}
	same(t, "key versions", versions, []string{"1", "2", "3"})
	same(t, "key 2", stored[1], keyring.StoredKey{Version: "2", PrivateKey: "K2", CreatedAt: T0.Add(time.Hour)})
}

func testSandboxMerchantIsTheOldest(t *testing.T, s store.Store) {
	// Two instances starting at once may each create a sandbox merchant: every instance must
	// pick the same one, the oldest (then the smallest client id, in byte order).
	mk := func(id string, at time.Time, sandbox bool) merchant.Merchant {
		m := merchant.Merchant{ClientID: id, Name: id, Sandbox: sandbox, PrivateKey: "PRIV-" + id, PublicKeys: map[string]string{"1": "PUB-" + id},
			FingerprintKey: []byte(id), CreatedAt: at}
		if err := s.CreateMerchant(ctx, m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	mk("PROD_OLDEST", T0.Add(-time.Hour), false)
	mk("SANDBOX_late", T0.Add(time.Minute), true)
	_ = mk("SANDBOX_b", T0, true)
	want := mk("SANDBOX_Z", T0, true)
	got, err := s.SandboxMerchant(ctx)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "sandbox merchant", got, want)
}

func testClockOffsetNeverDecreases(t *testing.T, s store.Store) {
	if d, _, err := s.ClockOffset(ctx); err != nil || d != 0 {
		t.Fatalf("a new store's offset: %v %v", d, err)
	}
	for _, step := range []struct{ set, want time.Duration }{
		{15 * time.Minute, 15 * time.Minute},
		{5 * time.Minute, 15 * time.Minute},
		{-time.Hour, 15 * time.Minute},
		{7*24*time.Hour + 1500*time.Millisecond, 7*24*time.Hour + 1500*time.Millisecond},
		{7 * 24 * time.Hour, 7*24*time.Hour + 1500*time.Millisecond},
	} {
		if err := s.SetClockOffset(ctx, step.set, 0); err != nil {
			t.Fatal(err)
		}
		if d, _, err := s.ClockOffset(ctx); err != nil || d != step.want {
			t.Fatalf("after setting %v: %v %v, want %v", step.set, d, err, step.want)
		}
	}
	// Instances advancing at once: the largest wins, whatever the order.
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.SetClockOffset(ctx, 8*24*time.Hour+time.Duration(i)*time.Minute, 0); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if d, _, _ := s.ClockOffset(ctx); d != 8*24*time.Hour+15*time.Minute {
		t.Fatalf("after concurrent advances: %v", d)
	}
	// A reset starts a new epoch at zero; an instance still on the old epoch cannot undo it.
	epoch, err := s.ResetClock(ctx)
	if err != nil || epoch != 1 {
		t.Fatalf("ResetClock = %d, %v; want epoch 1", epoch, err)
	}
	if err := s.SetClockOffset(ctx, 9*24*time.Hour, 0); err != nil {
		t.Fatal(err)
	}
	if d, e, err := s.ClockOffset(ctx); err != nil || d != 0 || e != 1 {
		t.Fatalf("after a reset and a stale advance: %v epoch %d %v, want 0 at epoch 1", d, e, err)
	}
	if err := s.SetClockOffset(ctx, time.Hour, 1); err != nil {
		t.Fatal(err)
	}
	if d, _, _ := s.ClockOffset(ctx); d != time.Hour {
		t.Fatalf("an advance in the new epoch: %v, want 1h", d)
	}
}

func testPingDescribeClose(t *testing.T, s store.Store) {
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	d := s.Describe()
	if d == "" || strings.Contains(strings.ToLower(d), "password") {
		t.Fatalf("Describe: %q", d)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Fatal("Ping answers after Close")
	}
}

// testSimulatorLedger: the sandbox acquirer's books keep the latest authorization under a
// reference, and a reversal for good, booked before or after it.
func testSimulatorLedger(t *testing.T, s store.Store) {
	l := s.SimulatorLedger()
	if _, _, err := l.AuthByRef(ctx, "P-NONE"); !errors.Is(err, acquirer.ErrNotFound) {
		t.Fatalf("unknown reference: %v, want acquirer.ErrNotFound", err)
	}
	for _, step := range []struct {
		do       func() error
		result   string
		reversed bool
	}{
		{func() error { return l.RecordAuth(ctx, "P-1", []byte(`{"Outcome":2}`), T0) }, `{"Outcome":2}`, false},
		// A re-authorization (after a 3-D Secure upgrade) replaces the first.
		{func() error { return l.RecordAuth(ctx, "P-1", []byte(`{"Outcome":1}`), T0.Add(time.Second)) }, `{"Outcome":1}`, false},
		{func() error { return l.ReverseAuth(ctx, "P-1", T0.Add(2*time.Second)) }, `{"Outcome":1}`, true},
		// An authorization arriving after its reversal does not undo it.
		{func() error { return l.RecordAuth(ctx, "P-1", []byte(`{"Outcome":3}`), T0.Add(3*time.Second)) }, `{"Outcome":1}`, true},
	} {
		if err := step.do(); err != nil {
			t.Fatal(err)
		}
		res, reversed, err := l.AuthByRef(ctx, "P-1")
		if err != nil || string(res) != step.result || reversed != step.reversed {
			t.Fatalf("booked %q reversed=%v (%v), want %q reversed=%v", res, reversed, err, step.result, step.reversed)
		}
	}
	// A reversal that overtakes its authorization is kept, and the authorization stays reversed.
	if err := l.ReverseAuth(ctx, "P-2", T0); err != nil {
		t.Fatal(err)
	}
	if err := l.RecordAuth(ctx, "P-2", []byte(`{"Outcome":1}`), T0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if res, reversed, err := l.AuthByRef(ctx, "P-2"); err != nil || !reversed || len(res) != 0 {
		t.Fatalf("reversed before booked: %q reversed=%v (%v)", res, reversed, err)
	}
}
