package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/reports"
	"github.com/cardgate/cardgate/protocol"
)

// report serves /cardgate/v1/reports/transactions and /settlement: {"date","format"} → the
// merchant's report of that day (docs/reports.md). The request is checked here, before anything
// is written, so that a bad date or format is the usual signed PARAM_ILLEGAL; the report itself
// is written by ServeHTTP (streamed).
func (s *Server) report(kind reports.Kind) endpoint {
	return func(_ context.Context, m merchant.Merchant, body []byte) (any, error) {
		var req protocol.ReportRequest
		if err := decode(body, &req); err != nil {
			return nil, err
		}
		return s.cfg.Reports.Prepare(m.ClientID, kind, req)
	}
}

// streamed is an answer too large to build in memory (a day's report): ServeHTTP writes it to a
// spool file, hashing it on the way for the signature, then sends the file.
type streamed interface {
	ContentType() string
	WriteTo(ctx context.Context, w io.Writer) error
}

// streamWriteTimeout replaces the server's write timeout for a streamed answer: a large day
// takes longer to make and to send than any other answer (the server's 35 s would cut it off).
const streamWriteTimeout = 15 * time.Minute

// writeStreamed spools body, signs it and sends it; an error means nothing was sent, so the
// caller can still answer with a signed error. The signature header must precede a body it
// covers: holding the answer in memory to sign it would take a day's report of memory per call,
// so it goes to a temporary file instead, unlinked at once where the system allows (nothing is
// left behind by a crash) and closed when sent. The file holds the merchant's own report only
// while it is being sent.
func (s *Server) writeStreamed(ctx context.Context, w http.ResponseWriter, method, path, clientID string, body streamed) (err error) {
	defer func() {
		if v := recover(); v != nil {
			s.log.ErrorContext(ctx, "panic writing a streamed answer", "path", path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			err = errors.New("panic")
		}
	}()
	rc := http.NewResponseController(w)
	if err := rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("write deadline: %w", err)
	}
	f, err := os.CreateTemp(s.cfg.SpoolDir, "cardgate-answer-*")
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	name := f.Name()
	unlinked := os.Remove(name) == nil
	defer func() {
		f.Close()
		if !unlinked {
			os.Remove(name)
		}
	}()
	respTime := protocol.FormatTime(s.wall.Now())
	h := protocol.ContentHash(method, path, clientID, respTime)
	if err := body.WriteTo(ctx, io.MultiWriter(f, h)); err != nil {
		return err
	}
	sig, err := protocol.SignHashWith(s.gateway.SignerOrKey(), h)
	if err != nil {
		return err
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	hd := w.Header()
	hd.Set("Content-Type", body.ContentType())
	hd.Set("Content-Length", strconv.FormatInt(size, 10))
	hd["client-id"] = []string{clientID}
	hd["response-time"] = []string{respTime}
	hd["signature"] = []string{protocol.SignatureHeader{KeyVersion: s.gateway.Version, Signature: sig}.String()}
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, f); err != nil {
		// The headers are gone: the client sees a short body, which fails its signature check.
		s.log.InfoContext(ctx, "streamed answer cut short", "path", path, "clientId", clientID, "err", err)
	}
	return nil
}
