package api

import (
	"context"
	"strconv"
	"time"

	"github.com/cardgate/cardgate/internal/disputes"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/protocol"
)

// acceptDispute serves /v1/payments/acceptDispute: the merchant gives the disputed money up.
func (s *Server) acceptDispute(ctx context.Context, m merchant.Merchant, body []byte) (any, error) {
	var req protocol.AcceptDisputeRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	d, err := s.cfg.Disputes.Accept(ctx, m.ClientID, req.DisputeID)
	if err != nil {
		return nil, err
	}
	return protocol.AcceptDisputeResponse{Result: protocol.SuccessResult(), DisputeID: d.ID, DisputeResolutionTime: protocol.FormatTime(d.ResolvedAt)}, nil
}

// supplyDefenseDocument serves /v1/payments/supplyDefenseDocument: the defense goes to the
// issuer, who judges it.
func (s *Server) supplyDefenseDocument(ctx context.Context, m merchant.Merchant, body []byte) (any, error) {
	var req protocol.SupplyDefenseDocumentRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	d, err := s.cfg.Disputes.SupplyDefense(ctx, m.ClientID, req.DisputeID, req.DisputeEvidence)
	if err != nil {
		return nil, err
	}
	return protocol.SupplyDefenseDocumentResponse{Result: protocol.SuccessResult(), DisputeID: d.ID, DisputeResolutionTime: protocol.FormatTime(d.DefendedAt)}, nil
}

// downloadDisputeEvidence serves /v1/payments/downloadDisputeEvidence: the defense template, or
// the defense supplied.
func (s *Server) downloadDisputeEvidence(ctx context.Context, m merchant.Merchant, body []byte) (any, error) {
	var req protocol.DownloadDisputeEvidenceRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	evidence, format, err := s.cfg.Disputes.DownloadEvidence(ctx, m.ClientID, req.DisputeID, req.DisputeEvidenceType)
	if err != nil {
		return nil, err
	}
	return protocol.DownloadDisputeEvidenceResponse{Result: protocol.SuccessResult(), DisputeEvidence: evidence, DisputeEvidenceFormat: format}, nil
}

// openDispute serves POST /sandbox/v1/dispute/open: a chargeback on any captured payment.
func (s *Server) openDispute(ctx context.Context, m merchant.Merchant, body []byte) (any, error) {
	var req protocol.SandboxDisputeOpenRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if req.PaymentID == "" {
		return nil, protocol.Errorf(protocol.CodeParamIllegal, "paymentId is required")
	}
	r := disputes.OpenRequest{MerchantID: m.ClientID, PaymentID: req.PaymentID, ReasonCode: req.ReasonCode, ReasonMsg: req.ReasonMsg, DefenseWins: true}
	if r.ReasonCode == "" {
		r.ReasonCode, r.ReasonMsg = "13.1", "Merchandise/Services Not Received"
	}
	if req.DefenseWins != nil {
		r.DefenseWins = *req.DefenseWins
	}
	if a := req.DisputeAmount; a != nil {
		v, err := strconv.ParseInt(a.Value, 10, 64)
		if err != nil || v <= 0 {
			return nil, protocol.Errorf(protocol.CodeParamIllegal, "disputeAmount.value must be a positive whole number of minor units, got %q", a.Value)
		}
		r.AmountMinor, r.Currency = v, a.Currency
	}
	d, err := s.cfg.Disputes.Open(ctx, r)
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "sandbox dispute opened", "merchant", m.ClientID, "paymentId", d.PaymentID, "disputeId", d.ID, "amountMinor", d.AmountMinor)
	return protocol.SandboxDisputeOpenResponse{Result: protocol.SuccessResult(), DisputeID: d.ID, PaymentID: d.PaymentID,
		DisputeAmount:  &protocol.Amount{Currency: d.Currency, Value: strconv.FormatInt(d.AmountMinor, 10)},
		DefenseDueTime: protocol.FormatTime(d.DefenseDue)}, nil
}

// disputesList serves /cardgate/v1/disputes/list: a payment's disputes as they stand.
func (s *Server) disputesList(ctx context.Context, m merchant.Merchant, body []byte) (any, error) {
	var req protocol.DisputesListRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	ds, err := s.cfg.Disputes.OfPayment(ctx, m.ClientID, req.PaymentID)
	if err != nil {
		return nil, err
	}
	resp := protocol.DisputesListResponse{Result: protocol.SuccessResult(), Disputes: []protocol.DisputeInfo{}}
	opt := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return protocol.FormatTime(t)
	}
	for _, d := range ds {
		resp.Disputes = append(resp.Disputes, protocol.DisputeInfo{DisputeID: d.ID, PaymentID: d.PaymentID, CaptureID: d.CaptureID,
			DisputeStatus: string(d.State), DisputeAmount: &protocol.Amount{Currency: d.Currency, Value: strconv.FormatInt(d.AmountMinor, 10)},
			DisputeReasonCode: d.ReasonCode, DisputeReasonMsg: d.ReasonMsg, DisputeTime: protocol.FormatTime(d.OpenedAt),
			DefenseDueTime: protocol.FormatTime(d.DefenseDue), DefenseTime: opt(d.DefendedAt), DisputeJudgedResult: d.JudgedResult,
			DisputeAcceptReason: d.AcceptReason, ResolvedTime: opt(d.ResolvedAt), Defendable: d.State == disputes.Open})
	}
	return resp, nil
}
