package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/protocol"
)

// Pay validates and runs a pay request. On success it returns the payment in its current state
// (which may be a decline); a refusal is a *protocol.Error.
func (s *Service) Pay(ctx context.Context, m Merchant, req *protocol.PayRequest) (Payment, error) {
	now := s.clock.Now()
	if req.PaymentRequestID != "" {
		// Checked before any lookup: the store must never see an id that pay would refuse.
		if err := idField("paymentRequestId", req.PaymentRequestID, maxRequestID); err != nil {
			return Payment{}, err
		}
	}
	// A new request id is the common case, so the payment is not looked up first: the unique
	// index on (merchant, paymentRequestId) finds a replay when the insert below fails, and a
	// refusal of the request looks for one (replayOr), so that a replay is judged as of the
	// original request: a paymentExpiryTime or card expiry that has passed since, or a routing
	// rule changed since, must not turn the payment's answer into a refusal.
	cmd, err := s.payCommand(ctx, m, req, now)
	if err != nil {
		return s.replayOr(ctx, m, req, err)
	}
	key := keyOf(m, cmd)
	// Settled on the merchant's contract and today's rate and fees, recorded now: a replay (above)
	// keeps the terms its payment has, whatever the contract or the table say since.
	terms, err := s.cfg.Settlement.settlementTerms(m, cmd.Amount, cmd.SettlementCurrency)
	if err != nil {
		return s.replayOr(ctx, m, req, err)
	}

	p := Payment{
		ID:            newPaymentID(now),
		MerchantID:    m.ID,
		RequestID:     cmd.RequestID,
		State:         StateProcessing,
		Version:       1,
		Amount:        cmd.Amount,
		CaptureMode:   cmd.CaptureMode,
		ResultCode:    protocol.CodePaymentInProcess,
		ResultMsg:     "Payment is processing.",
		AcquirerState: AcquirerSent,
		Order:         cmd.Order,
		Settlement:    terms,
		CreatedAt:     now,
		UpdatedAt:     now,
		ExpiresAt:     cmd.ExpiresAt,
	}
	if p.Order.NotifyURL == "" {
		p.Order.NotifyURL = m.NotifyURL
	}
	var challenge bool
	if cmd.Hosted {
		// The buyer enters the card on the gateway's page; the pay answers U with its address.
		p.Order.TokenizeMode = cmd.TokenizeMode
		if err := s.openCardPage(&p); err != nil {
			return Payment{}, fmt.Errorf("pay: open card page: %w", err)
		}
		challenge = true
	} else {
		p.Card = cardSummaryOf(m, cmd)
		p.Card.MIT, p.Card.MITType, p.Card.InitialNetworkTransactionID = cmd.MIT, cmd.MITType, cmd.InitialNTI
		if err := s.route(ctx, &p, cmd); err != nil {
			return s.replayOr(ctx, m, req, err)
		}
		if cmd.IssuerAuth && s.router.AuthenticatesBuyers(p.Auth.AcquirerName) {
			// The Korean issuer's page is the gateway's own, a sandbox simulation: an upstream
			// acquirer would have to run it, and the connector does not pass the flow on.
			return s.replayOr(ctx, m, req, illegal(localIssuerAuthPath, "is not supported through the upstream acquirer %s; pay without it", p.Auth.AcquirerName))
		}
		// An acquirer that authenticates buyers itself gets the merchant's 3-D Secure request
		// (authorize passes it on, and its page comes back as normalUrl); otherwise the
		// gateway's own 3-D Secure runs first.
		if !(cmd.Want3DS && cmd.MPI == nil && s.router.AuthenticatesBuyers(p.Auth.AcquirerName)) {
			if challenge, err = s.threeDSFor(&p, cmd); err != nil {
				return s.replayOr(ctx, m, req, err)
			}
		}
	}
	if !challenge {
		p.InFlightUntil = now.Add(s.cfg.InFlightLease) // the authorization goes out next
	}
	err = s.store.CreatePayment(ctx, p, Event{PaymentID: p.ID, Op: OpCreate, To: StateProcessing, ResultCode: p.ResultCode, At: now})
	if errors.Is(err, ErrDuplicate) {
		// A concurrent pay with the same request id won the insert; only it talks to the acquirer.
		existing, lerr := s.store.PaymentByRequestID(ctx, m.ID, cmd.RequestID)
		if lerr != nil {
			return Payment{}, fmt.Errorf("pay: load concurrent duplicate: %w", lerr)
		}
		return s.replay(ctx, existing, key)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("pay: create payment: %w", err)
	}
	if challenge {
		// The buyer goes to normalUrl; the authorization follows the card or the code.
		return p, nil
	}
	return s.authorize(ctx, p, cmd)
}

// replayOr answers a pay that was refused: with its payment's answer when its request id is
// known (judged as of the original request), with the refusal otherwise.
func (s *Service) replayOr(ctx context.Context, m Merchant, req *protocol.PayRequest, refusal error) (Payment, error) {
	var pe *protocol.Error
	if req.PaymentRequestID == "" || !errors.As(refusal, &pe) {
		return Payment{}, refusal
	}
	existing, err := s.store.PaymentByRequestID(ctx, m.ID, req.PaymentRequestID)
	if errors.Is(err, ErrNotFound) {
		return Payment{}, refusal
	}
	if err != nil {
		return Payment{}, fmt.Errorf("pay: look up request id: %w", err)
	}
	cmd, err := s.payCommand(ctx, m, req, existing.CreatedAt)
	if err != nil {
		return Payment{}, err
	}
	return s.replay(ctx, existing, keyOf(m, cmd))
}

// replay answers a pay whose request id is already known: the payment's current answer when the
// key fields match, REPEAT_REQ_INCONSISTENT otherwise.
func (s *Service) replay(ctx context.Context, p Payment, key payKey) (Payment, error) {
	if p.keyOf() != key {
		return Payment{}, protocol.Errorf(protocol.CodeRepeatReqInconsistent,
			"paymentRequestId %s was used before with a different paymentAmount, card or captureMode", p.RequestID)
	}
	if p.State != StateProcessing || p.AcquirerState != AcquirerSent {
		return p, nil
	}
	if s.clock.Now().Sub(p.UpdatedAt) > s.cfg.DuplicateWait {
		// The request that sent it cannot still be waiting for the acquirer (its call is bounded
		// by AcquirerTimeout): it died with its process. Waiting would only delay the answer.
		return p, nil
	}
	// The first request is still talking to the acquirer: wait a little for its outcome so that
	// a client retrying on a timeout gets the final answer rather than U.
	deadline := s.cfg.Wall.Now().Add(s.cfg.DuplicateWait)
	p, err := s.awaitPayment(ctx, p, deadline, 5*time.Millisecond, 100*time.Millisecond,
		func(cur Payment) bool { return cur.State != StateProcessing || cur.AcquirerState != AcquirerSent })
	if err != nil {
		return Payment{}, fmt.Errorf("pay: duplicate: %w", err)
	}
	return p, nil
}

// payCommand validates a pay request and, for a saved card, opens its token. at is the time the
// request is judged at (the original request's, for a replay).
func (s *Service) payCommand(ctx context.Context, m Merchant, req *protocol.PayRequest, at time.Time) (PayCommand, error) {
	cmd, err := ParsePayRequest(req, at)
	if err != nil {
		return cmd, err
	}
	if (cmd.Tokenize || (cmd.Hosted && cmd.TokenizeMode != "")) && s.vault == nil {
		return cmd, illegal(metaPath+".tokenizeMode", "needs the gateway's card vault, which is off (serve --vault-keys)")
	}
	if cmd.TokenID == "" {
		return cmd, s.checkCardFeatures(ctx, m, &cmd)
	}
	if err := s.resolveToken(ctx, m, &cmd, at); err != nil {
		return cmd, err
	}
	if cmd.CVV != "" && !cvvShape(cmd.CVV, cmd.Card.Brand()) {
		return cmd, illegal(metaPath+".cvv", "must be %d digits for this card", cvvLen(cmd.Card.Brand()))
	}
	if err := s.checkCardFeatures(ctx, m, &cmd); err != nil {
		return cmd, err
	}
	return cmd, checkCardPlan(&cmd) // a saved card's brand and country are known only now
}

func keyOf(m Merchant, cmd PayCommand) payKey {
	k := payKey{currency: cmd.Amount.Currency.Code, minor: cmd.Amount.Minor, captureMode: cmd.CaptureMode}
	if !cmd.Hosted {
		// A hosted pay names no card: the card the buyer enters later is not part of its key.
		k.fingerprint = card.Fingerprint(m.FingerprintKey, cmd.Card)
	}
	return k
}

func (p Payment) keyOf() payKey {
	k := payKey{currency: p.Amount.Currency.Code, minor: p.Amount.Minor, captureMode: p.CaptureMode}
	if !p.Order.Hosted {
		k.fingerprint = p.Card.Fingerprint
	}
	return k
}

func (s *Service) authorize(ctx context.Context, p Payment, cmd PayCommand) (Payment, error) {
	// Once the payment exists, finish the authorization and record its outcome even if the
	// caller goes away (client timeout, closed connection): an approval that is never written
	// would leave a hold at the issuer that the gateway does not know about.
	ctx = context.WithoutCancel(ctx)
	for {
		acq := s.acquirerOf(p)
		actx, cancel := context.WithTimeout(ctx, s.cfg.AcquirerTimeout)
		res, err := acq.Authorize(actx, acquirer.AuthRequest{
			PaymentID:     p.ID,
			MerchantID:    p.MerchantID,
			Amount:        cmd.Amount,
			Card:          cmd.Card,
			Expiry:        cmd.Expiry,
			CVV:           cmd.CVV,
			HolderName:    cmd.HolderName,
			AVSPresent:    cmd.HasBilling,
			Authenticated: p.ThreeDS.Authenticated,
			Attempt:       max(p.Auth.Attempt, 1),
			RedirectURL:   p.Order.RedirectURL,
			Want3DS:       cmd.Want3DS && !p.ThreeDS.Authenticated && s.router.AuthenticatesBuyers(acq.Name()),
			BuyerID:       p.Order.ReferenceBuyerID,
			ClientIP:      p.Order.ClientIP,
			CreditPayPlan: p.Order.CreditPayPlan,
			MIT:           cmd.MIT, MITType: cmd.MITType, InitialNetworkTransactionID: cmd.InitialNTI,
			Local: cmd.Local, SelectedBrand: cmd.SelectedBrand,
		})
		cancel()
		if err != nil {
			s.log.WarnContext(ctx, "acquirer call failed", "paymentId", p.ID, "acquirer", acq.Name(), "err", err)
			// The outcome is unknown. With another acquirer in the route, the attempt is reversed
			// by the gateway's reference first, so that it cannot leave a hold behind, and the
			// payment moves on; otherwise (or if the reversal fails too) it stays in process for
			// the acquirer's late answer or the expiry, and the merchant is told to inquire.
			if p.nextAcquirer() != "" {
				rctx, cancel := context.WithTimeout(ctx, s.cfg.AcquirerTimeout)
				rerr := acq.Reverse(rctx, p.ID)
				cancel()
				if rerr == nil {
					if p, err = s.failover(ctx, p, protocol.CodeProcessFail); err != nil {
						return Payment{}, err
					}
					continue
				}
				s.log.WarnContext(ctx, "reversal before failover failed; the payment waits for the acquirer", "paymentId", p.ID, "acquirer", acq.Name(), "err", rerr)
			}
			res = acquirer.AuthResult{Outcome: acquirer.Pending, AcquirerName: acq.Name()}
		}
		if res.Outcome == acquirer.Unavailable {
			// The acquirer did not take it and holds nothing: the next one may, or the payment
			// fails as a process failure once the route is exhausted.
			if p.nextAcquirer() != "" {
				if p, err = s.failover(ctx, p, firstCode(res.DeclineCode, protocol.CodeProcessFail)); err != nil {
					return Payment{}, err
				}
				continue
			}
			res.Outcome, res.DeclineCode = acquirer.Declined, protocol.CodeProcessFail
			res.DeclineMsg = firstNonEmpty(res.DeclineMsg, "No acquirer could process the payment.")
		}
		if softDeclined(res) && cmd.Upgrade && s.auth != nil && !p.ThreeDS.Authenticated {
			return s.upgradeToChallenge(ctx, p, cmd)
		}
		return s.recordAuth(ctx, p, res, &cmd)
	}
}

func firstCode(codes ...protocol.Code) protocol.Code {
	for _, c := range codes {
		if c != "" {
			return c
		}
	}
	return ""
}

// recordAuth writes an acquirer's authorization answer: at pay time, or later for an answer that
// was pending. An approval that arrives after the payment closed (cancelled or expired meanwhile)
// is voided at the acquirer and never revives the payment (docs/design.md "State machine"). cmd is the
// card of an answer at pay time, which an approval saves as a token when asked to; a later
// answer has no card any more, so it saves none.
func (s *Service) recordAuth(ctx context.Context, p Payment, res acquirer.AuthResult, cmd *PayCommand) (Payment, error) {
	done, st, err := s.commitFresh(ctx, p, func(p Payment) (step, error) {
		if res.Outcome == acquirer.Approved && res.AcquirerTransactionID != "" &&
			res.AcquirerTransactionID == p.Auth.AcquirerTransactionID && !p.AuthorizedAt.IsZero() {
			// This very approval is recorded already: another instance took the sender for dead
			// and found it at the acquirer (DueResolve). Not a late approval: nothing to void.
			return step{}, nil
		}
		if p.Stage() != StageProcessing {
			// Cancelled, expired or failed unresolved while the acquirer was deciding.
			if res.Outcome != acquirer.Approved || (p.VoidState != VoidNone && p.Auth.AcquirerTransactionID != "") {
				// Nothing to release, or this authorization's void is owed or done already. (A
				// reversal by the gateway's reference that went out before this answer is not
				// trusted to cover it: the approval is voided by its own reference too.)
				return step{}, nil
			}
			next := p
			next.Auth.AcquirerTransactionID = res.AcquirerTransactionID
			next.VoidState = VoidPending
			return step{op: OpLateAuthVoided, next: next}, nil
		}
		st := s.authStep(p, res)
		if st.op == OpAuthApproved && p.CaptureMode == CaptureAutomatic {
			// Antom captures an automatic payment after the authorization and reports it by
			// CAPTURE_RESULT: the approval reserves the capture in its own commit, and the
			// capture itself runs off the request path (captures.go).
			t := s.newCapture(p, p.RequestID, p.Amount, true)
			st.then, st.newTxn = OpCapture, &t
		}
		if st.op == OpAuthApproved && p.Card.Tokenize && p.Card.Token == "" && cmd != nil && s.vault != nil {
			existing, tok, err := s.newToken(ctx, p, cmd, s.clock.Now())
			if err != nil {
				return step{}, fmt.Errorf("save card of %s: %w", p.ID, err)
			}
			st.next.Card.Token, st.newToken = existing, tok
			if tok != nil {
				st.next.Card.Token = tok.ID
				// An MIT with this token may omit networkTransactionId: this approval's is it.
				tok.Card.InitialNetworkTransactionID = st.next.Auth.NetworkTransactionID
			}
		}
		return st, nil
	})
	switch {
	case err != nil:
		return Payment{}, err
	case st.op == OpLateAuthVoided:
		s.log.WarnContext(ctx, "late authorization voided", "paymentId", p.ID, "stage", done.Stage())
		return s.sendVoid(ctx, done), nil
	case st.then == OpCapture:
		// The capture reserved with the approval goes to the acquirer now; inquiry shows it
		// within a second of the answer (docs/design.md "Answer codes after authorization").
		return s.captureOwed(ctx, done, *st.newTxn), nil
	}
	return done, nil
}

// authStep is the transition an authorization answer makes of a payment in process.
func (s *Service) authStep(p Payment, res acquirer.AuthResult) step {
	next := p
	now := s.clock.Now()
	// The acquirer's facts about the card win over the gateway's BIN table, which is only as
	// fresh as its last release; an answer without them keeps the table's.
	next.Card.Funding = firstNonEmpty(res.Funding, p.Card.Funding)
	next.Card.IssuingCountry = firstNonEmpty(res.IssuingCountry, p.Card.IssuingCountry)
	next.Card.IssuerName = firstNonEmpty(res.IssuerName, p.Card.IssuerName)
	next.Card.Category = firstNonEmpty(res.Category, p.Card.Category)
	next.Auth = AuthDetails{
		AcquirerName:          firstNonEmpty(res.AcquirerName, p.Auth.AcquirerName),
		AcquirerMerchantID:    res.AcquirerMerchantID,
		AcquirerTransactionID: firstNonEmpty(res.AcquirerTransactionID, p.Auth.AcquirerTransactionID),
		AcquirerResultCode:    res.AcquirerResultCode,
		AcquirerResultMessage: res.AcquirerResultMessage,
		AVSResult:             res.AVSResult,
		CVVResult:             res.CVVResult,
		NetworkTransactionID:  res.NetworkTransactionID,
		AuthorizationCode:     res.AuthorizationCode,
		RefusalCodeRaw:        res.RefusalCodeRaw,
		RefusalReasonRaw:      res.RefusalReasonRaw,
		Route:                 p.Auth.Route,
		Attempt:               p.Auth.Attempt,
		Chargeback:            res.Chargeback,
	}
	next.AcquirerDueAt, next.InFlightUntil = time.Time{}, time.Time{}
	if res.Outcome == acquirer.Approved || res.Outcome == acquirer.Declined {
		// The authorization is done: the sealed card goes in the same transaction.
		next.SealedCard, next.Order.NormalURL = "", ""
	}
	st := step{next: next, notify: s.paymentNotice}
	switch res.Outcome {
	case acquirer.Approved:
		st.op = OpAuthApproved
		st.next.ResultCode, st.next.ResultMsg = protocol.CodeSuccess, "success."
		st.next.AuthorizedAt, st.next.AuthExpiresAt = now, now.Add(AuthValidity)
		st.next.AcquirerState = AcquirerAnswered
	case acquirer.Declined:
		st.op = OpAuthDeclined
		st.next.ResultCode, st.next.ResultMsg = res.DeclineCode, res.DeclineMsg
		st.next.AcquirerState = AcquirerAnswered
	case acquirer.NoAnswer:
		st.op = OpAuthPending
		st.next.AcquirerState = AcquirerPending
	default:
		st.op = OpAuthPending
		st.next.AcquirerState = AcquirerPending
		if res.Outcome == acquirer.ActionRequired {
			// The acquirer authenticates the buyer on its own page: the merchant sends the buyer
			// there (normalUrl), and the answer is asked for later like any pending one.
			st.next.Order.NormalURL = res.NormalURL
		}
		retry := res.RetryAfter
		if retry <= 0 {
			retry = s.cfg.AcquirerRetry
		}
		st.next.AcquirerDueAt = now.Add(retry)
	}
	return st
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
