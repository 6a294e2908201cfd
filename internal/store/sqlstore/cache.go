package sqlstore

import (
	"context"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cardgate/cardgate/internal/merchant"
)

// configCache keeps, in process, what every API request reads and what rarely changes: the
// merchant with its public keys (two reads per request) and its routing document (one read per
// pay). A change made anywhere, by this process, another instance, `cardgate merchant set`, the
// console or plain SQL, takes effect everywhere within a second:
//
//   - the triggers of migration 00018 move config_generation in the same transaction as any
//     change to merchants, merchant_keys or routing_rules;
//   - one goroutine per store reads it every configPoll (one primary-key read) and drops the
//     cache when it moved;
//   - entries are served only while the last poll that confirmed them began less than
//     configFresh ago, so a poll that fails or hangs turns the cache off rather than stale: a
//     change committed at t is seen by every poll begun after t, and nothing cached before it
//     is served past t+configFresh;
//   - a load begun before a drop is not kept (the epoch), so a read that raced a change cannot
//     put the old value back;
//   - this process's own changes drop the cache at once.
//
// Absent merchants are not cached (an unknown client-id costs a read, as before, and cannot
// fill memory); absent routing documents are, for merchants that exist.
type configCache struct {
	mu        sync.Mutex
	gen       int64     // config_generation the entries belong to
	epoch     uint64    // moved by every drop
	confirmed time.Time // when the last poll that read gen began
	merchants map[string]merchant.Merchant
	routing   map[string]routingDoc

	hits, loads atomic.Uint64

	start, closing sync.Once
	stop           chan struct{}
	done           chan struct{}
}

type routingDoc struct {
	raw []byte
	at  time.Time
}

const (
	configPoll  = 250 * time.Millisecond
	configFresh = 750 * time.Millisecond
)

func newConfigCache() *configCache {
	return &configCache{merchants: map[string]merchant.Merchant{}, routing: map[string]routingDoc{},
		stop: make(chan struct{}), done: make(chan struct{})}
}

// cached returns the cache, whether its entries may be served, and the epoch a load begun now
// belongs to. It starts the poller on first use, so a command that never reads a merchant
// runs none.
func (s *Store) cached() (*configCache, bool, uint64) {
	c := s.cache
	c.start.Do(func() { go s.pollConfig() })
	c.mu.Lock()
	defer c.mu.Unlock()
	return c, time.Since(c.confirmed) < configFresh, c.epoch
}

func (c *configCache) keep(epoch uint64, put func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch == epoch {
		put()
	}
}

// drop empties the cache: a change this process made, or one the poll saw.
func (c *configCache) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	clear(c.merchants)
	clear(c.routing)
}

// pollConfig reads config_generation every configPoll until the store closes.
func (s *Store) pollConfig() {
	c := s.cache
	defer close(c.done)
	t := time.NewTicker(configPoll)
	defer t.Stop()
	for {
		began := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), configFresh)
		var gen int64
		err := s.db.QueryRow(ctx, `SELECT generation FROM config_generation WHERE id = 1`).Scan(&gen)
		cancel()
		if err == nil {
			c.mu.Lock()
			if gen != c.gen {
				c.gen, c.epoch = gen, c.epoch+1
				clear(c.merchants)
				clear(c.routing)
			}
			c.confirmed = began
			c.mu.Unlock()
		}
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
	}
}

// closeCache stops the poller, if it ever started, and keeps it from starting.
func (s *Store) closeCache() {
	c := s.cache
	c.closing.Do(func() {
		started := true
		c.start.Do(func() { started = false })
		close(c.stop)
		if started {
			<-c.done
		}
	})
}

// cachedMerchant is a copy of the cached merchant (its maps and slices are the caller's).
func (s *Store) cachedMerchant(ctx context.Context, clientID string) (merchant.Merchant, error) {
	c, fresh, epoch := s.cached()
	if fresh {
		c.mu.Lock()
		m, ok := c.merchants[clientID]
		c.mu.Unlock()
		if ok {
			c.hits.Add(1)
			return copyMerchant(m), nil
		}
	}
	c.loads.Add(1)
	m, err := s.queryMerchant(ctx, `SELECT `+merchantColumns+` FROM merchants WHERE client_id = ?`, clientID)
	if err != nil {
		return m, err
	}
	kept := copyMerchant(m)
	c.keep(epoch, func() { c.merchants[clientID] = kept })
	return m, nil
}

func copyMerchant(m merchant.Merchant) merchant.Merchant {
	m.PublicKeys = maps.Clone(m.PublicKeys)
	m.FingerprintKey = slices.Clone(m.FingerprintKey)
	m.SettlementCurrencies = slices.Clone(m.SettlementCurrencies)
	return m
}

func (s *Store) cachedRouting(ctx context.Context, merchantID string) ([]byte, time.Time, error) {
	c, fresh, epoch := s.cached()
	if fresh {
		c.mu.Lock()
		d, ok := c.routing[merchantID]
		c.mu.Unlock()
		if ok {
			c.hits.Add(1)
			return slices.Clone(d.raw), d.at, nil
		}
	}
	c.loads.Add(1)
	raw, at, err := s.queryRouting(ctx, merchantID)
	if err != nil {
		return nil, time.Time{}, err
	}
	d := routingDoc{raw: slices.Clone(raw), at: at}
	c.keep(epoch, func() { c.routing[merchantID] = d })
	return raw, at, nil
}

// CacheStats reports the configuration cache's hits and loads (reads that went to the
// database) since the store opened.
func (s *Store) CacheStats() (hits, loads uint64) { return s.cache.hits.Load(), s.cache.loads.Load() }
