package client

import (
	"context"

	"github.com/cardgate/cardgate/protocol"
)

// AcceptDispute accepts a chargeback: the merchant gives the disputed money up.
func (c *Client) AcceptDispute(ctx context.Context, disputeID string) (*protocol.AcceptDisputeResponse, error) {
	var resp protocol.AcceptDisputeResponse
	if err := c.Call(ctx, protocol.PathAcceptDispute, &protocol.AcceptDisputeRequest{DisputeID: disputeID}, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// SupplyDefenseDocument sends a defense (the document, base64).
func (c *Client) SupplyDefenseDocument(ctx context.Context, req *protocol.SupplyDefenseDocumentRequest) (*protocol.SupplyDefenseDocumentResponse, error) {
	var resp protocol.SupplyDefenseDocumentResponse
	if err := c.Call(ctx, protocol.PathSupplyDefenseDocument, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// DownloadDisputeEvidence fetches a dispute's defense template or the defense supplied.
func (c *Client) DownloadDisputeEvidence(ctx context.Context, req *protocol.DownloadDisputeEvidenceRequest) (*protocol.DownloadDisputeEvidenceResponse, error) {
	var resp protocol.DownloadDisputeEvidenceResponse
	if err := c.Call(ctx, protocol.PathDownloadDisputeEvidence, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// OpenDispute opens a chargeback on a captured payment in a cardgate sandbox.
func (c *Client) OpenDispute(ctx context.Context, req *protocol.SandboxDisputeOpenRequest) (*protocol.SandboxDisputeOpenResponse, error) {
	var resp protocol.SandboxDisputeOpenResponse
	if err := c.own(ctx, protocol.PathSandboxDisputeOpen, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Disputes lists a payment's disputes as they stand (cardgate's own call).
func (c *Client) Disputes(ctx context.Context, paymentID string) (*protocol.DisputesListResponse, error) {
	var resp protocol.DisputesListResponse
	if err := c.own(ctx, protocol.PathDisputesList, &protocol.DisputesListRequest{PaymentID: paymentID}, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}
