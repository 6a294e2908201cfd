package client

import (
	"crypto/rsa"
	"fmt"
	"io"
	"net/http"

	"github.com/cardgate/cardgate/protocol"
)

// maxNotification bounds a notification body read by VerifyNotification.
const maxNotification = 1 << 20

// VerifyNotification checks that a notification request was signed by the gateway, exactly as
// docs/wire.md §2.7 prescribes: over "POST <path of the notify URL>\n<client-id>.<request-time>.<body>"
// with the gateway public key. It returns the raw body for the caller to decode. The path is the
// request's URL path without the query, as the gateway signs it.
func (c *Client) VerifyNotification(r *http.Request) ([]byte, error) {
	return VerifyNotification(c.gateway, r)
}

// VerifyNotification is the same check for callers that hold only the gateway public key.
func VerifyNotification(gateway *rsa.PublicKey, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxNotification))
	if err != nil {
		return nil, fmt.Errorf("client: read notification: %w", err)
	}
	sh, err := protocol.ParseSignatureHeader(r.Header.Get("signature"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	content := protocol.SigningContent(r.Method, r.URL.EscapedPath(), r.Header.Get("client-id"), r.Header.Get("request-time"), body)
	if err := protocol.Verify(gateway, content, sh.Signature); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	return body, nil
}

// Acknowledgement is the body a merchant answers a notification with (seed 000-04).
const Acknowledgement = `{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}`
