package payments

import (
	"encoding/json"
	"time"

	"github.com/cardgate/cardgate/protocol"
)

// The renderers turn a Payment into wire shapes. They live in the domain because the notification
// body is rendered inside the transition (outbox) and must agree with inquiry and pay exactly.

// wireTime renders every payment time in UTC, so that one moment reads the same in pay, its
// replay, inquiry and the notification, whatever the host's time zone (the store returns UTC).
func wireTime(t time.Time) string { return protocol.FormatTime(t.UTC()) }

func amountOf(p Payment) *protocol.Amount {
	return &protocol.Amount{Currency: p.Amount.Currency.Code, Value: p.Amount.Value()}
}

// answer is the result a pay (or its replay) reports for the payment's current state.
func answer(p Payment) protocol.Result {
	switch p.State {
	case StateSuccess:
		return protocol.SuccessResult()
	case StateProcessing:
		return protocol.NewResult(protocol.CodePaymentInProcess, "Payment is processing.")
	case StateCancelled:
		return protocol.NewResult(protocol.CodeOrderIsCanceled, "The payment was cancelled.")
	}
	return protocol.Result{ResultCode: string(p.ResultCode), ResultStatus: string(protocol.StatusFail), ResultMessage: p.ResultMsg}
}

// eci is the electronic commerce indicator of a payment made without 3-D Secure: Mastercard says
// 00 where the other schemes say 07.
func eci(brand string) string {
	if brand == "MASTERCARD" || brand == "MAESTRO" {
		return "00"
	}
	return "07"
}

// threeDSResultOf is the payment's 3-D Secure outcome, or the no-authentication ECI without it.
func threeDSResultOf(p Payment) *protocol.ThreeDSResult {
	t := p.ThreeDS
	if t.Mode == ThreeDSIssuer {
		return &protocol.ThreeDSResult{} // no 3-D Secure: empty eci and cavv, as seed 002's sample
	}
	if t.Mode == "" {
		return &protocol.ThreeDSResult{ECI: eci(p.Card.Brand)}
	}
	return &protocol.ThreeDSResult{ThreeDSVersion: t.Version, ECI: t.ECI, CAVV: t.CAVV, DSTransactionID: t.DSTransactionID,
		Challenged: t.Challenged, ThreeDSType: "INTERNAL"}
}

// resultInfoOf reports the card as soon as the payment exists (the seed's in-process answer shows
// it too) and the acquirer's findings once it has answered.
func resultInfoOf(p Payment) *protocol.PaymentResultInfo {
	info := &protocol.PaymentResultInfo{
		CardNo:      p.Card.Masked,
		CardBrand:   p.Card.Brand,
		CardBin:     p.Card.BIN,
		LastFour:    p.Card.LastFour,
		ExpiryMonth: p.Card.ExpiryMonth,
		ExpiryYear:  p.Card.ExpiryYear,
		HoldName:    p.Card.HolderName,
		Fingerprint: p.Card.Fingerprint,
		CardToken:   p.Card.Token,
		// Not authenticated yet: empty eci and cavv, as in the seed's in-process sample.
		ThreeDSResult: &protocol.ThreeDSResult{ThreeDSVersion: p.ThreeDS.Version},
		CreditPayPlan: p.Order.CreditPayPlan,
	}
	if p.AcquirerState != AcquirerAnswered {
		return info
	}
	info.IssuingCountry = p.Card.IssuingCountry
	info.Funding = p.Card.Funding
	info.PaymentMethodRegion = firstNonEmpty(p.Card.Region, "GLOBAL")
	info.ThreeDSResult = threeDSResultOf(p)
	info.AVSResultRaw = p.Auth.AVSResult
	info.CVVResultRaw = p.Auth.CVVResult
	info.NetworkTransactionID = p.Auth.NetworkTransactionID
	info.CardCategory = p.Card.Category
	info.IssuerName = p.Card.IssuerName
	info.RefusalCodeRaw = p.Auth.RefusalCodeRaw
	info.RefusalReasonRaw = p.Auth.RefusalReasonRaw
	info.AuthorizationCode = p.Auth.AuthorizationCode
	info.CredentialTypeUsed = "PAN"
	return info
}

// cardInfoOf is the card summary of inquiry and notifications: the same facts as
// paymentResultInfo, as the seed notifications show them.
func cardInfoOf(p Payment) *protocol.CardInfo {
	info := resultInfoOf(p)
	if p.AcquirerState != AcquirerAnswered {
		return &protocol.CardInfo{CardNo: info.CardNo, CardBrand: info.CardBrand, CardToken: info.CardToken}
	}
	return &protocol.CardInfo{
		CardNo:               info.CardNo,
		CardBrand:            info.CardBrand,
		CardToken:            info.CardToken,
		IssuingCountry:       info.IssuingCountry,
		Funding:              info.Funding,
		PaymentMethodRegion:  info.PaymentMethodRegion,
		ThreeDSResult:        info.ThreeDSResult,
		AVSResultRaw:         info.AVSResultRaw,
		CVVResultRaw:         info.CVVResultRaw,
		NetworkTransactionID: info.NetworkTransactionID,
	}
}

func acquirerInfoOf(p Payment) *protocol.AcquirerInfo {
	if p.Auth.AcquirerName == "" {
		return nil
	}
	return &protocol.AcquirerInfo{
		AcquirerName:          p.Auth.AcquirerName,
		ReferenceRequestID:    p.ID,
		AcquirerTransactionID: p.Auth.AcquirerTransactionID,
		AcquirerMerchantID:    p.Auth.AcquirerMerchantID,
		AcquirerResultCode:    p.Auth.AcquirerResultCode,
		AcquirerResultMessage: p.Auth.AcquirerResultMessage,
	}
}

func paymentTime(p Payment) string {
	if p.AuthorizedAt.IsZero() {
		return ""
	}
	return wireTime(p.AuthorizedAt)
}

func authExpiryTime(p Payment) string {
	if p.AuthExpiresAt.IsZero() {
		return ""
	}
	return wireTime(p.AuthExpiresAt)
}

// PayResponseOf renders the pay answer for the payment's current state.
func PayResponseOf(p Payment) protocol.PayResponse {
	r := protocol.PayResponse{
		Result:            answer(p),
		PaymentRequestID:  p.RequestID,
		PaymentID:         p.ID,
		PaymentAmount:     amountOf(p),
		PaymentCreateTime: wireTime(p.CreatedAt),
		PaymentTime:       paymentTime(p),
		AuthExpiryTime:    authExpiryTime(p),
		PaymentResultInfo: resultInfoOf(p),
		AcquirerInfo:      acquirerInfoOf(p),
	}
	if p.PageOpen() {
		// The buyer must pass the gateway's card page or the issuer's page first (seed 000: U
		// with normalUrl).
		r.NormalURL = p.Order.NormalURL
		r.RedirectActionForm = &protocol.RedirectActionForm{Method: "GET", RedirectURL: p.Order.NormalURL}
		form, _ := json.Marshal(map[string]string{"method": "GET", "paymentActionFormType": "RedirectActionForm", "redirectUrl": p.Order.NormalURL})
		r.PaymentActionForm = string(form)
	}
	return r
}

// InquiryResponseOf renders inquiryPayment with the payment's transactions.
func InquiryResponseOf(p Payment, txns []Txn) protocol.InquiryPaymentResponse {
	r := protocol.InquiryPaymentResponse{
		Result:               protocol.SuccessResult(),
		PaymentStatus:        string(p.State),
		PaymentResultCode:    string(p.ResultCode),
		PaymentResultMessage: p.ResultMsg,
		PaymentRequestID:     p.RequestID,
		PaymentID:            p.ID,
		PaymentAmount:        amountOf(p),
		PaymentCreateTime:    wireTime(p.CreatedAt),
		PaymentTime:          paymentTime(p),
		AuthExpiryTime:       authExpiryTime(p),
		PaymentMethodType:    "CARD",
		PaymentRedirectURL:   p.Order.RedirectURL,
		CardInfo:             cardInfoOf(p),
		PaymentResultInfo:    resultInfoOf(p),
		AcquirerInfo:         acquirerInfoOf(p),
		AcquirerReferenceNo:  p.Auth.AcquirerTransactionID,
	}
	if p.State == StateSuccess {
		r.ActualPaymentAmount = amountOf(p)
	}
	for _, t := range txns {
		r.Transactions = append(r.Transactions, transactionOf(p, t))
	}
	return r
}

func txnAmount(t Txn) *protocol.Amount {
	return &protocol.Amount{Currency: t.Amount.Currency.Code, Value: t.Amount.Value()}
}

// txnResult is a transaction's own result, as transactionResult shows it: S when done, F with the
// acquirer's code when refused, U while in process (the seed samples' PAYMENT_IN_PROCESS).
func txnResult(t Txn) protocol.Result {
	switch t.Status {
	case TxnSucceeded:
		return protocol.SuccessResult()
	case TxnProcessing:
		return protocol.NewResult(protocol.CodePaymentInProcess, "payment in process")
	}
	return protocol.Result{ResultCode: string(t.ResultCode), ResultStatus: string(protocol.StatusFail), ResultMessage: t.ResultMsg}
}

// opResult is the answer of the capture or refund call itself: in process is CAPTURE_IN_PROCESS
// or REFUND_IN_PROCESS there (docs/design.md "Answer codes after authorization").
func opResult(t Txn) protocol.Result {
	if t.Status == TxnProcessing {
		return protocol.NewResult(t.ResultCode, t.ResultMsg)
	}
	return txnResult(t)
}

func transactionOf(p Payment, t Txn) protocol.Transaction {
	res := txnResult(t)
	tr := protocol.Transaction{
		TransactionResult:    &res,
		TransactionID:        t.ID,
		TransactionType:      string(t.Type),
		TransactionStatus:    string(t.Status),
		TransactionAmount:    txnAmount(t),
		TransactionRequestID: t.RequestID,
		TransactionTime:      wireTime(t.UpdatedAt),
	}
	tr.AcquirerInfo = txnAcquirerInfo(p, t)
	return tr
}

// txnAcquirerInfo names the acquirer of a capture or refund: always the one that authorized.
func txnAcquirerInfo(p Payment, t Txn) *protocol.AcquirerInfo {
	if p.Auth.AcquirerName == "" {
		return nil
	}
	return &protocol.AcquirerInfo{
		AcquirerName:          p.Auth.AcquirerName,
		ReferenceRequestID:    t.ID,
		AcquirerTransactionID: referenceNo(t),
		AcquirerMerchantID:    p.Auth.AcquirerMerchantID,
	}
}

// referenceNo is the acquirer's id of a capture or refund as the merchant sees it.
func referenceNo(t Txn) string {
	return firstNonEmpty(t.Details.AcquirerReferenceNo, t.Details.AcquirerReference)
}

func doneTime(t Txn) string {
	if t.Status != TxnSucceeded {
		return ""
	}
	return wireTime(t.UpdatedAt)
}

// CaptureResponseOf renders the capture answer.
func CaptureResponseOf(p Payment, t Txn) protocol.CaptureResponse {
	return protocol.CaptureResponse{
		Result:              opResult(t),
		CaptureRequestID:    t.RequestID,
		CaptureID:           t.ID,
		PaymentID:           p.ID,
		CaptureAmount:       txnAmount(t),
		CaptureTime:         doneTime(t),
		AcquirerReferenceNo: referenceNo(t),
		AcquirerInfo:        txnAcquirerInfo(p, t),
	}
}

// NotifyCaptureOf renders CAPTURE_RESULT.
func NotifyCaptureOf(p Payment, t Txn) protocol.NotifyCapture {
	return protocol.NotifyCapture{
		NotifyType:          protocol.NotifyTypeCaptureResult,
		Result:              txnResult(t),
		CaptureRequestID:    t.RequestID,
		PaymentID:           p.ID,
		CaptureID:           t.ID,
		CaptureAmount:       txnAmount(t),
		CaptureTime:         wireTime(t.UpdatedAt),
		AcquirerReferenceNo: referenceNo(t),
		AcquirerInfo:        acquirerInfoOf(p),
	}
}

// CancelResponseOf renders the cancel answer.
func CancelResponseOf(p Payment) protocol.CancelResponse {
	return protocol.CancelResponse{
		Result:           protocol.SuccessResult(),
		PaymentID:        p.ID,
		PaymentRequestID: p.RequestID,
		CancelTime:       wireTime(p.ClosedAt),
	}
}

// RefundResponseOf renders the refund answer.
func RefundResponseOf(p Payment, t Txn) protocol.RefundResponse {
	r := protocol.RefundResponse{
		Result:              opResult(t),
		RefundRequestID:     t.RequestID,
		RefundID:            t.ID,
		PaymentID:           p.ID,
		RefundAmount:        txnAmount(t),
		RefundTime:          doneTime(t),
		AcquirerReferenceNo: referenceNo(t),
		AcquirerInfo:        txnAcquirerInfo(p, t),
	}
	if t.Status == TxnSucceeded {
		r.ActualRefundAmount = txnAmount(t)
	}
	return r
}

// InquiryRefundResponseOf renders inquiryRefund.
func InquiryRefundResponseOf(t Txn) protocol.InquiryRefundResponse {
	r := protocol.InquiryRefundResponse{
		Result:          protocol.SuccessResult(),
		RefundID:        t.ID,
		RefundRequestID: t.RequestID,
		RefundAmount:    txnAmount(t),
		RefundStatus:    string(t.Status),
		RefundTime:      doneTime(t),
	}
	if t.Status == TxnSucceeded {
		r.ActualRefundAmount = txnAmount(t)
	}
	return r
}

// NotifyRefundOf renders REFUND_RESULT.
func NotifyRefundOf(p Payment, t Txn) protocol.NotifyRefund {
	n := protocol.NotifyRefund{
		NotifyType:      protocol.NotifyTypeRefundResult,
		Result:          txnResult(t),
		RefundStatus:    string(t.Status),
		RefundRequestID: t.RequestID,
		RefundID:        t.ID,
		PaymentID:       p.ID,
		RefundAmount:    txnAmount(t),
		RefundTime:      doneTime(t),
	}
	if t.Status == TxnSucceeded {
		n.ActualRefundAmount = txnAmount(t)
	}
	return n
}

// NotifyPaymentOf renders the PAYMENT_RESULT notification of a final payment.
func NotifyPaymentOf(p Payment) protocol.NotifyPayment {
	n := protocol.NotifyPayment{
		NotifyType:          protocol.NotifyTypePaymentResult,
		Result:              answer(p),
		PaymentRequestID:    p.RequestID,
		PaymentID:           p.ID,
		PaymentAmount:       amountOf(p),
		PaymentCreateTime:   wireTime(p.CreatedAt),
		PaymentTime:         paymentTime(p),
		AuthExpiryTime:      authExpiryTime(p),
		PaymentMethodType:   "CARD",
		CardInfo:            cardInfoOf(p),
		PaymentResultInfo:   resultInfoOf(p),
		AcquirerInfo:        acquirerInfoOf(p),
		AcquirerReferenceNo: p.Auth.AcquirerTransactionID,
	}
	if p.State == StateSuccess {
		n.ActualPaymentAmount = amountOf(p)
	}
	return n
}
