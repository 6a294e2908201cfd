package antom

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/protocol"
)

// Notice is one verified upstream notification (docs/wire.md §7.2), mapped like the answer it
// completes.
type Notice struct {
	// Type is notifyType: protocol.NotifyTypePaymentResult, NotifyTypeCaptureResult,
	// NotifyTypeRefundResult, or another the upstream sent (empty for Antom's disputes).
	Type string
	// PaymentID is the gateway's payment id (the upstream paymentRequestId); PAYMENT_RESULT only.
	PaymentID string
	// AcquirerTransactionID is the upstream paymentId.
	AcquirerTransactionID string
	// Auth, for PAYMENT_RESULT, is the final authorization result, as InquireAuthorization gives it.
	Auth acquirer.AuthResult
	// CaptureRequestID, for CAPTURE_RESULT, is the captureRequestId this connection derived.
	CaptureRequestID string
	// RefundID, for REFUND_RESULT, is the gateway's refund id (the upstream refundRequestId).
	RefundID string
	// Op, for CAPTURE_RESULT and REFUND_RESULT, is the operation's result, with the Reference
	// InquireCapture understands.
	Op acquirer.OpResult
	// Body is the verified raw body, for types this package does not map.
	Body []byte
}

// maxNotify bounds a notification body; the largest, PAYMENT_RESULT, is a few KiB.
const maxNotify = 256 << 10

// NotifyHandler serves the route the upstream notifies (Config.NotifyURL). It verifies the
// upstream's signature as docs/wire.md §2.7 has it (over the path of the URL it was posted to,
// this gateway's client id, request-time and the raw body), calls onNotice, and acknowledges
// (§7.3) only when onNotice returns nil, so that the upstream retries otherwise. Nothing unsigned,
// or signed for another client id, reaches onNotice. The handler must see the path the upstream
// posted to: mount it without http.StripPrefix.
func (a *Acquirer) NotifyHandler(onNotice func(ctx context.Context, n Notice) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			refuse(w, http.StatusMethodNotAllowed, protocol.CodeMethodNotSupported, "notifications are POSTed")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxNotify)
		body, err := client.VerifyNotification(a.upstream, r)
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			refuse(w, http.StatusRequestEntityTooLarge, protocol.CodeParamIllegal, "notification body too large")
			return
		case errors.Is(err, client.ErrSignature):
			refuse(w, http.StatusUnauthorized, protocol.CodeInvalidSignature, "signature verification failed")
			return
		case err != nil:
			refuse(w, http.StatusBadRequest, protocol.CodeParamIllegal, "notification body unreadable")
			return
		}
		// The upstream signs every merchant's notifications with the same key: the signed client
		// id says whose this one is.
		if r.Header.Get("client-id") != a.cfg.ClientID {
			refuse(w, http.StatusUnauthorized, protocol.CodeInvalidSignature, "notification for another client id")
			return
		}
		n, err := a.notice(body)
		if err != nil {
			refuse(w, http.StatusBadRequest, protocol.CodeParamIllegal, err.Error())
			return
		}
		if err := onNotice(r.Context(), n); err != nil {
			refuse(w, http.StatusInternalServerError, protocol.CodeUnknownException, "not processed, retry")
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		_, _ = w.Write([]byte(client.Acknowledgement))
	})
}

// refuse answers anything but the acknowledgement, so the upstream counts the delivery failed.
func refuse(w http.ResponseWriter, status int, code protocol.Code, msg string) {
	body, _ := json.Marshal(protocol.ErrorResponse{Result: protocol.NewResult(code, msg)})
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// notice decodes a verified body.
func (a *Acquirer) notice(body []byte) (Notice, error) {
	var head struct {
		NotifyType string `json:"notifyType"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return Notice{}, errors.New("notification body is not JSON")
	}
	n := Notice{Type: head.NotifyType, Body: body}
	switch head.NotifyType {
	case protocol.NotifyTypePaymentResult:
		var m protocol.NotifyPayment
		if err := json.Unmarshal(body, &m); err != nil {
			return Notice{}, errors.New("PAYMENT_RESULT body does not decode")
		}
		n.PaymentID, n.AcquirerTransactionID = m.PaymentRequestID, m.PaymentID
		n.Auth = a.noticeAuth(&m)
	case protocol.NotifyTypeCaptureResult:
		var m protocol.NotifyCapture
		if err := json.Unmarshal(body, &m); err != nil {
			return Notice{}, errors.New("CAPTURE_RESULT body does not decode")
		}
		n.AcquirerTransactionID, n.CaptureRequestID = m.PaymentID, m.CaptureRequestID
		n.Op = noticeOp(m.Result, captureRef(m.PaymentID, firstNonEmpty(m.CaptureID, m.CaptureRequestID)))
	case protocol.NotifyTypeRefundResult:
		var m protocol.NotifyRefund
		if err := json.Unmarshal(body, &m); err != nil {
			return Notice{}, errors.New("REFUND_RESULT body does not decode")
		}
		n.AcquirerTransactionID, n.RefundID = m.PaymentID, m.RefundRequestID
		n.Op = noticeOp(m.Result, refundRef(m.RefundID))
	}
	return n, nil
}

// noticeAuth maps PAYMENT_RESULT. It is a final answer after pay said U, so an F is a decline
// whatever its code: failing over to another acquirer is a decision made at pay time only.
func (a *Acquirer) noticeAuth(m *protocol.NotifyPayment) acquirer.AuthResult {
	res := a.base()
	res.AcquirerTransactionID = m.PaymentID
	res.AcquirerResultCode, res.AcquirerResultMessage = m.Result.ResultCode, m.Result.ResultMessage
	switch protocol.Status(m.Result.ResultStatus) {
	case protocol.StatusSuccess:
		res.Outcome = acquirer.Approved
	case protocol.StatusFail:
		res.Outcome, res.DeclineCode, res.DeclineMsg = acquirer.Declined, protocol.Code(m.Result.ResultCode), m.Result.ResultMessage
	default:
		res.Outcome, res.RetryAfter = acquirer.Pending, pendingRetry
	}
	withResultInfo(&res, m.PaymentResultInfo, m.CardInfo)
	return res
}

// noticeOp maps CAPTURE_RESULT and REFUND_RESULT: final results, so F is a failure.
func noticeOp(r protocol.Result, ref string) acquirer.OpResult {
	switch protocol.Status(r.ResultStatus) {
	case protocol.StatusSuccess:
		return acquirer.OpResult{Status: acquirer.OpSucceeded, Reference: ref}
	case protocol.StatusFail:
		return acquirer.OpResult{Status: acquirer.OpFailed, Code: protocol.Code(r.ResultCode), Message: r.ResultMessage, Reference: ref}
	}
	return acquirer.OpResult{Status: acquirer.OpPending, Reference: ref, RetryAfter: pendingRetry}
}
