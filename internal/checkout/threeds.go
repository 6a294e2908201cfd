// Package checkout serves the pages the buyer sees: the simulated issuer's 3-D Secure challenge
// page behind normalUrl. Pages are plain HTML forms that work without JavaScript and load nothing
// from elsewhere; the form field names are Antom's (the 3DS page posts otp).
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

// Challenges is what the challenge page needs of the payments service.
type Challenges interface {
	ChallengePayment(ctx context.Context, token string) (payments.Payment, error)
	SubmitCode(ctx context.Context, token, code string) (payments.Payment, error)
}

// Handler serves /threeds/{token}.
type Handler struct {
	svc Challenges
	log *slog.Logger
}

// New returns the page handler.
func New(svc Challenges, log *slog.Logger) *Handler { return &Handler{svc: svc, log: log} }

// Prefix is the path the challenge pages live under.
const Prefix = "/threeds/"

type view struct {
	Title, Amount, Description, Card, Brand, Error, State, ReturnURL string
	AttemptsLeft                                                     int
	Open                                                             bool
}

func viewOf(p payments.Payment) view {
	v := view{
		Amount: p.Amount.String(), Description: p.Order.Description, Card: "•••• " + p.Card.LastFour, Brand: p.Card.Brand,
		ReturnURL: p.Order.RedirectURL, Open: p.ChallengeOpen(), AttemptsLeft: payments.MaxChallengeAttempts - p.ChallengeAttempts,
	}
	switch {
	case v.Open:
		v.Title = "Verify your payment"
	case p.State == payments.StateSuccess:
		v.Title, v.State = "Payment authorized", "Your payment was authorized."
	case p.State == payments.StateProcessing:
		v.Title, v.State = "Payment in process", "Your payment is being processed."
	case p.State == payments.StateCancelled:
		v.Title, v.State = "Payment cancelled", "This payment was cancelled."
	default:
		v.Title, v.State = "Payment not completed", "This payment was not completed."
	}
	return v
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, _ := strings.CutPrefix(r.URL.Path, Prefix)
	if token == "" || strings.Contains(token, "/") {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		p, err := h.svc.ChallengePayment(r.Context(), token)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.render(w, http.StatusOK, viewOf(p))
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
		if p.ChallengeOpen() {
			v := viewOf(p)
			v.Error = "That code is not right. Try again."
			h.render(w, http.StatusUnprocessableEntity, v)
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
		h.render(w, http.StatusNotFound, view{Title: "Page not found", State: "This verification page does not exist or has expired."})
		return
	}
	h.log.ErrorContext(r.Context(), "challenge page", "err", err)
	h.render(w, http.StatusInternalServerError, view{Title: "Something went wrong", State: "Please return to the shop and try again."})
}

func (h *Handler) render(w http.ResponseWriter, status int, v view) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, "challenge.html", v); err != nil {
		h.log.Error("render challenge page", "err", err)
	}
}
