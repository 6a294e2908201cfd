// Package openapi holds the OpenAPI 3.1 description of the API as cardgate serves it
// (openapi.json, maintained by hand and checked by this package's tests against what the gateway
// routes, the wire types, Antom's samples and the golden answers), and serves it at
// /openapi.json. It also holds the validator those tests use: the small part of JSON Schema the
// document is written in.
package openapi

import (
	_ "embed"
	"net/http"
	"strconv"
)

//go:embed openapi.json
var document []byte

// Document is the OpenAPI document, as served. The caller must not modify it.
func Document() []byte { return document }

// Handler serves the document to GET and HEAD, unsigned: it describes the API, holds nothing of
// any merchant's, and tools (client generators, API consoles) fetch it without credentials.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(document)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(document)
	})
}
