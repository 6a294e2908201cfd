// Package rekey rewraps every stored vault envelope (saved cards, cards sealed while a 3-D
// Secure challenge is pending, and disputes' defense documents) under the current key-encryption key, while the gateway runs:
// `cardgate vault rotate`. Only the wrapped data keys change; the ciphertexts do not, so a
// rotation costs one small write per record whatever the data.
package rekey

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/vault"
)

// Kinds are the places envelopes are kept.
var Kinds = []payments.SealedKind{payments.SealedTokens, payments.SealedPayments, payments.SealedDisputeEvidence}

// Report is what a rotation did.
type Report struct {
	KEK string `json:"kek"` // the current key everything is now wrapped by
	// Rewrapped counts the envelopes moved to KEK, by kind; Records the envelopes seen in the
	// last pass; Remaining those still under another key after it (0 when done).
	Rewrapped map[payments.SealedKind]int `json:"rewrapped"`
	Records   map[payments.SealedKind]int `json:"records"`
	Remaining int                         `json:"remaining"`
	Passes    int                         `json:"passes"`
}

// Options tune a rotation.
type Options struct {
	// Settle is the pause between passes: envelopes sealed under the old key by a request that
	// started before the key changed are committed meanwhile, and the next pass takes them.
	Settle time.Duration
	// MaxPasses bounds the passes (default 20).
	MaxPasses int
	Batch     int // records per page (default 500)
}

// Rotate rewraps every envelope that is not under the current key, pass after pass, until a
// pass finds none (at least two passes, Settle apart). keys gives the current keyring each pass,
// so a key file that changes is followed.
func Rotate(ctx context.Context, st payments.SealedStore, keys func() (*vault.Keyring, error), log *slog.Logger, opt Options) (Report, error) {
	if opt.MaxPasses == 0 {
		opt.MaxPasses = 20
	}
	if opt.Batch == 0 {
		opt.Batch = 500
	}
	rep := Report{Rewrapped: map[payments.SealedKind]int{}}
	for rep.Passes < opt.MaxPasses {
		k, err := keys()
		if err != nil {
			return rep, err
		}
		rep.KEK = k.CurrentID()
		rep.Passes++
		rep.Records = map[payments.SealedKind]int{}
		rewrapped, stale := 0, 0
		for _, kind := range Kinds {
			n, s, err := pass(ctx, st, k, kind, opt.Batch, &rep)
			if err != nil {
				return rep, err
			}
			rewrapped, stale = rewrapped+n, stale+s
		}
		log.Info("vault rotate pass", "pass", rep.Passes, "kek", rep.KEK, "rewrapped", rewrapped, "changedMeanwhile", stale)
		rep.Remaining = stale
		if rewrapped == 0 && stale == 0 && rep.Passes >= 2 {
			return rep, nil
		}
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-time.After(opt.Settle):
		}
	}
	return rep, fmt.Errorf("vault rotate: %d records still under an older key after %d passes", rep.Remaining, rep.Passes)
}

// pass walks one kind once. A record that changed between the read and the swap (a payment that
// moved on, an envelope another rotation rewrapped) counts as stale: the next pass looks again.
func pass(ctx context.Context, st payments.SealedStore, k *vault.Keyring, kind payments.SealedKind, batch int, rep *Report) (rewrapped, stale int, err error) {
	after := ""
	for {
		recs, err := st.SealedAfter(ctx, kind, after, batch)
		if err != nil {
			return rewrapped, stale, fmt.Errorf("list %s: %w", kind, err)
		}
		for _, r := range recs {
			after = r.ID
			rep.Records[kind]++
			s, err := vault.ParseSealed(r.Sealed)
			if err != nil {
				return rewrapped, stale, fmt.Errorf("%s %s: %w", kind, r.ID, err)
			}
			if !k.NeedsRewrap(s) {
				continue
			}
			next, err := k.Rewrap(s)
			if err != nil {
				return rewrapped, stale, fmt.Errorf("rewrap %s %s: %w", kind, r.ID, err)
			}
			ok, err := st.ReplaceSealed(ctx, kind, r.ID, r.Sealed, next.String())
			if err != nil {
				return rewrapped, stale, fmt.Errorf("store rewrapped %s %s: %w", kind, r.ID, err)
			}
			if ok {
				rewrapped++
				rep.Rewrapped[kind]++
			} else {
				stale++
			}
		}
		if len(recs) < batch {
			return rewrapped, stale, nil
		}
	}
}
