// Package logctx carries a request's id in its context and puts it on every log line the request
// causes: the API call's own line, and those of the payment service, the store and the acquirer
// it calls, which log with the request's context without knowing about requests.
package logctx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
)

type key struct{}

// NewID returns a fresh request id: 16 hex digits.
func NewID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return hex.EncodeToString(b)
}

// With returns ctx carrying the request id.
func With(ctx context.Context, id string) context.Context { return context.WithValue(ctx, key{}, id) }

// ID is the request id ctx carries, or "".
func ID(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}

// Handler adds "requestId" to every record logged with a context that carries one.
type Handler struct{ inner slog.Handler }

// NewHandler wraps h.
func NewHandler(h slog.Handler) *Handler {
	if already, ok := h.(*Handler); ok {
		return already
	}
	return &Handler{inner: h}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if id := ID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("requestId", id))
	}
	return h.inner.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &Handler{inner: h.inner.WithAttrs(as)}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{inner: h.inner.WithGroup(name)}
}
