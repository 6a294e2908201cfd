package protocol

import (
	"errors"
	"fmt"
)

// Status is resultStatus: S succeeded, F failed for good (retry needs a new request id), U unknown
// (retry with the same request id, or inquire).
type Status string

const (
	StatusSuccess Status = "S"
	StatusFail    Status = "F"
	StatusUnknown Status = "U"
)

// Code is an Antom resultCode. Each code has one status (docs/wire.md §6.2); Error carries both so a
// handler never has to pick the status itself.
type Code string

// Result codes cardgate emits. Names and statuses follow docs/wire.md §6.2.
const (
	CodeSuccess                      Code = "SUCCESS"
	CodePaymentInProcess             Code = "PAYMENT_IN_PROCESS"
	CodeUnknownException             Code = "UNKNOWN_EXCEPTION"
	CodeCaptureInProcess             Code = "CAPTURE_IN_PROCESS"
	CodeRefundInProcess              Code = "REFUND_IN_PROCESS"
	CodeParamIllegal                 Code = "PARAM_ILLEGAL"
	CodeInvalidSignature             Code = "INVALID_SIGNATURE"
	CodeKeyNotFound                  Code = "KEY_NOT_FOUND"
	CodeInvalidClient                Code = "INVALID_CLIENT"
	CodeAccessDenied                 Code = "ACCESS_DENIED"
	CodeNoInterfaceDef               Code = "NO_INTERFACE_DEF"
	CodeMethodNotSupported           Code = "METHOD_NOT_SUPPORTED"
	CodeProcessFail                  Code = "PROCESS_FAIL"
	CodeRepeatReqInconsistent        Code = "REPEAT_REQ_INCONSISTENT"
	CodeOrderNotExist                Code = "ORDER_NOT_EXIST"
	CodeOrderStatusInvalid           Code = "ORDER_STATUS_INVALID"
	CodeOrderIsClosed                Code = "ORDER_IS_CLOSED"
	CodeOrderIsCanceled              Code = "ORDER_IS_CANCELED"
	CodeCurrencyNotSupport           Code = "CURRENCY_NOT_SUPPORT"
	CodeInvalidAmount                Code = "INVALID_AMOUNT"
	CodeInvalidPaymentMethodMetaData Code = "INVALID_PAYMENT_METHOD_META_DATA"
	CodeRiskReject                   Code = "RISK_REJECT"
	CodeUserBalanceNotEnough         Code = "USER_BALANCE_NOT_ENOUGH"
	CodeAuthenticationRequired       Code = "AUTHENTICATION_REQUIRED"
	CodeCardNotSupported             Code = "CARD_NOT_SUPPORTED"
	CodeInvalidCardNumber            Code = "INVALID_CARD_NUMBER"
	CodeInvalidExpirationDate        Code = "INVALID_EXPIRATION_DATE"
	CodeDoNotHonor                   Code = "DO_NOT_HONOR"
	CodeCardExpired                  Code = "CARD_EXPIRED"
	CodeInvalidCVV                   Code = "INVALID_CVV"
	CodeSuspectedCard                Code = "SUSPECTED_CARD"
	CodeMultiCaptureNotSupported     Code = "MULTI_CAPTURE_NOT_SUPPORTED"
	CodeCaptureAmountExceedAuthLimit Code = "CAPTURE_AMOUNT_EXCEED_AUTH_LIMIT"
	CodeAuthExpired                  Code = "AUTH_EXPIRED"
	CodeRefundAmountExceed           Code = "REFUND_AMOUNT_EXCEED"
	CodeRefundWindowExceed           Code = "REFUND_WINDOW_EXCEED"
	CodeRequestTrafficExceedLimit    Code = "REQUEST_TRAFFIC_EXCEED_LIMIT"
	// CodeNoPayOptions is consult's answer when no payment option fits the request (F).
	CodeNoPayOptions Code = "NO_PAY_OPTIONS"
	// CodeSettleContractNotMatch: the settlementCurrency asked for is not one the merchant is
	// contracted to settle in (F).
	CodeSettleContractNotMatch Code = "SETTLE_CONTRACT_NOT_MATCH"
)

// codeStatus is the one place that decides a code's status. Codes missing here are failures.
var codeStatus = map[Code]Status{
	CodeSuccess:                   StatusSuccess,
	CodePaymentInProcess:          StatusUnknown,
	CodeUnknownException:          StatusUnknown,
	CodeCaptureInProcess:          StatusUnknown,
	CodeRefundInProcess:           StatusUnknown,
	CodeRequestTrafficExceedLimit: StatusUnknown,
}

// Status reports the resultStatus that goes with the code.
func (c Code) Status() Status {
	if s, ok := codeStatus[c]; ok {
		return s
	}
	return StatusFail
}

// Result is the result object present in every response body and notification.
type Result struct {
	ResultCode    string `json:"resultCode"`
	ResultStatus  string `json:"resultStatus"`
	ResultMessage string `json:"resultMessage"`
}

// NewResult builds the result for a code with its own status.
func NewResult(c Code, message string) Result {
	return Result{ResultCode: string(c), ResultStatus: string(c.Status()), ResultMessage: message}
}

// SuccessResult is the result of every successful call, spelled as Antom's samples spell it.
func SuccessResult() Result { return NewResult(CodeSuccess, "success.") }

// Error is an API outcome that is not SUCCESS: the code and a message for the merchant's developer.
// Every layer returns these (or wraps them); exactly one function in the API layer turns any error
// into a Result (see ResultOf).
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf builds an *Error with a formatted message.
func Errorf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Message: fmt.Sprintf(format, args...)}
}

// ResultOf maps any error to the result put on the wire. Errors that carry no code are internal
// faults: the merchant gets UNKNOWN_EXCEPTION with status U, never a fake F, because the outcome of
// the operation is not known to the caller.
func ResultOf(err error) Result {
	if err == nil {
		return SuccessResult()
	}
	var pe *Error
	if errors.As(err, &pe) {
		return NewResult(pe.Code, pe.Message)
	}
	return NewResult(CodeUnknownException, "unknown exception, inquire or retry with the same request id")
}
