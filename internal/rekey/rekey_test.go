package rekey_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/rekey"
	"github.com/cardgate/cardgate/internal/store/sqlite"
	"github.com/cardgate/cardgate/internal/store/storetest"
	"github.com/cardgate/cardgate/internal/vault"
	"github.com/cardgate/cardgate/protocol"
)

// TestRotateRewrapsEverything runs a rotation on a real SQLite store holding saved cards and a
// pending challenge's card, all sealed under the first key.
func TestRotateRewrapsEverything(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keyFile := filepath.Join(dir, "vault.key")
	live, err := vault.LiveFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	m := storetest.Sandbox(t, st)
	const tokens = 7
	for i := range tokens {
		p := storetest.NewPayment(m, fmt.Sprintf("P%d", i), fmt.Sprintf("R%d", i))
		p.Card.Fingerprint = fmt.Sprintf("fp-%d", i)
		if err := st.CreatePayment(ctx, p, payments.Event{PaymentID: p.ID, Op: payments.OpCreate, To: p.State, At: p.CreatedAt}); err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("ctk_%02d", i)
		sealed, err := live.SealText([]byte("card "+id), vault.AAD("token", m.ClientID, id))
		if err != nil {
			t.Fatal(err)
		}
		next := p
		next.Version, next.State, next.ResultCode, next.AcquirerState = 2, payments.StateSuccess, protocol.CodeSuccess, payments.AcquirerAnswered
		next.AuthorizedAt, next.AuthExpiresAt, next.Card.Token = p.CreatedAt, p.CreatedAt.Add(7*24*time.Hour), id
		err = st.Apply(ctx, payments.Change{Payment: next, FromVersion: 1,
			Event:    payments.Event{PaymentID: p.ID, Op: payments.OpAuthApproved, From: p.State, To: next.State, At: p.CreatedAt},
			NewToken: &payments.Token{ID: id, MerchantID: m.ClientID, Card: next.Card, Sealed: sealed, CreatedAt: p.CreatedAt, UpdatedAt: p.CreatedAt}})
		if err != nil {
			t.Fatal(err)
		}
	}
	pending := storetest.NewPayment(m, "PCHAL", "RCHAL")
	pending.AcquirerState, pending.ChallengeToken = payments.AcquirerNotSent, "page-token"
	if pending.SealedCard, err = live.SealText([]byte("pending card"), vault.AAD("card", m.ClientID, "PCHAL")); err != nil {
		t.Fatal(err)
	}
	if err := st.CreatePayment(ctx, pending, payments.Event{PaymentID: "PCHAL", Op: payments.OpCreate, To: pending.State, At: pending.CreatedAt}); err != nil {
		t.Fatal(err)
	}

	// A dispute's defense, sealed by the dispute service's own AAD.
	disputed := storetest.CapturedPayment(t, st, m, "PDISP", 0)
	evidence, err := live.SealText([]byte("defense document"), []byte("dispute-evidence/"+m.ClientID+"/DSP1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Raw().Exec(ctx, `INSERT INTO disputes (dispute_id, client_id, payment_id, capture_id, state, amount_minor, currency,
		reason_code, reason_msg, defense_wins, alerted, accept_reason, judged_result, evidence_sealed, opened_at, defense_due,
		defended_at, resolved_at, due_at, version) VALUES ('DSP1', ?, ?, 'C1', 'DEFENDED', 100, 'SGD', '13.1', '', 1, 0, '', '', ?, 1, 2, 3, 0, 4, 2)`,
		m.ClientID, disputed.ID, evidence); err != nil {
		t.Fatal(err)
	}

	newID, err := vault.RotateFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := rekey.Rotate(ctx, st, live.Keyring, slog.New(slog.NewTextHandler(io.Discard, nil)), rekey.Options{Settle: time.Millisecond, Batch: 3})
	if err != nil {
		t.Fatal(err)
	}
	if rep.KEK != newID || rep.Remaining != 0 || rep.Rewrapped[payments.SealedTokens] != tokens || rep.Rewrapped[payments.SealedPayments] != 1 ||
		rep.Rewrapped[payments.SealedDisputeEvidence] != 1 || rep.Passes != 2 {
		t.Fatalf("report %+v", rep)
	}
	for _, kind := range rekey.Kinds {
		recs, err := st.SealedAfter(ctx, kind, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if !strings.HasPrefix(r.Sealed, "v1."+newID+".") {
				t.Errorf("%s %s still under %q", kind, r.ID, r.Sealed[:24])
			}
			aad := vault.AAD("token", m.ClientID, r.ID)
			want := "card " + r.ID
			switch kind {
			case payments.SealedPayments:
				aad, want = vault.AAD("card", m.ClientID, r.ID), "pending card"
			case payments.SealedDisputeEvidence:
				aad, want = []byte("dispute-evidence/"+m.ClientID+"/"+r.ID), "defense document"
			}
			if got, err := live.OpenText(r.Sealed, aad); err != nil || string(got) != want {
				t.Errorf("%s %s after rotation: %q %v", kind, r.ID, got, err)
			}
		}
	}
	// The pending payment's version moved, so a transition computed before the rotation cannot
	// write the old envelope back.
	got, err := st.PaymentByID(ctx, m.ClientID, "PCHAL")
	if err != nil || got.Version != 2 {
		t.Fatalf("pending payment version %d, %v", got.Version, err)
	}
	// A second rotation with nothing new to do still makes its two passes and finds all done.
	rep, err = rekey.Rotate(ctx, st, live.Keyring, slog.New(slog.NewTextHandler(io.Discard, nil)), rekey.Options{Settle: time.Millisecond})
	if err != nil || rep.Rewrapped[payments.SealedTokens] != 0 || rep.Records[payments.SealedTokens] != tokens {
		t.Fatalf("second rotation: %+v %v", rep, err)
	}
}
