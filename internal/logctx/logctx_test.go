package logctx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/cardgate/cardgate/internal/logctx"
)

func TestRequestIDOnEveryLine(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(logctx.NewHandler(slog.NewJSONHandler(&buf, nil))).With("component", "payments")
	ctx := logctx.With(context.Background(), "abc123")
	log.InfoContext(ctx, "transition", "paymentId", "P1")
	log.Info("no request")
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	var first, second map[string]any
	_ = json.Unmarshal(lines[0], &first)
	_ = json.Unmarshal(lines[1], &second)
	if first["requestId"] != "abc123" || first["component"] != "payments" || first["paymentId"] != "P1" {
		t.Errorf("with a request: %s", lines[0])
	}
	if _, ok := second["requestId"]; ok {
		t.Errorf("without a request: %s", lines[1])
	}
	if len(logctx.NewID()) != 16 || logctx.NewID() == logctx.NewID() {
		t.Error("request ids are 16 hex digits, each new")
	}
}
