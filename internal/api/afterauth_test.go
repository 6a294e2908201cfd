package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cardgate/cardgate/protocol"
)

const (
	liveCapture       = protocol.PrefixLive + protocol.PathCapture
	liveCancel        = protocol.PrefixLive + protocol.PathCancel
	liveRefund        = protocol.PrefixLive + protocol.PathRefund
	liveInquiryRefund = protocol.PrefixLive + protocol.PathInquiryRefund
	sandboxCapture    = protocol.PrefixSandbox + protocol.PathCapture
	clockAdvance      = protocol.PathSandboxClockAdvance

	captureFailsCard   = "4000000000000036" // every capture fails PROCESS_FAIL
	captureDelayedCard = "4000000000000028" // a capture stays in process for a minute
	neverAnswersCard   = "4000000000000044" // the acquirer never answers
)

// payManual pays with card under MANUAL capture and returns the paymentId.
func (s *stack) payManual(t testing.TB, requestID, card string) string {
	t.Helper()
	req := payRequest(t, requestID)
	setPath(req, "paymentFactor.captureMode", "MANUAL")
	setPath(req, "paymentMethod.paymentMethodMetaData.cardNo", card)
	r := s.pay(t, req)
	if r.status() == "F" {
		t.Fatalf("pay %s: %s", card, r.raw)
	}
	return str(r.body, "paymentId")
}

func captureBody(requestID, paymentID, value string) map[string]any {
	return map[string]any{"captureRequestId": requestID, "paymentId": paymentID,
		"captureAmount": map[string]any{"currency": "SGD", "value": value}}
}

func refundBody(requestID, paymentID, value string) map[string]any {
	return map[string]any{"refundRequestId": requestID, "paymentId": paymentID,
		"refundAmount": map[string]any{"currency": "SGD", "value": value}, "refundReason": "returned"}
}

// TestGoldenAfterAuthorization pins the wire shape of capture, cancel, refund and inquiryRefund
// answers, and of an inquiry that lists transactions, against seeds 002, 003 and 004.
func TestGoldenAfterAuthorization(t *testing.T) {
	s := newStack(t)

	t.Run("capture", func(t *testing.T) {
		id := s.payManual(t, "golden-capture", approvedCard)
		r := s.call(t, liveCapture, mustJSON(t, captureBody("golden-capture-1", id, "4200")))
		expectResult(t, r, "SUCCESS", "S")
		checkGolden(t, "capture-approved", r)
		if str(r.body, "paymentId") != id || str(r.body, "captureRequestId") != "golden-capture-1" {
			t.Errorf("capture answer names %s / %s", str(r.body, "paymentId"), str(r.body, "captureRequestId"))
		}
		// A replay is the first answer, byte for byte apart from the signature.
		again := s.call(t, liveCapture, mustJSON(t, captureBody("golden-capture-1", id, "4200")))
		expectSameAnswer(t, r, again)
	})
	t.Run("capture-failed", func(t *testing.T) {
		id := s.payManual(t, "golden-capture-failed", captureFailsCard)
		r := s.call(t, liveCapture, mustJSON(t, captureBody("golden-capture-failed-1", id, "4200")))
		expectResult(t, r, "PROCESS_FAIL", "F")
		checkGolden(t, "capture-failed", r)
		inq := s.inquire(t, map[string]any{"paymentId": id})
		expectResult(t, inq, "SUCCESS", "S")
		checkGolden(t, "inquiry-capture-failed", inq)
	})
	t.Run("capture-in-process", func(t *testing.T) {
		id := s.payManual(t, "golden-capture-processing", captureDelayedCard)
		r := s.call(t, liveCapture, mustJSON(t, captureBody("golden-capture-processing-1", id, "4200")))
		expectResult(t, r, "CAPTURE_IN_PROCESS", "U")
		checkGolden(t, "capture-in-process", r)
		inq := s.inquire(t, map[string]any{"paymentId": id})
		checkGolden(t, "inquiry-capture-in-process", inq)
	})
	t.Run("refund and inquiry with transactions", func(t *testing.T) {
		id := s.payManual(t, "golden-refund", approvedCard)
		expectResult(t, s.call(t, liveCapture, mustJSON(t, captureBody("golden-refund-capture", id, "4200"))), "SUCCESS", "S")
		r := s.call(t, liveRefund, mustJSON(t, refundBody("golden-refund-1", id, "1000")))
		expectResult(t, r, "SUCCESS", "S")
		checkGolden(t, "refund", r)
		refundID := str(r.body, "refundId")

		for name, req := range map[string]map[string]any{
			"inquiry-refund":             {"refundRequestId": "golden-refund-1"},
			"inquiry-refund-by-refundId": {"refundId": refundID},
		} {
			ir := s.call(t, liveInquiryRefund, mustJSON(t, req))
			expectResult(t, ir, "SUCCESS", "S")
			if str(ir.body, "refundId") != refundID || str(ir.body, "refundStatus") != "SUCCESS" {
				t.Errorf("%s: %s", name, ir.raw)
			}
			checkGolden(t, "inquiry-refund", ir)
		}

		inq := s.inquire(t, map[string]any{"paymentRequestId": "golden-refund"})
		expectResult(t, inq, "SUCCESS", "S")
		checkGolden(t, "inquiry-transactions", inq)
		txns, _ := getPath(inq.body, "transactions").([]any)
		var kinds []string
		for _, x := range txns {
			m := x.(map[string]any)
			kinds = append(kinds, str(m, "transactionType")+"/"+str(m, "transactionStatus")+"/"+str(m, "transactionAmount.value"))
		}
		if strings.Join(kinds, " ") != "CAPTURE/SUCCESS/4200 REFUND/SUCCESS/1000" {
			t.Errorf("transactions %v, want the capture then the refund", kinds)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		id := s.payManual(t, "golden-cancel", approvedCard)
		r := s.call(t, liveCancel, mustJSON(t, map[string]any{"paymentId": id}))
		expectResult(t, r, "SUCCESS", "S")
		checkGolden(t, "cancel", r)
		// Cancel again, by paymentRequestId: the same answer.
		again := s.call(t, liveCancel, mustJSON(t, map[string]any{"paymentRequestId": "golden-cancel"}))
		expectSameAnswer(t, r, again)
		inq := s.inquire(t, map[string]any{"paymentId": id})
		expectResult(t, inq, "SUCCESS", "S")
		if str(inq.body, "paymentStatus") != "CANCELLED" {
			t.Errorf("inquiry after cancel: %s", inq.raw)
		}
		checkGolden(t, "inquiry-cancelled", inq)
	})
	t.Run("refusals", func(t *testing.T) {
		id := s.payManual(t, "golden-refusals", approvedCard)
		for _, tc := range []struct {
			golden, path string
			body         map[string]any
			code         string
		}{
			{"error-refund-not-captured", liveRefund, refundBody("golden-refusals-r", id, "100"), "ORDER_STATUS_INVALID"},
			{"error-capture-amount-exceed", liveCapture, captureBody("golden-refusals-c", id, "4300"), "CAPTURE_AMOUNT_EXCEED_AUTH_LIMIT"},
			{"error-refund-not-exist", liveInquiryRefund, map[string]any{"refundRequestId": "none"}, "ORDER_NOT_EXIST"},
		} {
			before := s.counts(t)
			r := s.call(t, tc.path, mustJSON(t, tc.body))
			expectResult(t, r, tc.code, "F")
			if len(r.body) != 1 {
				t.Errorf("a refusal carries more than its result: %s", r.raw)
			}
			checkGolden(t, tc.golden, r)
			s.expectNothingStored(t, before)
		}
	})
}

// TestAfterAuthorizationOverHTTP drives the answer codes of docs/design.md's table through the HTTP
// edge, on both path prefixes; every refusal stores nothing.
func TestAfterAuthorizationOverHTTP(t *testing.T) {
	s := newStack(t)
	captured := s.payManual(t, "http-captured", approvedCard)
	cancelled := s.payManual(t, "http-cancelled", approvedCard)
	authorized := s.payManual(t, "http-authorized", otherApproved)
	declinedReq := payRequest(t, "http-declined")
	setPath(declinedReq, "paymentMethod.paymentMethodMetaData.cardNo", declinedCard)
	declined := str(s.pay(t, declinedReq).body, "paymentId")

	expectResult(t, s.call(t, sandboxCapture, mustJSON(t, captureBody("cap-1", captured, "4200"))), "SUCCESS", "S")
	expectResult(t, s.call(t, liveCancel, mustJSON(t, map[string]any{"paymentRequestId": "http-cancelled"})), "SUCCESS", "S")
	expectResult(t, s.call(t, liveRefund, mustJSON(t, refundBody("ref-1", captured, "2000"))), "SUCCESS", "S")

	for _, tc := range []struct {
		name string
		path string
		body map[string]any
		code string
	}{
		{"second capture", liveCapture, captureBody("cap-2", captured, "4200"), "MULTI_CAPTURE_NOT_SUPPORTED"},
		{"capture replay with another amount", liveCapture, captureBody("cap-1", captured, "4100"), "REPEAT_REQ_INCONSISTENT"},
		{"capture of a cancelled payment", liveCapture, captureBody("cap-3", cancelled, "4200"), "ORDER_IS_CANCELED"},
		{"capture of a declined payment", liveCapture, captureBody("cap-4", declined, "4200"), "ORDER_STATUS_INVALID"},
		{"capture below the authorized amount", liveCapture, captureBody("cap-5", authorized, "4199"), "PARAM_ILLEGAL"},
		{"capture above the authorized amount", liveCapture, captureBody("cap-6", authorized, "4201"), "CAPTURE_AMOUNT_EXCEED_AUTH_LIMIT"},
		{"capture of an unknown payment", liveCapture, captureBody("cap-7", "20260101000000000000000000000000000", "4200"), "ORDER_NOT_EXIST"},
		{"capture without captureRequestId", liveCapture, map[string]any{"paymentId": authorized, "captureAmount": map[string]any{"currency": "SGD", "value": "4200"}}, "PARAM_ILLEGAL"},
		{"capture with a string amount", liveCapture, map[string]any{"captureRequestId": "c", "paymentId": authorized, "captureAmount": "4200"}, "PARAM_ILLEGAL"},
		{"cancel of a captured payment", liveCancel, map[string]any{"paymentId": captured}, "ORDER_STATUS_INVALID"},
		{"cancel of a declined payment", liveCancel, map[string]any{"paymentId": declined}, "ORDER_STATUS_INVALID"},
		{"cancel naming nothing", liveCancel, map[string]any{}, "PARAM_ILLEGAL"},
		{"refund above the remainder", liveRefund, refundBody("ref-2", captured, "2201"), "REFUND_AMOUNT_EXCEED"},
		{"refund of a cancelled payment", liveRefund, refundBody("ref-3", cancelled, "100"), "ORDER_IS_CANCELED"},
		{"refund of an uncaptured payment", liveRefund, refundBody("ref-4", authorized, "100"), "ORDER_STATUS_INVALID"},
		{"refund replay with another amount", liveRefund, refundBody("ref-1", captured, "1999"), "REPEAT_REQ_INCONSISTENT"},
		{"refund with a bad notify URL", liveRefund, map[string]any{"refundRequestId": "ref-5", "paymentId": captured,
			"refundAmount": map[string]any{"currency": "SGD", "value": "1"}, "refundNotifyUrl": "javascript:alert(1)"}, "PARAM_ILLEGAL"},
		{"inquiryRefund naming nothing", liveInquiryRefund, map[string]any{}, "PARAM_ILLEGAL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := s.counts(t)
			r := s.call(t, tc.path, mustJSON(t, tc.body))
			expectResult(t, r, tc.code, "F")
			s.expectNothingStored(t, before)
		})
	}
	// The exact remainder still fits after all those refusals.
	expectResult(t, s.call(t, liveRefund, mustJSON(t, refundBody("ref-6", captured, "2200"))), "SUCCESS", "S")
}

// TestClockAdvance: POST /sandbox/v1/clock/advance moves the sandbox clock, runs what became due,
// and answers {"result":{…"S"},"now":"<RFC 3339>"}; the offset is kept in the store.
func TestClockAdvance(t *testing.T) {
	s := newSandboxStack(t)
	ctx := context.Background()
	never := s.payManual(t, "clock-never", neverAnswersCard)

	advance := func(t *testing.T, d string) response {
		t.Helper()
		return s.call(t, clockAdvance, mustJSON(t, map[string]any{"duration": d}))
	}
	status := func(t *testing.T) string {
		t.Helper()
		return str(s.inquire(t, map[string]any{"paymentId": never}).body, "paymentStatus")
	}

	before := time.Now()
	r := advance(t, "13m")
	expectResult(t, r, "SUCCESS", "S")
	checkGolden(t, "clock-advance", r)
	now, err := time.Parse(time.RFC3339, str(r.body, "now"))
	if err != nil {
		t.Fatalf("now %q: %v", str(r.body, "now"), err)
	}
	if lo, hi := before.Add(13*time.Minute-time.Second), time.Now().Add(13*time.Minute+time.Second); now.Before(lo) || now.After(hi) {
		t.Errorf("now %v, want wall time + 13m (%v … %v)", now, lo, hi)
	}
	if off, _, err := s.store.ClockOffset(ctx); err != nil || off < 13*time.Minute-time.Second || off > 13*time.Minute+time.Second {
		t.Errorf("stored offset %v, %v; want about 13m", off, err)
	}
	if got := status(t); got != "PROCESSING" {
		t.Fatalf("at +13m the never-answering payment is %s, want PROCESSING", got)
	}

	r = advance(t, "2m")
	expectResult(t, r, "SUCCESS", "S")
	inq := s.inquire(t, map[string]any{"paymentId": never})
	if str(inq.body, "paymentStatus") != "FAIL" || str(inq.body, "paymentResultCode") != "ORDER_IS_CLOSED" {
		t.Errorf("at +15m: %s", inq.raw)
	}

	// The day syntax: an authorization not captured within 7 days is voided.
	held := s.payManual(t, "clock-held", approvedCard)
	expectResult(t, advance(t, "6d23h"), "SUCCESS", "S")
	if got := str(s.inquire(t, map[string]any{"paymentId": held}).body, "paymentStatus"); got != "SUCCESS" {
		t.Errorf("at +6d23h the authorization is %s", got)
	}
	expectResult(t, advance(t, "0d1h1m"), "SUCCESS", "S")
	if got := str(s.inquire(t, map[string]any{"paymentId": held}).body, "paymentStatus"); got != "CANCELLED" {
		t.Errorf("after 7 days and a minute the authorization is %s, want CANCELLED", got)
	}
	r = advance(t, "0s")
	expectResult(t, r, "SUCCESS", "S")
	if off := s.clock.Offset(); off < 7*24*time.Hour+16*time.Minute-2*time.Second {
		t.Errorf("offset %v after 15m + 7d1m", off)
	}

	// Refusals: PARAM_ILLEGAL naming the duration; the clock does not move.
	offset := s.clock.Offset()
	for _, body := range []string{
		`{"duration":""}`, `{"duration":"-1m"}`, `{"duration":"abc"}`, `{"duration":"7x"}`, `{"duration":"7d-1m"}`,
		`{"duration":"d"}`, `{"duration":"99999999d"}`, `{}`, `{"duration":15}`, `{"duration":null}`,
	} {
		before := s.counts(t)
		r := s.call(t, clockAdvance, []byte(body))
		expectResult(t, r, "PARAM_ILLEGAL", "F")
		if !strings.Contains(r.message(), "duration") {
			t.Errorf("%s: message %q does not name duration", body, r.message())
		}
		s.expectNothingStored(t, before)
	}
	if got := s.clock.Offset(); got != offset {
		t.Errorf("refused advances moved the clock from %v to %v", offset, got)
	}
	if off, _, _ := s.store.ClockOffset(ctx); off != offset.Truncate(time.Millisecond) && off != offset {
		t.Errorf("stored offset %v, clock offset %v", off, offset)
	}

	// The call is authenticated like any other.
	body := []byte(`{"duration":"1h"}`)
	h := signedWith(t, otherKey(t), "1", clockAdvance, s.merchant.ClientID, nowMS(), body)
	expectResult(t, s.send(t, http.MethodPost, clockAdvance, h, body), "INVALID_SIGNATURE", "F")
	if got := s.clock.Offset(); got != offset {
		t.Errorf("an unsigned advance moved the clock")
	}
}

// TestClockAdvanceNotServedInProduction: without a sandbox the path does not exist: HTTP 404 with
// a signed NO_INTERFACE_DEF body, whatever the request.
func TestClockAdvanceNotServedInProduction(t *testing.T) {
	s := newStack(t)
	for _, body := range [][]byte{[]byte(`{"duration":"15m"}`), []byte(`{"duration":"abc"}`), nil} {
		hdr := s.signedHeaders(t, clockAdvance, body)
		req, err := http.NewRequest(http.MethodPost, s.srv.URL+clockAdvance, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = hdr
		resp, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("HTTP %d, want 404: %s", resp.StatusCode, raw)
		}
		if err := verifyLikeGoSDK(s.gwPub, http.MethodPost, clockAdvance, resp.Header, raw); err != nil {
			t.Errorf("404 body not signed: %v", err)
		}
		var got struct {
			Result protocol.Result `json:"result"`
		}
		if err := json.Unmarshal(raw, &got); err != nil || got.Result.ResultCode != "NO_INTERFACE_DEF" || got.Result.ResultStatus != "F" {
			t.Errorf("body %s (%v), want NO_INTERFACE_DEF", raw, err)
		}
	}
	if off, _, err := s.store.ClockOffset(context.Background()); err != nil || off != 0 {
		t.Errorf("stored offset %v, %v", off, err)
	}
}
