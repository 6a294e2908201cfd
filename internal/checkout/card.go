package checkout

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/cardgate/cardgate/internal/payments"
)

// cardView is what the hosted card page shows.
type cardView struct {
	Title, Merchant, Amount, Description, State, ReturnURL, Nonce string
	Open, AskSave, Sandbox                                        bool
	// Form echoes what the buyer typed after a refused post, except the card number and the
	// security code: the page never writes card data back into itself, where the browser's
	// cache, history or an extension could keep it (the template has no value for either).
	Form   payments.CardForm
	Errors payments.FormErrors
}

func (h *Handler) cardViewOf(p payments.Payment, merchant string) cardView {
	v := cardView{Merchant: merchant, Amount: p.Amount.String(), Description: p.Order.Description, ReturnURL: p.Order.RedirectURL,
		Open: p.AwaitingCard(), AskSave: p.ShowsSaveCard(), Sandbox: h.sandbox}
	if v.Open {
		v.Title = "Pay by card"
	} else {
		v.Title, v.State = outcome(p)
	}
	return v
}

func (h *Handler) serveCard(w http.ResponseWriter, r *http.Request, token string) {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		h.fail(w, r, err)
		return
	}
	n := base64.RawStdEncoding.EncodeToString(nonce)
	csp := func(returnTo string) {
		// The page's only script is the inline brand hint, allowed by its nonce; nothing loads
		// from elsewhere. The form posts to this page, whose answer redirects to the merchant:
		// browsers hold that redirect to form-action too, so the merchant's origin is allowed.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-"+n+
			"'; form-action 'self'"+returnTo+"; frame-ancestors 'none'")
	}
	csp("")
	ctx := r.Context()
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p, err := h.svc.ChallengePayment(ctx, token)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	csp(sourceOf(p.Order.RedirectURL))
	if p.ChallengeOpen() {
		// The card is in; the issuer wants the buyer challenged.
		http.Redirect(w, r, Prefix+token, http.StatusSeeOther)
		return
	}
	if p.AcquirerPageOpen() {
		// The card is in; the buyer's next page is the acquirer's own challenge.
		http.Redirect(w, r, p.Order.NormalURL, http.StatusSeeOther)
		return
	}
	m, name, err := h.merchants(ctx, p.MerchantID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if r.Method != http.MethodPost {
		v := h.cardViewOf(p, name)
		v.Nonce = n
		h.renderCard(r.Context(), w, http.StatusOK, v)
		return
	}

	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	f := payments.CardForm{
		CardNo:         r.PostForm.Get("cardNo"),
		ExpiryMonth:    r.PostForm.Get("expiryMonth"),
		ExpiryYear:     r.PostForm.Get("expiryYear"),
		CVV:            r.PostForm.Get("cvv"),
		CardholderName: r.PostForm.Get("cardholderName"),
		SaveCard:       r.PostForm.Get("saveCard") != "",
	}
	p, errs, err := h.svc.SubmitCard(ctx, m, token, f)
	switch {
	case err != nil:
		h.fail(w, r, err)
	case errs != nil:
		v := h.cardViewOf(p, name)
		v.Nonce, v.Errors = n, errs
		f.CardNo, f.CVV = "", ""
		v.Form = f
		h.renderCard(r.Context(), w, http.StatusUnprocessableEntity, v)
	case p.ChallengeOpen():
		http.Redirect(w, r, Prefix+token, http.StatusSeeOther)
	case p.AcquirerPageOpen():
		// The acquirer (an upstream gateway) authenticates the buyer on its own page; it sends
		// the buyer back to the merchant when done.
		csp(sourceOf(p.Order.RedirectURL) + sourceOf(p.Order.NormalURL))
		http.Redirect(w, r, p.Order.NormalURL, http.StatusSeeOther)
	case p.AwaitingCard():
		// Cannot happen after a valid card; show the form again rather than lose the buyer.
		http.Redirect(w, r, CardPrefix+token, http.StatusSeeOther)
	default:
		// Authorized, declined or still in process: back to the merchant with nothing appended
		// (seed 000); the merchant inquires or waits for the notification.
		http.Redirect(w, r, p.Order.RedirectURL, http.StatusSeeOther)
	}
}

// sourceOf is the CSP source expression of a redirect URL (" https://shop.example", or
// " myapp:" for an app scheme), or "" when it cannot be written safely into the header.
func sourceOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return ""
	}
	for _, part := range []string{u.Scheme, u.Host} {
		for _, c := range part {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-+:[]", c)) {
				return ""
			}
		}
	}
	if u.Host == "" {
		return " " + u.Scheme + ":"
	}
	return " " + u.Scheme + "://" + u.Host
}

func (h *Handler) renderCard(ctx context.Context, w http.ResponseWriter, status int, v cardView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, "card.html", v); err != nil {
		h.log.ErrorContext(ctx, "render card page", "err", err)
	}
}
