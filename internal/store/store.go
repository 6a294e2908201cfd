// Package store names what a cardgate store is: the union of the interfaces each part of the
// gateway defines for itself (payments, merchants, gateway keys, notifications, routing rules,
// disputes, reports, the sandbox clock), implemented by sqlite/ (embedded, the default) and postgres/ (production,
// several instances). Both pass one contract suite (storetest/).
package store

import (
	"context"
	"github.com/cardgate/cardgate/internal/calllog"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer/simulator"
	"github.com/cardgate/cardgate/internal/dashboard"
	"github.com/cardgate/cardgate/internal/disputes"
	"github.com/cardgate/cardgate/internal/keyring"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/notify"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/reports"
	"github.com/cardgate/cardgate/internal/routing"
	"github.com/cardgate/cardgate/internal/sandbox"
)

// Store is everything the gateway keeps.
type Store interface {
	payments.Store
	payments.SealedStore
	merchant.Store
	keyring.Store
	notify.Store
	routing.Store
	disputes.Store
	calllog.Store
	reports.Store
	dashboard.Store // the console's users, sessions and read models

	// ClockOffset, SetClockOffset and ResetClock keep the sandbox clock's offset where every
	// instance sees it (jobs.ClockStore).
	ClockOffset(ctx context.Context) (time.Duration, int64, error)
	SetClockOffset(ctx context.Context, d time.Duration, epoch int64) error
	ResetClock(ctx context.Context) (int64, error)

	// The sandbox's test controls (internal/sandbox): forced results, and a merchant's reset.
	sandbox.Forces
	SetForce(ctx context.Context, merchantID string, f sandbox.Force, at time.Time) error
	Forces(ctx context.Context, merchantID string) ([]sandbox.Force, error)
	ResetMerchant(ctx context.Context, merchantID string) (map[string]int64, error)

	// OutboxStats reports the pending notifications and the creation time of the oldest (metrics).
	OutboxStats(ctx context.Context) (pending int, oldest time.Time, err error)

	// SimulatorLedger is the sandbox acquirer's books (table sim_acquirer_ledger): the simulator of
	// every instance on the store sees the authorizations any of them answered.
	SimulatorLedger() simulator.Ledger

	// Ping reports whether the store answers (readiness).
	Ping(ctx context.Context) error
	// Describe names the store for logs and the banner, without credentials.
	Describe() string
	Close() error
}
