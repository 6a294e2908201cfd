package api

import (
	"context"

	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/merchant"
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
