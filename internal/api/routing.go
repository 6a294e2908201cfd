package api

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/routing"
	"github.com/cardgate/cardgate/protocol"
)

// routingGet serves /cardgate/v1/routing/get: {} → the calling merchant's routing document.
func (s *Server) routingGet(ctx context.Context, m merchant.Merchant, body []byte) (any, error) {
	var req struct{}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	raw, at, err := s.cfg.Routing.RoutingRules(ctx, m.ClientID)
	if err != nil {
		return nil, err
	}
	return routingAnswer(raw, at)
}

// routingSet serves /cardgate/v1/routing/set: the body is the document. It is checked against
// the gateway's acquirers before anything is stored, so a refused document leaves the old rules.
func (s *Server) routingSet(ctx context.Context, m merchant.Merchant, body []byte) (any, error) {
	var acquirers []string
	if s.cfg.Acquirers != nil {
		acquirers = s.cfg.Acquirers()
	}
	doc, err := routing.Parse(body, acquirers)
	if err != nil {
		return nil, err
	}
	raw, err := routing.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("routing rules: %w", err)
	}
	at := s.wall.Now().Truncate(time.Millisecond) // what the store keeps, so set and get answer alike
	if err := s.cfg.Routing.SetRoutingRules(ctx, m.ClientID, raw, at); err != nil {
		return nil, err
	}
	return routingAnswer(raw, at)
}

// routingAnswer puts a stored canonical document beside the result; no document is no rules.
func routingAnswer(raw []byte, at time.Time) (protocol.RoutingRulesResponse, error) {
	out := protocol.RoutingRulesResponse{Result: protocol.SuccessResult(), Rules: json.RawMessage(`[]`)}
	if raw == nil {
		return out, nil
	}
	var doc struct{ Rules, Default json.RawMessage }
	if err := json.Unmarshal(raw, &doc); err != nil {
		return out, fmt.Errorf("stored routing rules: %w", err)
	}
	if len(doc.Rules) > 0 {
		out.Rules = doc.Rules
	}
	out.Default, out.UpdatedAt = doc.Default, protocol.FormatTime(at.UTC())
	return out, nil
}
