package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/store"
)

// Handles is what ConfigSeenEverywhere needs of the second handle beyond store.Store.
type Handles interface {
	store.Store
	AddMerchantKey(ctx context.Context, clientID, version, publicKey string) error
	CacheStats() (hits, loads uint64)
}

// ConfigSeenEverywhere: a and b are two handles on one database, as two processes (two
// instances, or serve and the CLI) hold them. b caches a merchant and its routing document;
// each change made through a (notify URL, a new public key, routing rules) or by plain SQL
// (exec, on a's database, as another program would) is seen by a at once and by b within a
// second: every read of b begun a second after the change returns it. And b's cache does
// serve: reads between changes do not go to the database.
func ConfigSeenEverywhere(t *testing.T, a, b Handles, exec func(q string, args ...any)) {
	ctx := context.Background()
	m := Other(t, a, "CACHED_MERCHANT")
	read := func(s store.Store) merchant.Merchant {
		t.Helper()
		got, err := s.MerchantByClientID(ctx, m.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	// Warm b's cache, then check that it serves.
	read(b)
	time.Sleep(400 * time.Millisecond) // a poll has confirmed the generation
	h0, l0 := b.CacheStats()
	for range 50 {
		read(b)
	}
	if h, l := b.CacheStats(); h-h0 < 40 || l-l0 > 10 {
		t.Errorf("50 reads of a cached merchant: %d hits and %d loads, want (nearly) all hits", h-h0, l-l0)
	}
	if _, _, err := b.RoutingRules(ctx, m.ClientID); err != nil {
		t.Fatal(err)
	}

	seen := func(what string, ok func() bool) {
		t.Helper()
		changed := time.Now()
		for time.Since(changed) < time.Second {
			if ok() {
				t.Logf("%s: seen by the other handle after %v", what, time.Since(changed).Round(time.Millisecond))
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		if !ok() { // begun a second after the change
			t.Errorf("%s: not seen by the other handle a second after the change", what)
		}
	}
	for i, c := range []struct {
		what   string
		change func()
		ok     func(s store.Store) bool
	}{
		{"notify URL", func() {
			if err := a.SetNotifyURL(ctx, m.ClientID, "https://m.example/new-notify"); err != nil {
				t.Fatal(err)
			}
		}, func(s store.Store) bool { return read(s).NotifyURL == "https://m.example/new-notify" }},
		{"a new public key (rotation)", func() {
			if err := a.AddMerchantKey(ctx, m.ClientID, "2", "PUB2"); err != nil {
				t.Fatal(err)
			}
		}, func(s store.Store) bool { return read(s).PublicKeys["2"] == "PUB2" }},
		{"routing rules", func() {
			if err := a.SetRoutingRules(ctx, m.ClientID, []byte(`[{"acquirer":"SIM"}]`), T0); err != nil {
				t.Fatal(err)
			}
		}, func(s store.Store) bool {
			raw, _, err := s.RoutingRules(ctx, m.ClientID)
			return err == nil && string(raw) == `[{"acquirer":"SIM"}]`
		}},
		{"notify URL by plain SQL", func() {
			exec(`UPDATE merchants SET notify_url = 'https://m.example/by-sql' WHERE client_id = 'CACHED_MERCHANT'`)
		}, func(s store.Store) bool { return read(s).NotifyURL == "https://m.example/by-sql" }},
	} {
		// Both handles hold the old value in their caches.
		if c.ok(a) || c.ok(b) {
			t.Fatalf("%d %s: changed before the change", i, c.what)
		}
		c.change()
		if c.what != "notify URL by plain SQL" && !c.ok(a) {
			t.Errorf("%s: the handle that made the change does not see it at once", c.what)
		}
		seen(c.what, func() bool { return c.ok(b) })
	}
}
