// Package antom is an acquirer.Acquirer that forwards to an Antom-compatible upstream: real Antom
// in production, another cardgate in tests. It is a merchant of the upstream: it signs its calls
// and verifies every answer with the client in client/ (docs/wire.md §2), and it takes the
// upstream's notifications through NotifyHandler (§2.7, §7).
//
// # Mapping
//
// The gateway's own payment id is the upstream paymentRequestId, so Reverse and
// InquireByReference find an authorization whose answer never arrived. "error" below means the
// method returns an error: the outcome is unknown and the gateway asks again later.
//
//	call                          upstream                              answer → result
//	Authorize                     pay: CASHIER_PAYMENT, CARD,           S → Approved (acquirer ids, paymentResultInfo)
//	                              paymentRequestId = PaymentID,         F, card or issuer code → Declined with that code
//	                              isAuthorization, captureMode MANUAL,  F, technical code (below) → Unavailable
//	                              is3DSAuthentication = Want3DS,        U PAYMENT_IN_PROCESS + normalUrl → ActionRequired
//	                              paymentNotifyUrl = NotifyURL,         U otherwise → Pending (RetryAfter 2 s)
//	                              paymentRedirectUrl = RedirectURL,     nothing sent (dial or DNS failure) → Unavailable
//	                              order.referenceOrderId = PaymentID,   REPEAT_REQ_INCONSISTENT, transport failure,
//	                              buyer = BuyerID (else MerchantID),    non-200, bad signature → error
//	                              env WEB + ClientIP
//	InquireAuthorization(id)      inquiryPayment by paymentId           SUCCESS → Approved, FAIL → Declined (paymentResultCode),
//	                                                                    PROCESSING → Pending, CANCELLED → Declined ORDER_IS_CANCELED
//	InquireByReference(ref)       inquiryPayment by paymentRequestId    as above; ORDER_NOT_EXIST or CANCELLED → acquirer.ErrNotFound
//	Capture                       capture, captureRequestId derived     S → OpSucceeded, F → OpFailed, U → OpPending;
//	                              from the request (captureRequestID)   F refusing the call → error
//	InquireCapture(reference)     capture/…: inquiryPayment's           SUCCESS → OpSucceeded, FAIL → OpFailed, PROCESSING → OpPending
//	                              transactions[]; refund/…: inquiryRefund
//	Refund                        refund, refundRequestId = RefundID,   as Capture
//	                              refundNotifyUrl = NotifyURL
//	Void(id)                      cancel by paymentId                   S → nil; already closed or failed upstream → nil
//	Reverse(ref)                  cancel by paymentRequestId            as Void; ORDER_NOT_EXIST (nothing held) → nil
//	NotifyHandler                 PAYMENT_RESULT                        S → Approved, F → Declined (any code: it is final), U → Pending
//	                              CAPTURE_RESULT, REFUND_RESULT         S → OpSucceeded, F → OpFailed, U → OpPending
//
// An inquiry or a notification never answers Unavailable: failing over to another acquirer is
// decided when pay answers, and a later F is the payment's final result.
//
// Technical F codes are those where the upstream refused the request before any card decision, so
// it holds nothing and another acquirer may take the payment: PARAM_ILLEGAL, INVALID_SIGNATURE,
// KEY_NOT_FOUND, INVALID_CLIENT, NO_INTERFACE_DEF, METHOD_NOT_SUPPORTED, ACCESS_DENIED,
// CURRENCY_NOT_SUPPORT (this acquirer's configuration, not the card) and PROCESS_FAIL (Antom's
// "general business failure", which cardgate answers when every acquirer behind it failed
// technically, docs/design.md "The sandbox test cards"). REPEAT_REQ_INCONSISTENT is an error, not
// a refusal: the upstream already holds something under the reference. Every other F code of pay
// (DO_NOT_HONOR, INVALID_CVV, CARD_NOT_SUPPORTED, ORDER_IS_CLOSED, codes this package does not
// know…) is a Declined with the upstream's code, which is final and holds nothing. On capture and
// refund the F codes that refuse the call itself (INVALID_SIGNATURE, KEY_NOT_FOUND, INVALID_CLIENT,
// NO_INTERFACE_DEF, METHOD_NOT_SUPPORTED, ACCESS_DENIED) and REPEAT_REQ_INCONSISTENT are errors,
// since failing the operation for good over the gateway's own misconfiguration would lose a
// capture the authorization still allows; any other F (PROCESS_FAIL, PARAM_ILLEGAL,
// REFUND_AMOUNT_EXCEED…) is OpFailed.
//
// # References
//
// AcquirerTransactionID is the upstream paymentId. A capture's Reference is
// "capture/<paymentId>/<captureId>" (each part path-escaped; the captureRequestId stands in for a
// captureId the answer lacked), a refund's "refund/<refundId>": InquireCapture serves both, as the
// simulator's does.
package antom

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/protocol"
)

// Config is one upstream Antom-compatible endpoint and this gateway's merchant account there.
type Config struct {
	// Name is the acquirerName shown to merchants (acquirerInfo) and in logs.
	Name string
	// URL is the upstream's base URL, e.g. "https://open-sea-global.alipay.com" (no path).
	URL string
	// ClientID is this gateway's client id at the upstream; a SANDBOX_ id calls the sandbox paths.
	ClientID string
	// PrivateKey signs the calls: bare base64 PKCS#8 (PKCS#1 and PEM are read too).
	PrivateKey string
	// UpstreamPublicKey verifies the upstream's answers and notifications: bare base64
	// SubjectPublicKeyInfo.
	UpstreamPublicKey string
	// AcquirerMerchantID is shown in acquirerInfo.acquirerMerchantId; default ClientID.
	AcquirerMerchantID string
	// NotifyURL is where the upstream sends its notifications (paymentNotifyUrl,
	// refundNotifyUrl): the route serving NotifyHandler. Empty leaves the upstream's default.
	NotifyURL string
	// HTTPClient carries the calls; default a plain client (Timeout bounds each call).
	HTTPClient *http.Client
	// Timeout bounds each upstream call; default 10 s, well inside the 15 s every SDK gives pay
	// (docs/wire.md §1.5).
	Timeout time.Duration
}

// Acquirer is a connection to one upstream.
type Acquirer struct {
	cfg      Config
	client   *client.Client
	upstream *rsa.PublicKey
}

var _ acquirer.Acquirer = (*Acquirer)(nil)

// pendingRetry is when a Pending answer is worth asking about again: Antom tells merchants to poll
// every 2 s (docs/wire.md §4.2).
const pendingRetry = 2 * time.Second

// New checks cfg and builds the connection; it makes no call.
func New(cfg Config) (*Acquirer, error) {
	if cfg.Name == "" || cfg.ClientID == "" {
		return nil, errors.New("antom: Name and ClientID are required")
	}
	if err := absoluteURL(cfg.URL); err != nil {
		return nil, fmt.Errorf("antom %s: URL: %w", cfg.Name, err)
	}
	if cfg.NotifyURL != "" {
		if err := absoluteURL(cfg.NotifyURL); err != nil {
			return nil, fmt.Errorf("antom %s: NotifyURL: %w", cfg.Name, err)
		}
	}
	if cfg.AcquirerMerchantID == "" {
		cfg.AcquirerMerchantID = cfg.ClientID
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	upstream, err := protocol.ParsePublicKey(cfg.UpstreamPublicKey)
	if err != nil {
		return nil, fmt.Errorf("antom %s: upstream public key: %w", cfg.Name, err)
	}
	c, err := client.New(client.Config{BaseURL: cfg.URL, ClientID: cfg.ClientID, PrivateKey: cfg.PrivateKey,
		GatewayPublicKey: cfg.UpstreamPublicKey, HTTPClient: cfg.HTTPClient})
	if err != nil {
		return nil, fmt.Errorf("antom %s: %w", cfg.Name, err)
	}
	return &Acquirer{cfg: cfg, client: c, upstream: upstream}, nil
}

func absoluteURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	return nil
}

// Name implements acquirer.Acquirer.
func (a *Acquirer) Name() string { return a.cfg.Name }

// errNotSent marks a call that never reached the upstream.
var errNotSent = errors.New("the request never reached the upstream")

// call posts req to the API path and decodes the verified answer into resp. Only a signed HTTP 200
// is an answer: the Antom SDKs other than Go treat any other status as a failure (docs/wire.md
// §1.5), and so does this connection.
func (a *Acquirer) call(ctx context.Context, api string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("antom %s: encode %s: %w", a.cfg.Name, api, err)
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()
	r, err := a.client.Do(ctx, a.client.Path(api), body)
	if err != nil {
		if notSent(err) {
			return fmt.Errorf("antom %s: %s: %w: %w", a.cfg.Name, api, errNotSent, err)
		}
		return fmt.Errorf("antom %s: %s: %w", a.cfg.Name, api, err)
	}
	if r.StatusCode != http.StatusOK {
		return fmt.Errorf("antom %s: %s: upstream answered HTTP %d", a.cfg.Name, api, r.StatusCode)
	}
	if err := json.Unmarshal(r.Body, resp); err != nil {
		return fmt.Errorf("antom %s: decode %s answer: %w", a.cfg.Name, api, err)
	}
	return nil
}

// notSent reports a failure to connect at all: a DNS failure or a dial error (refused,
// unreachable). A connection that was made may have carried the request, so anything later is
// an unknown outcome.
func notSent(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func wireAmount(m money.Amount) *protocol.Amount {
	return &protocol.Amount{Currency: m.Currency.Code, Value: m.Value()}
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// payRequest is the upstream pay for an authorization (see the package doc's table).
func (a *Acquirer) payRequest(req acquirer.AuthRequest) *protocol.PayRequest {
	buyer := req.BuyerID
	if buyer == "" {
		buyer = req.MerchantID
	}
	meta := &protocol.CardMetaData{
		CardNo:              req.Card.Digits(),
		ExpiryYear:          strconv.Itoa(req.Expiry.Year),
		ExpiryMonth:         twoDigits(req.Expiry.Month),
		CVV:                 req.CVV,
		Is3DSAuthentication: req.Want3DS,
	}
	if req.HolderName != "" {
		first, last, _ := strings.Cut(req.HolderName, " ")
		meta.CardholderName = &protocol.UserName{FirstName: first, LastName: last, FullName: req.HolderName}
	}
	meta.SelectedCardBrand = string(req.SelectedBrand)
	l := req.Local
	meta.DateOfBirth, meta.CardPasswordDigest, meta.BusinessNo, meta.CPF, meta.PayerEmail = l.DateOfBirth, l.CardPasswordDigest, l.BusinessNo, l.CPF, l.PayerEmail
	if req.MIT {
		// A merchant-initiated payment: the upstream needs the card-on-file flag, the first
		// payment's network id and the MIT's kind (cardgate's mitType, docs/wire.md §5.3).
		meta.IsCardOnFile, meta.NetworkTransactionID, meta.MITType = true, req.InitialNetworkTransactionID, req.MITType
	}
	return &protocol.PayRequest{
		ProductCode:        "CASHIER_PAYMENT",
		PaymentRequestID:   req.PaymentID,
		PaymentAmount:      wireAmount(req.Amount),
		PaymentMethod:      &protocol.PaymentMethod{PaymentMethodType: "CARD", PaymentMethodMetaData: meta},
		PaymentRedirectURL: req.RedirectURL,
		PaymentNotifyURL:   a.cfg.NotifyURL,
		// MANUAL: the gateway in front captures itself, when its merchant asks or at once.
		PaymentFactor: &protocol.PaymentFactor{IsAuthorization: true, CaptureMode: "MANUAL"},
		Order: &protocol.Order{
			ReferenceOrderID: req.PaymentID,
			// Required upstream; the gateway's merchant's own order stays with the gateway.
			OrderDescription: "Payment " + req.PaymentID,
			OrderAmount:      wireAmount(req.Amount),
			Buyer:            &protocol.Buyer{ReferenceBuyerID: buyer},
		},
		Env:           &protocol.Env{TerminalType: "WEB", ClientIP: req.ClientIP},
		CreditPayPlan: req.CreditPayPlan,
	}
}

// refusedCall lists the F codes that refuse the call itself (this gateway's credentials or the
// upstream's interface), whatever it asked for.
var refusedCall = map[protocol.Code]bool{
	protocol.CodeInvalidSignature:   true,
	protocol.CodeKeyNotFound:        true,
	protocol.CodeInvalidClient:      true,
	protocol.CodeNoInterfaceDef:     true,
	protocol.CodeMethodNotSupported: true,
	protocol.CodeAccessDenied:       true,
}

// technical reports the F codes of pay after which the upstream holds nothing and made no card
// decision (the package doc says why each is here).
func technical(c protocol.Code) bool {
	switch c {
	case protocol.CodeParamIllegal, protocol.CodeCurrencyNotSupport, protocol.CodeProcessFail:
		return true
	}
	return refusedCall[c]
}

// Authorize implements acquirer.Acquirer.
func (a *Acquirer) Authorize(ctx context.Context, req acquirer.AuthRequest) (acquirer.AuthResult, error) {
	if req.PaymentID == "" {
		return acquirer.AuthResult{}, fmt.Errorf("antom %s: authorization without a payment reference", a.cfg.Name)
	}
	var resp protocol.PayResponse
	if err := a.call(ctx, protocol.PathPay, a.payRequest(req), &resp); err != nil {
		if errors.Is(err, errNotSent) {
			res := a.base()
			res.Outcome, res.AcquirerResultMessage = acquirer.Unavailable, err.Error()
			return res, nil
		}
		return acquirer.AuthResult{}, err
	}
	if resp.PaymentRequestID != "" && resp.PaymentRequestID != req.PaymentID {
		return acquirer.AuthResult{}, fmt.Errorf("antom %s: pay of %s answered for %q", a.cfg.Name, req.PaymentID, resp.PaymentRequestID)
	}
	return a.payResult(&resp)
}

// payResult maps pay's answer.
func (a *Acquirer) payResult(resp *protocol.PayResponse) (acquirer.AuthResult, error) {
	res := a.base()
	res.AcquirerTransactionID = resp.PaymentID
	res.AcquirerResultCode, res.AcquirerResultMessage = resp.Result.ResultCode, resp.Result.ResultMessage
	code := protocol.Code(resp.Result.ResultCode)
	switch protocol.Status(resp.Result.ResultStatus) {
	case protocol.StatusSuccess:
		res.Outcome = acquirer.Approved
		withResultInfo(&res, resp.PaymentResultInfo, nil)
	case protocol.StatusFail:
		switch {
		case code == protocol.CodeRepeatReqInconsistent:
			return acquirer.AuthResult{}, fmt.Errorf("antom %s: pay: the upstream holds another payment under this reference: %s", a.cfg.Name, resp.Result.ResultMessage)
		case technical(code):
			res.Outcome = acquirer.Unavailable
		default:
			res.Outcome, res.DeclineCode, res.DeclineMsg = acquirer.Declined, code, resp.Result.ResultMessage
			withResultInfo(&res, resp.PaymentResultInfo, nil)
		}
	case protocol.StatusUnknown:
		normal := resp.NormalURL
		if normal == "" && resp.RedirectActionForm != nil {
			normal = resp.RedirectActionForm.RedirectURL
		}
		if code == protocol.CodePaymentInProcess && normal != "" {
			// The buyer is on the upstream's page: ask again as often as Antom tells merchants
			// to poll, so the answer follows the buyer's code within seconds.
			res.Outcome, res.NormalURL, res.RetryAfter = acquirer.ActionRequired, normal, pendingRetry
		} else {
			res.Outcome, res.RetryAfter = acquirer.Pending, pendingRetry
		}
	default:
		return acquirer.AuthResult{}, fmt.Errorf("antom %s: pay answered resultStatus %q", a.cfg.Name, resp.Result.ResultStatus)
	}
	return res, nil
}

func (a *Acquirer) base() acquirer.AuthResult {
	return acquirer.AuthResult{AcquirerName: a.cfg.Name, AcquirerMerchantID: a.cfg.AcquirerMerchantID}
}

// withResultInfo copies what the upstream learnt about the card.
func withResultInfo(res *acquirer.AuthResult, info *protocol.PaymentResultInfo, card *protocol.CardInfo) {
	if info == nil && card != nil {
		info = &protocol.PaymentResultInfo{Funding: card.Funding, IssuingCountry: card.IssuingCountry,
			AVSResultRaw: card.AVSResultRaw, CVVResultRaw: card.CVVResultRaw, NetworkTransactionID: card.NetworkTransactionID}
	}
	if info == nil {
		return
	}
	res.NetworkTransactionID = info.NetworkTransactionID
	res.AuthorizationCode = info.AuthorizationCode
	res.AVSResult, res.CVVResult = info.AVSResultRaw, info.CVVResultRaw
	res.RefusalCodeRaw, res.RefusalReasonRaw = info.RefusalCodeRaw, info.RefusalReasonRaw
	res.Funding, res.IssuingCountry, res.IssuerName, res.Category = info.Funding, info.IssuingCountry, info.IssuerName, info.CardCategory
}

// inquire asks for a payment; ORDER_NOT_EXIST is acquirer.ErrNotFound.
func (a *Acquirer) inquire(ctx context.Context, req *protocol.InquiryPaymentRequest) (*protocol.InquiryPaymentResponse, error) {
	var resp protocol.InquiryPaymentResponse
	if err := a.call(ctx, protocol.PathInquiryPayment, req, &resp); err != nil {
		return nil, err
	}
	switch {
	case resp.Result.ResultCode == string(protocol.CodeOrderNotExist):
		return nil, fmt.Errorf("antom %s: inquiryPayment: %w", a.cfg.Name, acquirer.ErrNotFound)
	case resp.Result.ResultStatus != string(protocol.StatusSuccess):
		return nil, fmt.Errorf("antom %s: inquiryPayment: %s/%s %s", a.cfg.Name, resp.Result.ResultStatus, resp.Result.ResultCode, resp.Result.ResultMessage)
	}
	return &resp, nil
}

// inquiryResult maps a payment's state as inquiryPayment shows it.
func (a *Acquirer) inquiryResult(resp *protocol.InquiryPaymentResponse) (acquirer.AuthResult, error) {
	res := a.base()
	res.AcquirerTransactionID = resp.PaymentID
	res.AcquirerResultCode, res.AcquirerResultMessage = resp.PaymentResultCode, resp.PaymentResultMessage
	switch resp.PaymentStatus {
	case "SUCCESS":
		res.Outcome = acquirer.Approved
		withResultInfo(&res, resp.PaymentResultInfo, resp.CardInfo)
	case "FAIL":
		res.Outcome = acquirer.Declined
		res.DeclineCode, res.DeclineMsg = protocol.Code(resp.PaymentResultCode), resp.PaymentResultMessage
		if res.DeclineCode == "" {
			res.DeclineCode = protocol.CodeProcessFail
		}
		withResultInfo(&res, resp.PaymentResultInfo, resp.CardInfo)
	case "CANCELLED":
		res.Outcome = acquirer.Declined
		res.DeclineCode, res.DeclineMsg = protocol.CodeOrderIsCanceled, "The payment was cancelled at the acquirer."
	case "PROCESSING":
		res.Outcome, res.RetryAfter = acquirer.Pending, pendingRetry
	default:
		return acquirer.AuthResult{}, fmt.Errorf("antom %s: inquiryPayment answered paymentStatus %q", a.cfg.Name, resp.PaymentStatus)
	}
	return res, nil
}

// InquireAuthorization implements acquirer.Acquirer.
func (a *Acquirer) InquireAuthorization(ctx context.Context, id string) (acquirer.AuthResult, error) {
	if id == "" {
		return acquirer.AuthResult{}, fmt.Errorf("antom %s: inquiry without the upstream paymentId", a.cfg.Name)
	}
	resp, err := a.inquire(ctx, &protocol.InquiryPaymentRequest{PaymentID: id})
	if err != nil {
		return acquirer.AuthResult{}, err
	}
	return a.inquiryResult(resp)
}

// InquireByReference implements acquirer.Acquirer. A payment cancelled upstream (reversed) holds
// nothing, which the interface spells ErrNotFound, as the simulator does for a reversed reference.
func (a *Acquirer) InquireByReference(ctx context.Context, paymentID string) (acquirer.AuthResult, error) {
	if paymentID == "" {
		return acquirer.AuthResult{}, fmt.Errorf("antom %s: inquiry without a payment reference", a.cfg.Name)
	}
	resp, err := a.inquire(ctx, &protocol.InquiryPaymentRequest{PaymentRequestID: paymentID})
	if err != nil {
		return acquirer.AuthResult{}, err
	}
	if resp.PaymentStatus == "CANCELLED" {
		return acquirer.AuthResult{}, fmt.Errorf("antom %s: payment %s was cancelled: %w", a.cfg.Name, paymentID, acquirer.ErrNotFound)
	}
	return a.inquiryResult(resp)
}

// captureRequestID derives the upstream captureRequestId from the request, so that the gateway's
// retry of the same capture (after an unknown outcome) is a replay upstream, never a second one.
func captureRequestID(req acquirer.CaptureRequest) string {
	h := sha256.Sum256([]byte(req.PaymentID + "\x00" + req.AcquirerTransactionID + "\x00" + req.Amount.Currency.Code + "\x00" + req.Amount.Value()))
	return "CAP" + hex.EncodeToString(h[:20]) // 43 characters: within the wire's 64
}

func captureRef(paymentID, captureID string) string {
	return "capture/" + url.PathEscape(paymentID) + "/" + url.PathEscape(captureID)
}

func refundRef(refundID string) string { return "refund/" + url.PathEscape(refundID) }

// shownRef is the upstream's own id inside a Reference (the captureId or refundId), which the
// merchant sees as acquirerReferenceNo and can find in the upstream's reports.
func shownRef(ref string) string {
	kind, rest, _ := strings.Cut(ref, "/")
	if kind == "capture" {
		_, rest, _ = strings.Cut(rest, "/")
	}
	if id, err := url.PathUnescape(rest); err == nil {
		return id
	}
	return ""
}

// withRef fills a result's references.
func withRef(r acquirer.OpResult, ref string) acquirer.OpResult {
	r.Reference = ref
	if ref != "" {
		r.ReferenceNo = shownRef(ref)
	}
	return r
}

// opResult maps a capture's or refund's answer.
func (a *Acquirer) opResult(api string, r protocol.Result, ref string) (acquirer.OpResult, error) {
	code := protocol.Code(r.ResultCode)
	switch protocol.Status(r.ResultStatus) {
	case protocol.StatusSuccess:
		return withRef(acquirer.OpResult{Status: acquirer.OpSucceeded}, ref), nil
	case protocol.StatusFail:
		if refusedCall[code] || code == protocol.CodeRepeatReqInconsistent {
			return acquirer.OpResult{}, fmt.Errorf("antom %s: %s refused: %s %s", a.cfg.Name, api, r.ResultCode, r.ResultMessage)
		}
		return withRef(acquirer.OpResult{Status: acquirer.OpFailed, Code: code, Message: r.ResultMessage}, ref), nil
	case protocol.StatusUnknown:
		return withRef(acquirer.OpResult{Status: acquirer.OpPending, RetryAfter: pendingRetry}, ref), nil
	}
	return acquirer.OpResult{}, fmt.Errorf("antom %s: %s answered resultStatus %q", a.cfg.Name, api, r.ResultStatus)
}

// Capture implements acquirer.Acquirer.
func (a *Acquirer) Capture(ctx context.Context, req acquirer.CaptureRequest) (acquirer.OpResult, error) {
	reqID := captureRequestID(req)
	var resp protocol.CaptureResponse
	err := a.call(ctx, protocol.PathCapture, &protocol.CaptureRequest{CaptureRequestID: reqID,
		PaymentID: req.AcquirerTransactionID, CaptureAmount: wireAmount(req.Amount)}, &resp)
	if err != nil {
		return acquirer.OpResult{}, err
	}
	id := resp.CaptureID
	if id == "" {
		id = reqID
	}
	return a.opResult("capture", resp.Result, captureRef(req.AcquirerTransactionID, id))
}

// Refund implements acquirer.Acquirer.
func (a *Acquirer) Refund(ctx context.Context, req acquirer.RefundRequest) (acquirer.OpResult, error) {
	var resp protocol.RefundResponse
	err := a.call(ctx, protocol.PathRefund, &protocol.RefundRequest{RefundRequestID: req.RefundID,
		PaymentID: req.AcquirerTransactionID, RefundAmount: wireAmount(req.Amount), RefundNotifyURL: a.cfg.NotifyURL}, &resp)
	if err != nil {
		return acquirer.OpResult{}, err
	}
	ref := ""
	if resp.RefundID != "" {
		ref = refundRef(resp.RefundID)
	}
	return a.opResult("refund", resp.Result, ref)
}

// InquireCapture implements acquirer.Acquirer for both kinds of Reference.
func (a *Acquirer) InquireCapture(ctx context.Context, reference string) (acquirer.OpResult, error) {
	kind, rest, _ := strings.Cut(reference, "/")
	switch kind {
	case "capture":
		pidEsc, cidEsc, ok := strings.Cut(rest, "/")
		pid, err1 := url.PathUnescape(pidEsc)
		cid, err2 := url.PathUnescape(cidEsc)
		if !ok || err1 != nil || err2 != nil || pid == "" || cid == "" {
			break
		}
		resp, err := a.inquire(ctx, &protocol.InquiryPaymentRequest{PaymentID: pid})
		if err != nil {
			return acquirer.OpResult{}, err
		}
		for _, t := range resp.Transactions {
			if t.TransactionType == "CAPTURE" && (t.TransactionID == cid || t.TransactionRequestID == cid) {
				var r protocol.Result
				if t.TransactionResult != nil {
					r = *t.TransactionResult
				}
				return a.txnResult(t.TransactionStatus, r, captureRef(pid, firstNonEmpty(t.TransactionID, cid)))
			}
		}
		return acquirer.OpResult{}, fmt.Errorf("antom %s: payment %s shows no capture %s", a.cfg.Name, pid, cid)
	case "refund":
		rid, err := url.PathUnescape(rest)
		if err != nil || rid == "" {
			break
		}
		var resp protocol.InquiryRefundResponse
		if err := a.call(ctx, protocol.PathInquiryRefund, &protocol.InquiryRefundRequest{RefundID: rid}, &resp); err != nil {
			return acquirer.OpResult{}, err
		}
		if resp.Result.ResultStatus != string(protocol.StatusSuccess) {
			return acquirer.OpResult{}, fmt.Errorf("antom %s: inquiryRefund %s: %s %s", a.cfg.Name, rid, resp.Result.ResultCode, resp.Result.ResultMessage)
		}
		return a.txnResult(resp.RefundStatus, protocol.Result{}, reference)
	}
	return acquirer.OpResult{}, fmt.Errorf("antom %s: unknown reference %q", a.cfg.Name, reference)
}

// txnResult maps a transaction's status (SUCCESS, FAIL, PROCESSING) and its own result.
func (a *Acquirer) txnResult(status string, r protocol.Result, ref string) (acquirer.OpResult, error) {
	switch status {
	case "SUCCESS":
		return withRef(acquirer.OpResult{Status: acquirer.OpSucceeded}, ref), nil
	case "FAIL":
		code := protocol.Code(r.ResultCode)
		if code == "" {
			code = protocol.CodeProcessFail
		}
		return withRef(acquirer.OpResult{Status: acquirer.OpFailed, Code: code, Message: r.ResultMessage}, ref), nil
	case "PROCESSING":
		return withRef(acquirer.OpResult{Status: acquirer.OpPending, RetryAfter: pendingRetry}, ref), nil
	}
	return acquirer.OpResult{}, fmt.Errorf("antom %s: transaction status %q", a.cfg.Name, status)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Void implements acquirer.Acquirer.
func (a *Acquirer) Void(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("antom %s: void without the upstream paymentId", a.cfg.Name)
	}
	return a.release(ctx, &protocol.CancelRequest{PaymentID: id}, false)
}

// Reverse implements acquirer.Acquirer.
func (a *Acquirer) Reverse(ctx context.Context, paymentID string) error {
	if paymentID == "" {
		return fmt.Errorf("antom %s: reversal without a payment reference", a.cfg.Name)
	}
	return a.release(ctx, &protocol.CancelRequest{PaymentRequestID: paymentID}, true)
}

// release cancels a payment upstream. A payment that holds nothing any more (failed, closed,
// cancelled: the upstream refuses to cancel it) is released already; one the upstream does not
// know is, for a reversal, one that never arrived.
func (a *Acquirer) release(ctx context.Context, req *protocol.CancelRequest, byReference bool) error {
	var resp protocol.CancelResponse
	if err := a.call(ctx, protocol.PathCancel, req, &resp); err != nil {
		return err
	}
	code := protocol.Code(resp.Result.ResultCode)
	switch {
	case resp.Result.ResultStatus == string(protocol.StatusSuccess):
		return nil
	case code == protocol.CodeOrderNotExist && byReference:
		return nil
	case code == protocol.CodeOrderStatusInvalid || code == protocol.CodeOrderIsClosed || code == protocol.CodeOrderIsCanceled:
		inq, err := a.inquire(ctx, &protocol.InquiryPaymentRequest{PaymentID: req.PaymentID, PaymentRequestID: req.PaymentRequestID})
		if err != nil {
			return fmt.Errorf("antom %s: cancel refused (%s), then: %w", a.cfg.Name, code, err)
		}
		if inq.PaymentStatus == "FAIL" || inq.PaymentStatus == "CANCELLED" {
			return nil
		}
		return fmt.Errorf("antom %s: cancel refused (%s %s): the payment is %s upstream", a.cfg.Name, code, resp.Result.ResultMessage, inq.PaymentStatus)
	}
	return fmt.Errorf("antom %s: cancel: %s/%s %s", a.cfg.Name, resp.Result.ResultStatus, code, resp.Result.ResultMessage)
}
