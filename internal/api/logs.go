package api

import (
	"context"
	"strconv"
	"time"

	"github.com/cardgate/cardgate/internal/calllog"
	"github.com/cardgate/cardgate/internal/logctx"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/protocol"
)

// CallLog is where the API records each merchant's calls and reads them back.
type CallLog interface {
	Record(c calllog.Call)
	CallsAfter(ctx context.Context, merchantID string, afterID int64, limit int) ([]calllog.Call, error)
}

// caller is filled in by handle once a call has authenticated, for the call log.
type caller struct{ merchantID string }

type callerKey struct{}

func callerOf(ctx context.Context) *caller {
	c, _ := ctx.Value(callerKey{}).(*caller)
	return c
}

// record puts an authenticated call in its merchant's log; the log's own reads are left out, or
// a tail would fill the log it reads.
func (s *Server) record(ctx context.Context, path string, code protocol.Code, start time.Time, elapsed time.Duration) {
	c := callerOf(ctx)
	if s.cfg.Calls == nil || c == nil || c.merchantID == "" || path == protocol.PathLogsTail {
		return
	}
	s.cfg.Calls.Record(calllog.Call{MerchantID: c.merchantID, At: start, RequestID: logctx.ID(ctx), Path: path,
		ResultCode: string(code), ResultStatus: string(code.Status()), Latency: elapsed})
}

// logsTail serves /cardgate/v1/logs/tail: the merchant's calls after a cursor.
func (s *Server) logsTail(ctx context.Context, m merchant.Merchant, body []byte) (any, error) {
	var req protocol.LogsTailRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	limit := req.Limit
	switch {
	case limit == 0:
		limit = 100
	case limit < 0 || limit > 1000:
		return nil, protocol.Errorf(protocol.CodeParamIllegal, "limit must be 1 to 1000")
	}
	after := int64(-1) // no cursor: the latest calls
	if req.After != "" {
		v, err := strconv.ParseInt(req.After, 10, 64)
		if err != nil || v < 0 {
			return nil, protocol.Errorf(protocol.CodeParamIllegal, "after must be the next of an earlier answer, a whole number")
		}
		after = v
	}
	calls, err := s.cfg.Calls.CallsAfter(ctx, m.ClientID, after, limit)
	if err != nil {
		return nil, err
	}
	resp := protocol.LogsTailResponse{Result: protocol.SuccessResult(), Calls: []protocol.APICall{}, Next: strconv.FormatInt(max(after, 0), 10)}
	for _, c := range calls {
		resp.Calls = append(resp.Calls, protocol.APICall{ID: strconv.FormatInt(c.ID, 10), Time: protocol.FormatTime(c.At), RequestID: c.RequestID,
			Path: c.Path, ResultCode: c.ResultCode, ResultStatus: c.ResultStatus, LatencyMS: c.Latency.Milliseconds()})
		resp.Next = strconv.FormatInt(c.ID, 10)
	}
	return resp, nil
}
