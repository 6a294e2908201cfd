// Package checkout serves the pages the buyer sees behind normalUrl: the hosted card page and the
// simulated issuer's 3-D Secure challenge page. Pages are plain HTML forms that work without
// JavaScript and load nothing from elsewhere; the form field names are Antom's (the card page
// posts cardNo, expiryMonth, expiryYear, cvv, cardholderName and saveCard; the 3DS page otp).
package checkout

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"

	"github.com/cardgate/cardgate/internal/payments"
)

//go:embed templates/*.html
var templates embed.FS

var pages = template.Must(template.ParseFS(templates, "templates/*.html"))

// Service is what the pages need of the payments service.
type Service interface {
	ChallengePayment(ctx context.Context, token string) (payments.Payment, error)
	SubmitCode(ctx context.Context, token, code string) (payments.Payment, error)
	SubmitCard(ctx context.Context, m payments.Merchant, token string, f payments.CardForm) (payments.Payment, payments.FormErrors, error)
}

// MerchantLookup finds the merchant a payment belongs to: the card page shows its name, and the
// card's fingerprint is keyed per merchant.
type MerchantLookup func(ctx context.Context, merchantID string) (m payments.Merchant, name string, err error)

// Handler serves the buyer's pages: /checkout/{token} (the hosted card page) and
// /threeds/{token} (the issuer's challenge). Both keys are the payment's one page token.
type Handler struct {
	svc       Service
	merchants MerchantLookup
	sandbox   bool
	log       *slog.Logger
}

// New returns the page handler. sandbox adds the test-card hints.
func New(svc Service, merchants MerchantLookup, sandbox bool, log *slog.Logger) *Handler {
	return &Handler{svc: svc, merchants: merchants, sandbox: sandbox, log: log}
}

// Prefix is the path the challenge pages live under; CardPrefix the hosted card pages.
const (
	Prefix     = "/threeds/"
	CardPrefix = "/checkout/"
)

// IssuerPrefix is the South Korean card issuer's authentication page (requireIssuerAuthentication):
// the challenge page's token and code, the issuer's title instead of 3-D Secure's.
const IssuerPrefix = payments.IssuerAuthPath

// Handles reports whether path is one of the buyer's pages.
func Handles(path string) bool {
	return strings.HasPrefix(path, Prefix) || strings.HasPrefix(path, CardPrefix) || strings.HasPrefix(path, IssuerPrefix)
}

type view struct {
	Title, Amount, Description, Card, Brand, Error, State, ReturnURL string
	AttemptsLeft                                                     int
	Open                                                             bool
	// Issuer is the card issuer's name on its own authentication page; empty on 3-D Secure's.
	Issuer string
}

// outcome is what the buyer's pages say of a payment that no longer waits for them.
func outcome(p payments.Payment) (title, state string) {
	switch {
	case p.State == payments.StateSuccess:
		return "Payment authorized", "Your payment was authorized. You can return to the shop."
	case p.State == payments.StateProcessing:
		return "Payment in process", "Your payment is being processed. The shop will confirm it."
	case p.State == payments.StateCancelled:
		return "Payment cancelled", "This payment was cancelled."
	case p.CloseReason == payments.CloseExpired:
		return "Payment expired", "This payment was not completed in time."
	}
	return "Payment not completed", "This payment was not completed. You can return to the shop and try again."
}

func viewOf(p payments.Payment) view {
	v := view{
		Amount: p.Amount.String(), Description: p.Order.Description, Card: "•••• " + p.Card.LastFour, Brand: p.Card.Brand,
		ReturnURL: p.Order.RedirectURL, Open: p.ChallengeOpen(), AttemptsLeft: payments.MaxChallengeAttempts - p.ChallengeAttempts,
	}
	if p.ThreeDS.Mode == payments.ThreeDSIssuer {
		v.Issuer = p.Card.IssuerName
		if v.Issuer == "" {
			v.Issuer = "Card issuer"
		}
	}
	if v.Open && v.Issuer != "" {
		v.Title = "Card issuer authentication"
	} else if v.Open {
		v.Title = "Verify your payment"
	} else {
		v.Title, v.State = outcome(p)
	}
	return v
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("X-Frame-Options", "DENY")
	if token, ok := strings.CutPrefix(r.URL.Path, CardPrefix); ok {
		if token == "" || strings.Contains(token, "/") {
			http.NotFound(w, r)
			return
		}
		h.serveCard(w, r, token)
		return
	}
	token, issuer := strings.CutPrefix(r.URL.Path, IssuerPrefix)
	if !issuer {
		token, _ = strings.CutPrefix(r.URL.Path, Prefix)
	}
	if token == "" || strings.Contains(token, "/") {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		p, err := h.svc.ChallengePayment(r.Context(), token)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if p.AwaitingCard() {
			// The buyer has not entered the card yet: the card page comes first.
			http.Redirect(w, r, CardPrefix+token, http.StatusSeeOther)
			return
		}
		h.render(r.Context(), w, http.StatusOK, viewOf(p))
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		p, err := h.svc.SubmitCode(r.Context(), token, strings.TrimSpace(r.PostForm.Get("otp")))
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if p.AwaitingCard() {
			http.Redirect(w, r, CardPrefix+token, http.StatusSeeOther)
			return
		}
		if p.ChallengeOpen() {
			v := viewOf(p)
			v.Error = "That code is not right. Try again."
			h.render(r.Context(), w, http.StatusUnprocessableEntity, v)
			return
		}
		// Back to the merchant, with no result parameters appended (seed 000): the merchant
		// inquires or waits for the notification.
		http.Redirect(w, r, p.Order.RedirectURL, http.StatusSeeOther)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, payments.ErrNotFound) {
		h.render(r.Context(), w, http.StatusNotFound, view{Title: "Page not found", State: "This payment page does not exist or has expired."})
		return
	}
	h.log.ErrorContext(r.Context(), "challenge page", "err", err)
	h.render(r.Context(), w, http.StatusInternalServerError, view{Title: "Something went wrong", State: "Please return to the shop and try again."})
}

func (h *Handler) render(ctx context.Context, w http.ResponseWriter, status int, v view) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, "challenge.html", v); err != nil {
		h.log.ErrorContext(ctx, "render challenge page", "err", err)
	}
}
