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
