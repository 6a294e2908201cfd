package api

import (
	"slices"

	"github.com/cardgate/cardgate/protocol"
)

// Paths lists every path the server routes, sorted: each Antom API under both prefixes,
// cardgate's own calls, and the sandbox's calls when it serves them. It is read from the maps
// that route, so it cannot disagree with them; the OpenAPI document's test compares it with the
// documented paths (internal/openapi), so that a call is never served undocumented, nor
// documented unserved.
func (s *Server) Paths() []string {
	out := make([]string, 0, 2*len(s.endpoints)+len(s.own)+len(s.sandbox))
	for p := range s.endpoints {
		out = append(out, protocol.PrefixLive+p, protocol.PrefixSandbox+p)
	}
	for p := range s.own {
		out = append(out, p)
	}
	for p := range s.sandbox {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}
