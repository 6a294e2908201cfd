// Package api is the HTTP edge of the Antom-compatible API: it authenticates the merchant's
// signature over the raw body, decodes, calls the payments service, and signs whatever it answers.
// Handlers hold no business rule; every outcome, errors included, is HTTP 200 with a signed body
// that has a result object (docs/wire.md §1.5, §2.6).
package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"reflect"
	"runtime/debug"
	"strings"
	"time"

	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/disputes"
	"github.com/cardgate/cardgate/internal/keyring"
	"github.com/cardgate/cardgate/internal/logctx"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/reports"
	"github.com/cardgate/cardgate/internal/routing"
	"github.com/cardgate/cardgate/internal/sandbox"
	"github.com/cardgate/cardgate/protocol"
)

// Config tunes the edge.
type Config struct {
	// MaxBodyBytes bounds a request body; larger bodies are refused unread.
	MaxBodyBytes int64
	// RequestTimeWindow is how far request-time may be from the wall clock (docs/design.md: 5 minutes).
	RequestTimeWindow time.Duration
	// Sandbox, when set, serves the sandbox control calls (the clock); without it they are 404.
	Sandbox Sandbox
	// Notifications, when set, serves the notification log and resend calls.
	Notifications Notifications
	// Calls, when set, keeps each merchant's calls and serves /cardgate/v1/logs/tail.
	Calls CallLog
	// Disputes, when set, serves the dispute APIs (and, in the sandbox, the dispute call).
	Disputes *disputes.Service
	// Routing, when set, serves the routing rules calls; Acquirers names the acquirers a
	// document may route to (the gateway's, which can change while it runs).
	Routing   routing.Store
	Acquirers func() []string
	// Reports, when set, serves the report calls (docs/reports.md); SpoolDir is where their
	// answers are spooled while they are signed (default os.TempDir()).
	Reports  *reports.Service
	SpoolDir string
	// Observe, when set, is told of every call once it is answered (metrics).
	Observe func(path, resultCode string, d time.Duration)
	// BadBody, when set, is told of every request body that could not be read, by reason:
	// BodyTimeout, BodyAborted or BodyTooLarge (metrics).
	BadBody func(reason string)
}

// Why a request body could not be read. All three are the client's doing (a body slower than the
// server's read timeout, a connection closed or reset mid-body, a body over the limit), so they
// are answered PARAM_ILLEGAL and logged as information, never as the gateway's error: anyone who
// can reach the port could otherwise write ERROR lines at will.
const (
	BodyTimeout  = "timeout"
	BodyAborted  = "aborted"
	BodyTooLarge = "too_large"
)

// Sandbox is what the sandbox control calls act on.
type Sandbox interface {
	// Advance moves the clock forward and returns the new time once the work that became due ran.
	Advance(ctx context.Context, d time.Duration) (time.Time, error)
	// ResetClock puts the clock back on real time and returns the time; Now reads the clock.
	ResetClock(ctx context.Context) (time.Time, error)
	Now() time.Time
	// SetForce and Forces keep the merchant's forced results (internal/sandbox).
	SetForce(ctx context.Context, merchantID string, f sandbox.Force, at time.Time) error
	Forces(ctx context.Context, merchantID string) ([]sandbox.Force, error)
	// ResetMerchant deletes the merchant's test data and says how many rows went from each table.
	ResetMerchant(ctx context.Context, merchantID string) (map[string]int64, error)
}

// Server serves the API.
type Server struct {
	payments  *payments.Service
	merchants *merchantCache
	gateway   keyring.Key
	wall      clock.Clock // the request-time window always uses real time, never the sandbox clock
	log       *slog.Logger
	cfg       Config
	endpoints map[string]endpoint
	own       map[string]endpoint // cardgate's own calls, by full path
	sandbox   map[string]endpoint // the sandbox's control calls, by full path; none in production
}

// endpoint handles one authenticated API call and returns the response body to sign.
type endpoint func(ctx context.Context, m merchant.Merchant, body []byte) (any, error)

// New builds the API server.
func New(svc *payments.Service, merchants merchant.Store, gateway keyring.Key, wall clock.Clock, log *slog.Logger, cfg Config) *Server {
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.RequestTimeWindow == 0 {
		cfg.RequestTimeWindow = 5 * time.Minute
	}
	s := &Server{payments: svc, merchants: newMerchantCache(merchants), gateway: gateway, wall: wall, log: log, cfg: cfg}
	s.endpoints = map[string]endpoint{
		protocol.PathPay:            s.pay,
		protocol.PathInquiryPayment: s.inquiryPayment,
		protocol.PathCapture:        s.capture,
		protocol.PathCancel:         s.cancel,
		protocol.PathRefund:         s.refund,
		protocol.PathInquiryRefund:  s.inquiryRefund,
		protocol.PathConsult:        s.consult,
	}
	if cfg.Disputes != nil {
		s.endpoints[protocol.PathAcceptDispute] = s.acceptDispute
		s.endpoints[protocol.PathSupplyDefenseDocument] = s.supplyDefenseDocument
		s.endpoints[protocol.PathDownloadDisputeEvidence] = s.downloadDisputeEvidence
	}
	if cfg.Sandbox != nil {
		s.sandbox = map[string]endpoint{
			protocol.PathSandboxClockAdvance: s.advanceClock,
			protocol.PathSandboxForce:        s.force,
			protocol.PathSandboxReset:        s.reset,
		}
		if cfg.Disputes != nil {
			s.sandbox[protocol.PathSandboxDisputeOpen] = s.openDispute
		}
	}
	s.own = map[string]endpoint{protocol.PathMerchantSettings: s.merchantSettings}
	if cfg.Disputes != nil {
		s.own[protocol.PathDisputesList] = s.disputesList
	}
	if cfg.Calls != nil {
		s.own[protocol.PathLogsTail] = s.logsTail
	}
	if cfg.Notifications != nil {
		s.own[protocol.PathNotificationsList] = s.notificationsList
		s.own[protocol.PathNotificationsResend] = s.notificationsResend
	}
	if cfg.Routing != nil {
		s.own[protocol.PathRoutingGet] = s.routingGet
		s.own[protocol.PathRoutingSet] = s.routingSet
	}
	if cfg.Reports != nil {
		s.own[protocol.PathReportTransactions] = s.report(reports.Transactions)
		s.own[protocol.PathReportSettlement] = s.report(reports.Settlement)
	}
	return s
}

// ServeHTTP routes by hand rather than with http.ServeMux: the mux redirects non-clean paths
// such as retrievePaymentSession's "//", and a redirect breaks the client's signature (docs/wire.md §1.2).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && !apiPath(r.URL.Path) {
		// A browser's request (/, /favicon.ico, /robots.txt): a plain 404, not an API answer. A
		// POST anywhere still gets a signed NO_INTERFACE_DEF, which tells a merchant whose SDK has
		// the wrong base path what is wrong.
		http.Error(w, "404 page not found: the API is POST /ams/api/v1/… (docs: /openapi.json); the console is /dashboard/", http.StatusNotFound)
		return
	}
	ctx := logctx.With(r.Context(), logctx.NewID()) // every line this call causes carries its id
	ctx = context.WithValue(ctx, callerKey{}, &caller{})
	// The signed path is the URL path as received, never the raw request target: Python sends
	// absolute-form targets (docs/wire.md §1.5).
	path := r.URL.EscapedPath()
	clientID := r.Header.Get("client-id")

	resp, code := s.handleRecovering(ctx, r, path, clientID)
	if body, ok := resp.(streamed); ok {
		err := s.writeStreamed(ctx, w, r.Method, path, clientID, body)
		if err == nil {
			s.logged(ctx, path, clientID, protocol.CodeSuccess, start)
			return
		}
		// Nothing was sent: the merchant gets a signed answer saying the outcome is unknown. A
		// client that went away while its report was made is its own doing, not the gateway's.
		if ctx.Err() != nil {
			s.log.InfoContext(ctx, "client left before its answer was made", "path", path, "clientId", clientID, "err", err)
		} else {
			s.log.ErrorContext(ctx, "internal error", "path", path, "clientId", clientID, "err", err)
		}
		resp, code = protocol.ErrorResponse{Result: protocol.ResultOf(errors.New("streamed answer failed"))}, protocol.CodeUnknownException
	}
	status := http.StatusOK
	if code == protocol.CodeNoInterfaceDef && s.cfg.Sandbox == nil && strings.HasPrefix(path, "/sandbox/") {
		// Sandbox control calls do not exist in production (docs/design.md): a plain 404, still signed.
		status = http.StatusNotFound
	}
	body, err := json.Marshal(resp)
	if err != nil {
		s.log.ErrorContext(ctx, "encode response", "err", err)
		body, _ = json.Marshal(protocol.ErrorResponse{Result: protocol.ResultOf(err)})
		code = protocol.CodeUnknownException
	}
	s.writeSigned(ctx, w, status, r.Method, path, clientID, body)
	s.logged(ctx, path, clientID, code, start)
}

// logged writes a call's access log line and tells the metrics.
func (s *Server) logged(ctx context.Context, path, clientID string, code protocol.Code, start time.Time) {
	elapsed := time.Since(start)
	s.log.InfoContext(ctx, "api call", "path", path, "clientId", clientID,
		"resultCode", code, "ms", elapsed.Milliseconds())
	if s.cfg.Observe != nil {
		s.cfg.Observe(path, string(code), elapsed)
	}
	s.record(ctx, path, code, start, elapsed)
}

// apiPath reports whether path is under one of the signed APIs' prefixes.
func apiPath(path string) bool {
	for _, p := range []string{"/ams/", "/cardgate/", "/sandbox/"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// handleRecovering turns a panic into a signed UNKNOWN_EXCEPTION: the merchant must learn that the
// outcome is unknown (and inquire), not see a dropped connection.
func (s *Server) handleRecovering(ctx context.Context, r *http.Request, path, clientID string) (resp any, code protocol.Code) {
	defer func() {
		if v := recover(); v != nil {
			s.log.ErrorContext(ctx, "panic in handler", "path", path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			resp = protocol.ErrorResponse{Result: protocol.ResultOf(errors.New("panic"))}
			code = protocol.CodeUnknownException
		}
	}()
	return s.handle(ctx, r, path, clientID)
}

func (s *Server) handle(ctx context.Context, r *http.Request, path, clientID string) (any, protocol.Code) {
	fail := func(err error) (any, protocol.Code) {
		res := protocol.ResultOf(err)
		if res.ResultCode == string(protocol.CodeUnknownException) {
			s.log.ErrorContext(ctx, "internal error", "path", path, "clientId", clientID, "err", err)
		}
		return protocol.ErrorResponse{Result: res}, protocol.Code(res.ResultCode)
	}
	ep, ok := s.route(path)
	if !ok {
		return fail(protocol.Errorf(protocol.CodeNoInterfaceDef, "no API is defined at %s", path))
	}
	if r.Method != http.MethodPost {
		return fail(protocol.Errorf(protocol.CodeMethodNotSupported, "%s is not supported, use POST", r.Method))
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, s.bodyLimit(path)))
	if err != nil {
		return fail(s.badBody(ctx, path, clientID, err))
	}
	m, err := s.authenticate(ctx, r, path, clientID, body)
	if err != nil {
		return fail(err)
	}
	if c := callerOf(ctx); c != nil {
		c.merchantID = m.ClientID
	}
	resp, err := ep(ctx, m, body)
	if err != nil {
		return fail(err)
	}
	return resp, resultCodeOf(resp)
}

// bodyLimit is the largest body a call may send: a defense document is a whole file in base64
// (up to disputes.MaxEvidence before encoding), every other call a small JSON object.
func (s *Server) bodyLimit(path string) int64 {
	if s.cfg.Disputes != nil && strings.HasSuffix(path, protocol.PathSupplyDefenseDocument) {
		return int64(base64.StdEncoding.EncodedLen(disputes.MaxEvidence)) + s.cfg.MaxBodyBytes
	}
	return s.cfg.MaxBodyBytes
}

// badBody counts and logs a body that could not be read, and says what the client did wrong.
func (s *Server) badBody(ctx context.Context, path, clientID string, err error) error {
	reason, refusal := BodyAborted, protocol.Errorf(protocol.CodeParamIllegal, "request body was cut short before its end")
	var (
		tooBig *http.MaxBytesError
		ne     net.Error
	)
	switch {
	case errors.As(err, &tooBig):
		reason, refusal = BodyTooLarge, protocol.Errorf(protocol.CodeParamIllegal, "request body exceeds %d bytes", s.cfg.MaxBodyBytes)
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		reason, refusal = BodyTimeout, protocol.Errorf(protocol.CodeParamIllegal, "request body did not arrive within the server's read timeout")
	}
	s.log.InfoContext(ctx, "request body not read", "path", path, "clientId", clientID, "reason", reason, "err", err)
	if s.cfg.BadBody != nil {
		s.cfg.BadBody(reason)
	}
	return refusal
}

// resultCodeOf reads the result code of any response for the access log: every response type
// has a Result field (docs/wire.md §3).
func resultCodeOf(resp any) protocol.Code {
	if _, ok := resp.(streamed); ok {
		return protocol.CodeSuccess // a report, whose result is success once it is written
	}
	v := reflect.Indirect(reflect.ValueOf(resp))
	if v.Kind() == reflect.Struct {
		if f := v.FieldByName("Result"); f.IsValid() {
			if r, ok := f.Interface().(protocol.Result); ok {
				return protocol.Code(r.ResultCode)
			}
		}
	}
	return ""
}

// route strips the live or sandbox prefix and finds the endpoint.
func (s *Server) route(path string) (endpoint, bool) {
	if ep, ok := s.sandbox[path]; ok {
		return ep, true
	}
	if ep, ok := s.own[path]; ok {
		return ep, true
	}
	for _, prefix := range []string{protocol.PrefixLive, protocol.PrefixSandbox} {
		if rest, ok := strings.CutPrefix(path, prefix); ok {
			ep, ok := s.endpoints[rest]
			return ep, ok
		}
	}
	return nil, false
}

// writeSigned writes an HTTP 200 whose body is signed with the gateway key. Header names are
// lowercase because the Python SDK looks them up case-sensitively and PHP by substring; they are
// set by direct map assignment since Header.Set would canonicalise them (docs/wire.md §2.6).
// Content-Type goes through Set: a lowercase map key is invisible to net/http, which would then
// add a second Content-Type of its own.
func (s *Server) writeSigned(ctx context.Context, w http.ResponseWriter, status int, method, path, clientID string, body []byte) {
	respTime := protocol.FormatTime(s.wall.Now())
	sig, err := protocol.SignWith(s.gateway.SignerOrKey(), protocol.SigningContent(method, path, clientID, respTime, body))
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h["client-id"] = []string{clientID}
	h["response-time"] = []string{respTime}
	if err == nil {
		h["signature"] = []string{protocol.SignatureHeader{KeyVersion: s.gateway.Version, Signature: sig}.String()}
	} else {
		s.log.ErrorContext(ctx, "sign response", "err", err)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
