package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

type loginView struct {
	Username, Next string
}

// loginPage shows the sign-in form with a fresh form token in its cookie.
func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, _, err := h.session(r); err == nil {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	h.renderLogin(w, r, http.StatusOK, loginView{Next: safeNext(r.URL.Query().Get("next"))}, "")
}

func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, v loginView, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	token, err := newSecret()
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, h.cookie(loginCookie, token, 3600))
	c := &call{w: w, r: r, sess: Session{CSRF: token}}
	p := h.page(c, "Sign in", "", v)
	p.Error = msg
	h.render(c, status, "login", p)
}

// safeNext keeps a return path inside the console, so the sign-in form cannot send a user away.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix) || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return Prefix
	}
	return next
}

// Why a sign-in was refused, as the page says it.
const (
	msgWrong     = "Wrong username or password."
	msgThrottled = "Too many failed sign-ins: try again in 15 minutes."
)

// login checks a username and password and opens a session. Refusals say nothing about whether
// the user exists, and take as long either way.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Bad request", http.StatusBadRequest)
		return
	}
	ck, err := r.Cookie(loginCookie)
	if err != nil || !sameSecret(r.PostFormValue("csrf"), ck.Value) {
		http.Error(w, "Forbidden: the sign-in form's security token is missing or out of date. Reload the sign-in page and try again.", http.StatusForbidden)
		return
	}
	username, password := strings.TrimSpace(r.PostFormValue("username")), r.PostFormValue("password")
	v := loginView{Username: username, Next: safeNext(r.PostFormValue("next"))}
	now, ip := h.cfg.Wall.Now(), clientIP(r)
	byUser, byIP, err := h.cfg.Store.LoginFailures(ctx, username, ip, now.Add(-ThrottleWindow))
	if err != nil {
		h.cfg.Log.ErrorContext(ctx, "console: sign-in throttle", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if byUser >= MaxUserFailures || byIP >= MaxIPFailures {
		h.cfg.Log.WarnContext(ctx, "console: sign-in throttled", "username", username, "ip", ip, "userFailures", byUser, "ipFailures", byIP)
		h.renderLogin(w, r, http.StatusTooManyRequests, v, msgThrottled)
		return
	}
	u, err := h.cfg.Store.UserByName(ctx, username)
	hash := u.PasswordHash
	if err != nil {
		if !errors.Is(err, ErrNoUser) {
			h.cfg.Log.ErrorContext(ctx, "console: sign-in", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		hash = dummyHash
	}
	if !VerifyPassword(hash, password) || err != nil {
		if err := h.cfg.Store.RecordLoginFailure(ctx, username, ip, now); err != nil {
			h.cfg.Log.ErrorContext(ctx, "console: record sign-in failure", "err", err)
		}
		h.cfg.Log.InfoContext(ctx, "console: sign-in refused", "username", username, "ip", ip)
		h.renderLogin(w, r, http.StatusUnauthorized, v, msgWrong)
		return
	}
	token, err := h.openSession(r, u)
	if err != nil {
		h.cfg.Log.ErrorContext(ctx, "console: open session", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := h.cfg.Store.ClearLoginFailures(ctx, username); err != nil {
		h.cfg.Log.WarnContext(ctx, "console: clear sign-in failures", "err", err)
	}
	h.cfg.Log.InfoContext(ctx, "console: signed in", "username", u.Username, "role", string(u.Role), "ip", ip)
	http.SetCookie(w, h.cookie(sessionCookie, token, int(SessionTTL.Seconds())))
	http.SetCookie(w, h.cookie(loginCookie, "", -1))
	http.Redirect(w, r, v.Next, http.StatusSeeOther)
}

// openSession stores a new session for u and returns its cookie's token.
func (h *Handler) openSession(r *http.Request, u User) (string, error) {
	token, err := newSecret()
	if err != nil {
		return "", err
	}
	csrf, err := newSecret()
	if err != nil {
		return "", err
	}
	now := h.cfg.Wall.Now()
	err = h.cfg.Store.CreateSession(r.Context(), Session{TokenHash: tokenHash(token), UserID: u.ID, CSRF: csrf, CreatedAt: now, ExpiresAt: now.Add(SessionTTL)})
	if err != nil {
		return "", fmt.Errorf("store session: %w", err)
	}
	return token, nil
}

func (h *Handler) logout(c *call) {
	if err := h.cfg.Store.DeleteSession(c.ctx(), c.sess.TokenHash); err != nil {
		h.fail(c, err)
		return
	}
	http.SetCookie(c.w, h.cookie(sessionCookie, "", -1))
	http.Redirect(c.w, c.r, Prefix+"login", http.StatusSeeOther)
}
