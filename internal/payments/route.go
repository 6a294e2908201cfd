package payments

import (
	"context"
	"fmt"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/protocol"
)

// Router is the gateway's acquirers and how a payment picks among them (internal/gateway builds
// it from the acquirers' configuration and the merchant's routing rules).
type Router interface {
	// Route orders the acquirers to try for a new payment: the first is tried, the others are
	// the failover order. It is decided once and kept with the payment, so a replay, a recovery
	// or another instance follows the same route.
	Route(ctx context.Context, merchantID string, f RouteFacts) ([]string, error)
	// Acquirer returns the acquirer of that name; "" is the acquirer of payments made before
	// routing existed.
	Acquirer(name string) (acquirer.Acquirer, bool)
	// AuthenticatesBuyers reports whether that acquirer runs 3-D Secure itself (an upstream
	// gateway with its own challenge pages): a merchant's is3DSAuthentication then goes to it
	// instead of the gateway's own challenge.
	AuthenticatesBuyers(name string) bool
}

// RouteFacts are what routing rules match on.
type RouteFacts struct {
	RequestID      string // paymentRequestId: the same request always routes the same way
	Currency       string
	CardBrand      string
	IssuingCountry string // from the BIN table; "" when it does not know the card
	AmountMinor    int64
}

// singleRouter is a gateway with one acquirer: every payment goes to it.
type singleRouter struct{ acq acquirer.Acquirer }

func (r singleRouter) Route(context.Context, string, RouteFacts) ([]string, error) {
	return []string{r.acq.Name()}, nil
}

func (r singleRouter) Acquirer(string) (acquirer.Acquirer, bool) { return r.acq, true }

func (r singleRouter) AuthenticatesBuyers(string) bool { return false }

// WithRouter makes the service route payments across the router's acquirers.
func (s *Service) WithRouter(r Router) *Service {
	s.router = r
	return s
}

// route decides the acquirers of a payment about to be authorized with cmd's card and records
// it in next: the route, and its first acquirer as the one the authorization goes to.
func (s *Service) route(ctx context.Context, next *Payment, cmd PayCommand) error {
	names, err := s.router.Route(ctx, next.MerchantID, RouteFacts{
		RequestID: next.RequestID, Currency: next.Amount.Currency.Code, CardBrand: next.Card.Brand,
		IssuingCountry: next.Card.IssuingCountry, AmountMinor: next.Amount.Minor,
	})
	if err != nil {
		return fmt.Errorf("route payment %s: %w", next.ID, err)
	}
	if len(names) == 0 {
		return fmt.Errorf("route payment %s: no acquirer", next.ID)
	}
	next.Auth.Route, next.Auth.Attempt, next.Auth.AcquirerName = names, 1, names[0]
	return nil
}

// acquirerOf is the acquirer a payment's authorization went to: captures, cancels, refunds and
// inquiries go there and nowhere else. One that is not configured (any more) answers every call
// with an error, which the callers treat as an unknown outcome to ask again about later.
func (s *Service) acquirerOf(p Payment) acquirer.Acquirer {
	if a, ok := s.router.Acquirer(p.Auth.AcquirerName); ok {
		return a
	}
	s.log.Error("payment's acquirer is not configured", "paymentId", p.ID, "acquirer", p.Auth.AcquirerName)
	return missingAcquirer{p.Auth.AcquirerName}
}

// missingAcquirer is an acquirer named by a payment that the gateway no longer has.
type missingAcquirer struct{ name string }

func (m missingAcquirer) err() error { return fmt.Errorf("acquirer %q is not configured", m.name) }

func (m missingAcquirer) Name() string { return m.name }
func (m missingAcquirer) Authorize(context.Context, acquirer.AuthRequest) (acquirer.AuthResult, error) {
	return acquirer.AuthResult{}, m.err()
}
func (m missingAcquirer) InquireAuthorization(context.Context, string) (acquirer.AuthResult, error) {
	return acquirer.AuthResult{}, m.err()
}
func (m missingAcquirer) Capture(context.Context, acquirer.CaptureRequest) (acquirer.OpResult, error) {
	return acquirer.OpResult{}, m.err()
}
func (m missingAcquirer) InquireCapture(context.Context, string) (acquirer.OpResult, error) {
	return acquirer.OpResult{}, m.err()
}
func (m missingAcquirer) Refund(context.Context, acquirer.RefundRequest) (acquirer.OpResult, error) {
	return acquirer.OpResult{}, m.err()
}
func (m missingAcquirer) Void(context.Context, string) error    { return m.err() }
func (m missingAcquirer) Reverse(context.Context, string) error { return m.err() }
func (m missingAcquirer) InquireByReference(context.Context, string) (acquirer.AuthResult, error) {
	return acquirer.AuthResult{}, m.err()
}

// nextAcquirer is the acquirer after the current one in the payment's route, "" at its end.
func (p Payment) nextAcquirer() string {
	if p.Auth.Attempt < 1 || p.Auth.Attempt >= len(p.Auth.Route) {
		return ""
	}
	return p.Auth.Route[p.Auth.Attempt]
}

// failover moves a payment whose authorization the current acquirer did not take (a technical
// failure, or an unanswered call that has been reversed there) to the next acquirer of its
// route, durably, before that acquirer is called: whatever happens next, the gateway knows
// which acquirer may hold the authorization.
func (s *Service) failover(ctx context.Context, p Payment, why protocol.Code) (Payment, error) {
	var from, to string
	done, _, err := s.commitFresh(ctx, p, func(p Payment) (step, error) {
		if p.Stage() != StageProcessing || p.AcquirerState != AcquirerSent || p.nextAcquirer() == "" {
			return step{}, fmt.Errorf("failover of %s: not an authorization in flight with an acquirer left (stage %s)", p.ID, p.Stage())
		}
		next := p
		from, to = p.Auth.AcquirerName, p.nextAcquirer()
		next.Auth.AcquirerName, next.Auth.Attempt = to, p.Auth.Attempt+1
		next.ResultCode, next.ResultMsg = protocol.CodePaymentInProcess, "Payment is processing."
		next.InFlightUntil = s.clock.Now().Add(s.cfg.InFlightLease)
		return step{op: OpFailover, next: next, eventCode: why}, nil
	})
	if err != nil {
		return done, err
	}
	// Told once the move is committed (a build retried after a conflict is not a second move).
	s.log.WarnContext(ctx, "acquirer failover", "paymentId", p.ID, "from", from, "to", to, "reason", why)
	if s.cfg.OnFailover != nil {
		s.cfg.OnFailover(from, to)
	}
	return done, nil
}
