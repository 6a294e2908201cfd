package api

import (
	"context"

	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/sandbox"
	"github.com/cardgate/cardgate/protocol"
)

// advanceClock serves POST /sandbox/v1/clock/advance {"duration":"15m"}: it answers once all work
// that became due has run, with the new time.
func (s *Server) advanceClock(ctx context.Context, _ merchant.Merchant, body []byte) (any, error) {
	var req protocol.ClockAdvanceRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if req.Duration == "" {
		return nil, protocol.Errorf(protocol.CodeParamIllegal, "duration is required, such as \"15m\" or \"7d1m\"")
	}
	d, err := clock.ParseDuration(req.Duration)
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeParamIllegal, "duration %q must be a Go duration with an optional day part, such as \"15m\" or \"7d1m\"", req.Duration)
	}
	now, err := s.cfg.Sandbox.Advance(ctx, d)
	if err != nil {
		return nil, err
	}
	return protocol.ClockAdvanceResponse{Result: protocol.SuccessResult(), Now: protocol.FormatTime(now.UTC())}, nil
}

// force serves POST /sandbox/v1/force: it sets, replaces or clears one of the merchant's forced
// results and answers the forces in effect.
func (s *Server) force(ctx context.Context, m merchant.Merchant, body []byte) (any, error) {
	var req protocol.ForceRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if req.Operation != "" || req.ResultCode != "" || req.Count != nil {
		count := 1
		if req.Count != nil {
			count = *req.Count
		}
		f, err := sandbox.ParseForce(req.Operation, req.ResultCode, count)
		if err != nil {
			return nil, err
		}
		if err := s.cfg.Sandbox.SetForce(ctx, m.ClientID, f, s.wall.Now()); err != nil {
			return nil, err
		}
		s.log.InfoContext(ctx, "forced result set", "merchant", m.ClientID, "operation", f.Operation, "resultCode", f.Code, "count", f.Remaining)
	}
	forces, err := s.cfg.Sandbox.Forces(ctx, m.ClientID)
	if err != nil {
		return nil, err
	}
	resp := protocol.ForceResponse{Result: protocol.SuccessResult(), Forces: []protocol.Force{}}
	for _, f := range forces {
		resp.Forces = append(resp.Forces, protocol.Force{Operation: string(f.Operation), ResultCode: string(f.Code), Remaining: f.Remaining})
	}
	return resp, nil
}

// reset serves POST /sandbox/v1/reset: the merchant's payments, saved cards, notifications and
// forced results go (the merchant, its keys, its notify URL and its routing rules stay), and the
// sandbox clock returns to real time unless keepClock.
func (s *Server) reset(ctx context.Context, m merchant.Merchant, body []byte) (any, error) {
	var req protocol.ResetRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	deleted, err := s.cfg.Sandbox.ResetMerchant(ctx, m.ClientID)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Sandbox.Now()
	if !req.KeepClock {
		if now, err = s.cfg.Sandbox.ResetClock(ctx); err != nil {
			return nil, err
		}
	}
	s.log.InfoContext(ctx, "sandbox reset", "merchant", m.ClientID, "deleted", deleted, "clockReset", !req.KeepClock)
	return protocol.ResetResponse{Result: protocol.SuccessResult(), Deleted: deleted, Now: protocol.FormatTime(now.UTC())}, nil
}
