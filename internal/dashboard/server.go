// Package dashboard is the console at /dashboard/: merchants and operators sign in with a
// username and password and see payments, their histories and notifications, disputes, routing
// rules, settings and, in the sandbox, the test controls. Pages are rendered on the server from
// embedded templates and one embedded style sheet; they load nothing from elsewhere and work
// without JavaScript. Every change is a POST form carrying the session's CSRF token.
package dashboard

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/disputes"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/notify"
	"github.com/cardgate/cardgate/internal/sandbox"
)

// Prefix is where the console lives.
const Prefix = "/dashboard/"

// Handles says whether the console serves path.
func Handles(path string) bool { return path == "/dashboard" || strings.HasPrefix(path, Prefix) }

// Sign-in throttle: more failures than these within ThrottleWindow refuse further attempts
// for the username (a guesser after one account) or from the address (one after many), before
// the password is even looked at.
const (
	ThrottleWindow  = 15 * time.Minute
	MaxUserFailures = 5
	MaxIPFailures   = 20
)

// SessionTTL is how long a sign-in lasts.
const SessionTTL = 12 * time.Hour

// Cookie names. The session cookie is scoped to the console's path; loginCookie carries the
// sign-in form's CSRF token before there is a session (a double-submitted token).
const (
	sessionCookie = "cardgate_console"
	loginCookie   = "cardgate_console_login"
)

// Notifier resends a notification (notify.Dispatcher).
type Notifier interface {
	Resend(ctx context.Context, merchantID string, id int64) (notify.Attempt, error)
}

// Disputes is what the console does to disputes (disputes.Service).
type Disputes interface {
	Accept(ctx context.Context, merchantID, disputeID string) (disputes.Dispute, error)
	SupplyDefense(ctx context.Context, merchantID, disputeID, evidence string) (disputes.Dispute, error)
}

// Sandbox is what the sandbox page acts on (the gateway's sandbox controls, as the sandbox API).
type Sandbox interface {
	Advance(ctx context.Context, d time.Duration) (time.Time, error)
	ResetClock(ctx context.Context) (time.Time, error)
	Now() time.Time
	SetForce(ctx context.Context, merchantID string, f sandbox.Force, at time.Time) error
	Forces(ctx context.Context, merchantID string) ([]sandbox.Force, error)
	ResetMerchant(ctx context.Context, merchantID string) (map[string]int64, error)
}

// Config is what the console is built from.
type Config struct {
	Store    Store
	Notifier Notifier
	Disputes Disputes // nil: the disputes page lists but offers no action
	Sandbox  Sandbox  // nil in production: no sandbox page
	// Acquirers names the acquirers a routing document may name (the gateway's).
	Acquirers func() []string
	// GatewayPublicKey is shown on the settings page (bare base64).
	GatewayPublicKey string
	// Secure marks the cookies Secure: the gateway is served over TLS or behind an https URL.
	Secure bool
	// Clock is the gateway clock (the sandbox's moves); Wall runs sessions and the throttle.
	Clock, Wall clock.Clock
	Log         *slog.Logger
}

// Handler serves the console.
type Handler struct {
	cfg   Config
	mux   *http.ServeMux
	pages map[string]*template.Template
	css   []byte
}

//go:embed templates/*.html console.css
var files embed.FS

// New builds the console.
func New(cfg Config) *Handler {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Wall == nil {
		cfg.Wall = clock.Wall{}
	}
	if cfg.Clock == nil {
		cfg.Clock = cfg.Wall
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), pages: map[string]*template.Template{}}
	css, err := fs.ReadFile(files, "console.css")
	if err != nil {
		panic(err)
	}
	h.css = css
	for _, name := range []string{"login", "overview", "payments", "payment", "disputes", "routing", "settings", "sandbox", "notfound"} {
		h.pages[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+name+".html"))
	}
	h.routes()
	return h
}

func (h *Handler) routes() {
	m := h.mux
	m.HandleFunc("GET /dashboard", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
	})
	m.HandleFunc("GET /dashboard/console.css", h.serveCSS)
	m.HandleFunc("GET /dashboard/login", h.loginPage)
	m.HandleFunc("POST /dashboard/login", h.login)
	m.HandleFunc("POST /dashboard/logout", h.signedIn(h.logout))
	m.HandleFunc("GET /dashboard/{$}", h.signedIn(h.overview))
	m.HandleFunc("GET /dashboard/payments", h.signedIn(h.paymentList))
	m.HandleFunc("GET /dashboard/payments/{id}", h.signedIn(h.paymentPage))
	m.HandleFunc("POST /dashboard/payments/{id}/resend", h.signedIn(h.resend))
	m.HandleFunc("GET /dashboard/disputes", h.signedIn(h.disputeList))
	m.HandleFunc("POST /dashboard/disputes/{id}/accept", h.signedIn(h.acceptDispute))
	m.HandleFunc("POST /dashboard/disputes/{id}/defend", h.signedIn(h.defendDispute))
	m.HandleFunc("GET /dashboard/routing", h.signedIn(h.routingPage))
	m.HandleFunc("POST /dashboard/routing", h.signedIn(h.setRouting))
	m.HandleFunc("GET /dashboard/settings", h.signedIn(h.settingsPage))
	m.HandleFunc("POST /dashboard/settings/notify-url", h.signedIn(h.setNotifyURL))
	m.HandleFunc("POST /dashboard/settings/keys", h.signedIn(h.addKey))
	m.HandleFunc("GET /dashboard/sandbox", h.signedIn(h.sandboxPage))
	m.HandleFunc("POST /dashboard/sandbox/advance", h.signedIn(h.advance))
	m.HandleFunc("POST /dashboard/sandbox/force", h.signedIn(h.force))
	m.HandleFunc("POST /dashboard/sandbox/reset", h.signedIn(h.reset))
	m.HandleFunc("/dashboard/", h.signedIn(func(c *call) { h.notFound(c) }))
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	// Nothing loads from elsewhere, no script runs, no page frames the console, and forms post
	// only to it.
	hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	hdr.Set("X-Frame-Options", "DENY")
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) serveCSS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(h.css)
}

// call is one signed-in request: who asks, and for which merchant.
type call struct {
	w    http.ResponseWriter
	r    *http.Request
	user User
	sess Session
	// m is the merchant the request is about: a merchant user's own, or the one an operator
	// picked (?m=), by default the oldest. merchants is the operator's choice (nil for others).
	m         merchant.Merchant
	merchants []merchant.Merchant
}

func (c *call) ctx() context.Context { return c.r.Context() }

// maxForm bounds a form: a routing document is at most 64 KiB, and a defense (multipart) is
// read separately with its own bound.
const maxForm = 256 << 10

// signedIn runs fn for a request with a live session; a POST must also carry the session's CSRF
// token. Without a session a GET goes to the sign-in page and a POST is refused.
func (h *Handler) signedIn(fn func(*call)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		c := &call{w: w, r: r}
		var err error
		if c.sess, c.user, err = h.session(r); err != nil {
			if !errors.Is(err, ErrNoSession) {
				h.fail(c, err)
				return
			}
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				http.Error(w, "Forbidden: you are not signed in (the session ended). Sign in again.", http.StatusForbidden)
				return
			}
			http.Redirect(w, r, Prefix+"login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			if !h.parseForm(c) {
				return
			}
			if !sameSecret(r.PostFormValue("csrf"), c.sess.CSRF) {
				h.cfg.Log.WarnContext(r.Context(), "console: POST refused: missing or wrong CSRF token", "user", c.user.Username, "path", r.URL.Path)
				http.Error(w, "Forbidden: this form's security token is missing or out of date. Go back, reload the page and try again.", http.StatusForbidden)
				return
			}
		}
		if !h.scope(c) {
			return
		}
		fn(c)
	}
}

func (h *Handler) parseForm(c *call) bool {
	r := c.r
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		r.Body = http.MaxBytesReader(c.w, r.Body, maxUpload+maxForm)
		if err := r.ParseMultipartForm(maxUpload + maxForm); err != nil {
			http.Error(c.w, "Bad request: the upload is too large or broken (a defense may be 2 MiB).", http.StatusRequestEntityTooLarge)
			return false
		}
		return true
	}
	r.Body = http.MaxBytesReader(c.w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		http.Error(c.w, "Bad request: the form is too large or broken.", http.StatusRequestEntityTooLarge)
		return false
	}
	return true
}

// scope decides which merchant the call is about. A merchant user is held to its own whatever
// the URL says; an operator names one with m (an unknown one is not found).
func (h *Handler) scope(c *call) bool {
	ctx := c.ctx()
	if c.user.Role == RoleMerchant {
		m, err := h.cfg.Store.MerchantByClientID(ctx, c.user.ClientID)
		if err != nil {
			h.fail(c, fmt.Errorf("the user's merchant %s: %w", c.user.ClientID, err))
			return false
		}
		c.m = m
		return true
	}
	list, err := h.cfg.Store.Merchants(ctx)
	if err != nil {
		h.fail(c, err)
		return false
	}
	c.merchants = list
	want := c.r.FormValue("m")
	for _, m := range list {
		if want == "" || m.ClientID == want {
			// The list holds no keys: read the one merchant in full.
			if c.m, err = h.cfg.Store.MerchantByClientID(ctx, m.ClientID); err != nil {
				h.fail(c, err)
				return false
			}
			return true
		}
	}
	if want == "" {
		return true // no merchant at all yet: the pages say so
	}
	h.notFound(c)
	return false
}

// session finds the request's session from its cookie.
func (h *Handler) session(r *http.Request) (Session, User, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 128 {
		return Session{}, User{}, ErrNoSession
	}
	return h.cfg.Store.SessionByHash(r.Context(), tokenHash(ck.Value), h.cfg.Wall.Now())
}

func (h *Handler) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: Prefix, MaxAge: maxAge, HttpOnly: true, Secure: h.cfg.Secure, SameSite: http.SameSiteLaxMode}
}

// clientIP is the address the request came from: the connection's, never a header a client
// could set (a proxy in front should throttle itself, or every request shares its address).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// page is what every template gets.
type page struct {
	Title, Nav string
	User       User
	CSRF       string
	Merchant   merchant.Merchant
	Merchants  []merchant.Merchant
	Sandbox    bool
	Notice     string
	Error      string
	Data       any
	operator   bool
}

// URL is a console link that keeps the operator's merchant: path below Prefix, then query pairs.
func (p page) URL(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if p.operator && p.Merchant.ClientID != "" {
		q.Set("m", p.Merchant.ClientID)
	}
	u := Prefix + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// Operator says whether the viewer sees every merchant.
func (p page) Operator() bool { return p.operator }

func (h *Handler) page(c *call, title, nav string, data any) page {
	p := page{Title: title, Nav: nav, User: c.user, CSRF: c.sess.CSRF, Merchant: c.m, Merchants: c.merchants,
		Sandbox: h.cfg.Sandbox != nil, Data: data, operator: c.user.Role == RoleOperator}
	if done := c.r.URL.Query().Get("done"); done != "" {
		p.Notice = notices[done]
	}
	return p
}

// notices are the messages a redirect after a change shows (?done=…), fixed so that a link
// cannot put words on the page.
var notices = map[string]string{
	"resent":   "Notification sent again; its attempt is listed below.",
	"accepted": "Dispute accepted.",
	"defended": "Defense supplied: the issuer judges it in 3 days.",
	"routing":  "Routing rules saved.",
	"notify":   "Notify URL saved.",
	"key":      "Public key added.",
	"advanced": "Sandbox clock moved forward; everything that fell due has run.",
	"forced":   "Forced results updated.",
	"reset":    "The merchant's test data is deleted.",
}

func (h *Handler) render(c *call, status int, name string, p page) {
	c.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b strings.Builder
	if err := h.pages[name].ExecuteTemplate(&b, "layout", p); err != nil {
		h.cfg.Log.ErrorContext(c.ctx(), "console: render", "page", name, "err", err)
		http.Error(c.w, "internal error", http.StatusInternalServerError)
		return
	}
	c.w.WriteHeader(status)
	_, _ = c.w.Write([]byte(b.String()))
}

// redirect answers a change with the page to show next (POST, redirect, GET).
func (h *Handler) redirect(c *call, p page, path, done string, kv ...string) {
	http.Redirect(c.w, c.r, p.URL(path, append(kv, "done", done)...), http.StatusSeeOther)
}

func (h *Handler) notFound(c *call) {
	h.render(c, http.StatusNotFound, "notfound", h.page(c, "Not found", "", nil))
}

func (h *Handler) fail(c *call, err error) {
	h.cfg.Log.ErrorContext(c.ctx(), "console", "path", c.r.URL.Path, "err", err)
	http.Error(c.w, "internal error", http.StatusInternalServerError)
}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
	"day": func(t time.Time) string { return t.UTC().Format("2006-01-02") },
}
