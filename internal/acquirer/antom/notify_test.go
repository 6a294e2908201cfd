package antom_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/acquirer/antom"
	"github.com/cardgate/cardgate/protocol"
)

const notifyPath = "/cardgate/v1/upstream/UPSTREAM/notify"

// notifyRoute is the gateway's side: NotifyHandler behind a real HTTP server, recording every
// request it got (to replay or tamper with) and every notice that reached onNotice.
type notifyRoute struct {
	a       *antom.Acquirer
	handler http.Handler
	notices chan antom.Notice

	mu       sync.Mutex
	requests []*http.Request // bodies kept in rawBodies
	bodies   [][]byte
}

func startNotifyRoute(t *testing.T, u *upstream) *notifyRoute {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	cfg := u.cfg
	// The query is not signed (docs/wire.md §2.7): one here checks the handler ignores it.
	cfg.NotifyURL = "http://" + srv.Listener.Addr().String() + notifyPath + "?acquirer=UPSTREAM"
	nr := &notifyRoute{a: newAcquirer(t, cfg), notices: make(chan antom.Notice, 32)}
	nr.handler = nr.a.NotifyHandler(func(_ context.Context, n antom.Notice) error {
		nr.notices <- n
		return nil
	})
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		nr.mu.Lock()
		nr.requests, nr.bodies = append(nr.requests, r.Clone(context.Background())), append(nr.bodies, body)
		nr.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		nr.handler.ServeHTTP(w, r)
	})
	srv.Start()
	t.Cleanup(srv.Close)
	return nr
}

// next waits for the upstream's notification of a type.
func (nr *notifyRoute) next(t *testing.T, notifyType string) antom.Notice {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case n := <-nr.notices:
			if n.Type == notifyType {
				return n
			}
		case <-deadline:
			t.Fatalf("no %s notification", notifyType)
		}
	}
}

// replay posts a recorded notification again to the handler, with the body changed by edit.
func (nr *notifyRoute) replay(t *testing.T, handler http.Handler, i int, edit func([]byte) []byte) *httptest.ResponseRecorder {
	t.Helper()
	nr.mu.Lock()
	orig, body := nr.requests[i], nr.bodies[i]
	nr.mu.Unlock()
	req := httptest.NewRequest(http.MethodPost, orig.URL.String(), bytes.NewReader(edit(bytes.Clone(body))))
	req.Header = orig.Header.Clone()
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	return rec
}

// TestNotificationsArriveVerified: the upstream's PAYMENT_RESULT, CAPTURE_RESULT and
// REFUND_RESULT reach onNotice, mapped as the answers they complete, and are acknowledged.
func TestNotificationsArriveVerified(t *testing.T) {
	u := startUpstream(t)
	nr := startNotifyRoute(t, u)
	a, ctx := nr.a, context.Background()

	req := authRequest(t, "4000000000000119")
	res := authorize(t, a, req)
	if res.Outcome != acquirer.Pending {
		t.Fatalf("pay: %+v", res)
	}
	u.advance(t, "6s")
	pn := nr.next(t, protocol.NotifyTypePaymentResult)
	if pn.PaymentID != req.PaymentID || pn.AcquirerTransactionID != res.AcquirerTransactionID ||
		pn.Auth.Outcome != acquirer.Approved || pn.Auth.AcquirerName != "UPSTREAM" || pn.Auth.AcquirerTransactionID != res.AcquirerTransactionID {
		t.Fatalf("PAYMENT_RESULT %+v", pn)
	}

	capt, err := a.Capture(ctx, acquirer.CaptureRequest{PaymentID: req.PaymentID, AcquirerTransactionID: res.AcquirerTransactionID, Amount: sgd(4200)})
	if err != nil || capt.Status != acquirer.OpSucceeded {
		t.Fatalf("capture: %v %+v", err, capt)
	}
	cn := nr.next(t, protocol.NotifyTypeCaptureResult)
	if cn.AcquirerTransactionID != res.AcquirerTransactionID || cn.Op.Status != acquirer.OpSucceeded || cn.Op.Reference != capt.Reference || cn.CaptureRequestID == "" {
		t.Fatalf("CAPTURE_RESULT %+v, capture %+v", cn, capt)
	}

	refundID := paymentID(t)
	ref, err := a.Refund(ctx, acquirer.RefundRequest{RefundID: refundID, AcquirerTransactionID: res.AcquirerTransactionID, Amount: sgd(1000)})
	if err != nil || ref.Status != acquirer.OpSucceeded {
		t.Fatalf("refund: %v %+v", err, ref)
	}
	rn := nr.next(t, protocol.NotifyTypeRefundResult)
	if rn.RefundID != refundID || rn.Op.Status != acquirer.OpSucceeded || rn.Op.Reference != ref.Reference {
		t.Fatalf("REFUND_RESULT %+v, refund %+v", rn, ref)
	}

	// The upstream's own log shows each delivery acknowledged (recorded just after the answer).
	deadline := time.Now().Add(10 * time.Second)
	for {
		delivered, list := deliveries(t, u, res.AcquirerTransactionID)
		if delivered == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the notifications acknowledged: %+v", delivered, list)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// deliveries counts the payment's notifications the upstream records as delivered.
func deliveries(t *testing.T, u *upstream, paymentID string) (int, []protocol.Notification) {
	t.Helper()
	body, err := json.Marshal(protocol.NotificationsListRequest{PaymentID: paymentID})
	if err != nil {
		t.Fatal(err)
	}
	r, err := u.client.Do(context.Background(), protocol.PathNotificationsList, body)
	if err != nil {
		t.Fatal(err)
	}
	var list protocol.NotificationsListResponse
	if err := json.Unmarshal(r.Body, &list); err != nil || list.Result.ResultStatus != "S" {
		t.Fatalf("notifications/list: %v %s", err, r.Body)
	}
	n := 0
	for _, no := range list.Notifications {
		if no.Status == "DELIVERED" {
			n++
		}
	}
	return n, list.Notifications
}

// TestNotificationRefused: only an intact notification signed by the upstream for this client id
// reaches onNotice and is acknowledged; anything else gets a non-acknowledgement.
func TestNotificationRefused(t *testing.T) {
	u := startUpstream(t)
	nr := startNotifyRoute(t, u)
	res := authorize(t, nr.a, authRequest(t, "4000000000000119"))
	u.advance(t, "6s")
	nr.next(t, protocol.NotifyTypePaymentResult)

	same := func(b []byte) []byte { return b }
	if rec := nr.replay(t, nr.handler, 0, same); rec.Code != http.StatusOK || rec.Body.String() != client.Acknowledgement {
		t.Fatalf("intact replay: %d %s", rec.Code, rec.Body)
	}
	if n := nr.next(t, protocol.NotifyTypePaymentResult); n.AcquirerTransactionID != res.AcquirerTransactionID {
		t.Fatalf("replayed notice %+v", n)
	}

	tamper := func(b []byte) []byte { return bytes.Replace(b, []byte(`"S"`), []byte(`"F"`), 1) }
	if rec := nr.replay(t, nr.handler, 0, tamper); rec.Code != http.StatusUnauthorized || strings.Contains(rec.Body.String(), `"SUCCESS"`) {
		t.Fatalf("tampered: %d %s", rec.Code, rec.Body)
	}

	// Signed by the upstream, but for another of its merchants.
	body := []byte(`{"notifyType":"PAYMENT_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success."},"paymentRequestId":"X","paymentId":"Y"}`)
	now := protocol.FormatTime(time.Now())
	sig, err := protocol.Sign(u.g.Key.Private, protocol.SigningContent(http.MethodPost, notifyPath, "SANDBOX_SOMEONEELSE", now, body))
	if err != nil {
		t.Fatal(err)
	}
	other := httptest.NewRequest(http.MethodPost, notifyPath, bytes.NewReader(body))
	other.Header.Set("client-id", "SANDBOX_SOMEONEELSE")
	other.Header.Set("request-time", now)
	other.Header.Set("signature", protocol.SignatureHeader{KeyVersion: "1", Signature: sig}.String())
	rec := httptest.NewRecorder()
	nr.handler.ServeHTTP(rec, other)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("another client id's notification: %d %s", rec.Code, rec.Body)
	}

	failing := nr.a.NotifyHandler(func(context.Context, antom.Notice) error { return errors.New("store down") })
	if rec := nr.replay(t, failing, 0, same); rec.Code == http.StatusOK || strings.Contains(rec.Body.String(), `"SUCCESS"`) {
		t.Fatalf("acknowledged although onNotice failed: %d %s", rec.Code, rec.Body)
	}

	get := httptest.NewRecorder()
	nr.handler.ServeHTTP(get, httptest.NewRequest(http.MethodGet, notifyPath, nil))
	if get.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", get.Code)
	}

	select {
	case n := <-nr.notices:
		t.Fatalf("a refused notification reached onNotice: %+v", n)
	default:
	}
}

// TestThreeDSCompletes: ActionRequired sends the buyer to the upstream's page; once the buyer
// passes it, the buyer returns to RedirectURL and the approval arrives as PAYMENT_RESULT.
func TestThreeDSCompletes(t *testing.T) {
	u := startUpstream(t)
	nr := startNotifyRoute(t, u)
	req := authRequest(t, approvedCard)
	req.Want3DS = true
	res := authorize(t, nr.a, req)
	if res.Outcome != acquirer.ActionRequired {
		t.Fatalf("pay: %+v", res)
	}
	buyer := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := buyer.PostForm(res.NormalURL, url.Values{"otp": {"1234"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != req.RedirectURL {
		t.Fatalf("challenge: %d to %q, want 303 to %q", resp.StatusCode, resp.Header.Get("Location"), req.RedirectURL)
	}
	n := nr.next(t, protocol.NotifyTypePaymentResult)
	if n.PaymentID != req.PaymentID || n.Auth.Outcome != acquirer.Approved || n.Auth.AuthorizationCode == "" {
		t.Fatalf("PAYMENT_RESULT %+v", n)
	}
	if inq, err := nr.a.InquireAuthorization(context.Background(), res.AcquirerTransactionID); err != nil || inq.Outcome != acquirer.Approved {
		t.Fatalf("inquiry: %v %+v", err, inq)
	}
}
