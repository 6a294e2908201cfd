package protocol

// Dispute APIs (docs/wire.md §4.9).
const (
	PathAcceptDispute           = "/v1/payments/acceptDispute"
	PathSupplyDefenseDocument   = "/v1/payments/supplyDefenseDocument"
	PathDownloadDisputeEvidence = "/v1/payments/downloadDisputeEvidence"
)

// AcceptDisputeRequest is the body of acceptDispute.
type AcceptDisputeRequest struct {
	DisputeID string `json:"disputeId"`
}

// AcceptDisputeResponse answers acceptDispute and supplyDefenseDocument: the dispute, and when
// the call resolved it (accepted) or moved it to the issuer's judgement (defended).
type AcceptDisputeResponse struct {
	Result                Result `json:"result"`
	DisputeID             string `json:"disputeId,omitempty"`
	DisputeResolutionTime string `json:"disputeResolutionTime,omitempty"`
}

// SupplyDefenseDocumentRequest is the body of supplyDefenseDocument: the defense, base64.
type SupplyDefenseDocumentRequest struct {
	DisputeID       string `json:"disputeId"`
	DisputeEvidence string `json:"disputeEvidence"`
}

// SupplyDefenseDocumentResponse answers supplyDefenseDocument.
type SupplyDefenseDocumentResponse = AcceptDisputeResponse

// DownloadDisputeEvidenceRequest is the body of downloadDisputeEvidence.
type DownloadDisputeEvidenceRequest struct {
	DisputeID           string `json:"disputeId"`
	DisputeEvidenceType string `json:"disputeEvidenceType"`
}

// DownloadDisputeEvidenceResponse carries the document, base64, and its format (PDF or WORD).
type DownloadDisputeEvidenceResponse struct {
	Result                Result `json:"result"`
	DisputeEvidence       string `json:"disputeEvidence,omitempty"`
	DisputeEvidenceFormat string `json:"disputeEvidenceFormat,omitempty"`
}

// PathSandboxDisputeOpen opens a chargeback on a captured payment (sandbox only).
const PathSandboxDisputeOpen = "/sandbox/v1/dispute/open"

// SandboxDisputeOpenRequest opens a dispute: for DisputeAmount (absent: all the payment has left
// to dispute), with the issuer's reason; DefenseWins (absent: true) says how the issuer will
// judge a defense.
type SandboxDisputeOpenRequest struct {
	PaymentID     string  `json:"paymentId"`
	DisputeAmount *Amount `json:"disputeAmount,omitempty"`
	ReasonCode    string  `json:"reasonCode,omitempty"`
	ReasonMsg     string  `json:"reasonMsg,omitempty"`
	DefenseWins   *bool   `json:"defenseWins,omitempty"`
}

// SandboxDisputeOpenResponse is the dispute opened.
type SandboxDisputeOpenResponse struct {
	Result         Result  `json:"result"`
	DisputeID      string  `json:"disputeId,omitempty"`
	PaymentID      string  `json:"paymentId,omitempty"`
	DisputeAmount  *Amount `json:"disputeAmount,omitempty"`
	DefenseDueTime string  `json:"defenseDueTime,omitempty"`
}

// PathDisputesList lists a payment's disputes (cardgate's own call): a merchant without a notify
// URL learns its disputeIds here, and a console shows them.
const PathDisputesList = "/cardgate/v1/disputes/list"

// DisputesListRequest names the payment.
type DisputesListRequest struct {
	PaymentID string `json:"paymentId"`
}

// DisputesListResponse lists the payment's disputes, oldest first.
type DisputesListResponse struct {
	Result   Result        `json:"result"`
	Disputes []DisputeInfo `json:"disputes"`
}

// DisputeInfo is one dispute as it stands.
type DisputeInfo struct {
	DisputeID           string  `json:"disputeId"`
	PaymentID           string  `json:"paymentId"`
	CaptureID           string  `json:"captureId,omitempty"`
	DisputeStatus       string  `json:"disputeStatus"` // OPEN, DEFENDED, ACCEPTED, WON, LOST, CANCELLED
	DisputeAmount       *Amount `json:"disputeAmount"`
	DisputeReasonCode   string  `json:"disputeReasonCode,omitempty"`
	DisputeReasonMsg    string  `json:"disputeReasonMsg,omitempty"`
	DisputeTime         string  `json:"disputeTime"`
	DefenseDueTime      string  `json:"defenseDueTime"`
	DefenseTime         string  `json:"defenseTime,omitempty"`
	DisputeJudgedResult string  `json:"disputeJudgedResult,omitempty"`
	DisputeAcceptReason string  `json:"disputeAcceptReason,omitempty"`
	ResolvedTime        string  `json:"resolvedTime,omitempty"`
	Defendable          bool    `json:"defendable"`
}
