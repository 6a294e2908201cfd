// Package client is a Go client for cardgate (and for any Antom-compatible gateway): it signs
// requests the way Antom's SDKs do, verifies the gateway's signature on every response before
// reading it, and offers typed calls for the card payment APIs.
//
// Business outcomes are never errors: a declined payment is a response whose Result says F. An
// error means the call's outcome is unknown (transport failure, unsigned or badly signed answer),
// and the merchant should inquire or retry with the same request id.
package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cardgate/cardgate/protocol"
)

// Config is what a merchant configures: the gateway's address and the two keys.
type Config struct {
	// BaseURL is the gateway, e.g. "http://127.0.0.1:8080" (no path).
	BaseURL  string
	ClientID string
	// PrivateKey is the merchant's private key: bare base64 PKCS#8 or PKCS#1 DER, or PEM.
	PrivateKey string
	// GatewayPublicKey verifies responses: bare base64 SubjectPublicKeyInfo, or PEM.
	GatewayPublicKey string
	// KeyVersion names the merchant key; "1" when empty.
	KeyVersion string
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
	// Now defaults to time.Now; request-time is taken from it.
	Now func() time.Time
}

// Client calls the gateway.
type Client struct {
	cfg     Config
	priv    *rsa.PrivateKey
	gateway *rsa.PublicKey
	prefix  string
}

// ErrSignature reports a response whose signature is missing or does not verify: its content
// cannot be trusted.
var ErrSignature = errors.New("client: response signature invalid")

// New checks the configuration and parses the keys.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" || cfg.ClientID == "" {
		return nil, errors.New("client: BaseURL and ClientID are required")
	}
	priv, err := protocol.ParsePrivateKey(cfg.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("client: merchant private key: %w", err)
	}
	pub, err := protocol.ParsePublicKey(cfg.GatewayPublicKey)
	if err != nil {
		return nil, fmt.Errorf("client: gateway public key: %w", err)
	}
	if cfg.KeyVersion == "" {
		cfg.KeyVersion = "1"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	// Like every official SDK, a SANDBOX_ client id talks to the sandbox paths (docs/wire.md §1.1).
	prefix := protocol.PrefixLive
	if strings.HasPrefix(cfg.ClientID, "SANDBOX_") {
		prefix = protocol.PrefixSandbox
	}
	return &Client{cfg: cfg, priv: priv, gateway: pub, prefix: prefix}, nil
}

// Response is a verified raw answer.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// Path returns the full request path of an API path such as protocol.PathPay.
func (c *Client) Path(api string) string { return c.prefix + api }

// Do signs body, posts it to path (a full path such as "/ams/api/v1/payments/pay"), and verifies
// the response signature. The response is returned only if it verifies.
func (c *Client) Do(ctx context.Context, path string, body []byte) (*Response, error) {
	resp, err := c.post(ctx, path, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("client: read response: %w", err)
	}
	if err := c.verify(path, resp.Header, raw); err != nil {
		return nil, err
	}
	return &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: raw}, nil
}

// post signs body and posts it to path; the caller reads and closes the answer.
func (c *Client) post(ctx context.Context, path string, body []byte) (*http.Response, error) {
	reqTime := strconv.FormatInt(c.cfg.Now().UnixMilli(), 10)
	sig, err := protocol.Sign(c.priv, protocol.SigningContent(http.MethodPost, path, c.cfg.ClientID, reqTime, body))
	if err != nil {
		return nil, fmt.Errorf("client: sign: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header.Set("client-id", c.cfg.ClientID)
	req.Header.Set("request-time", reqTime)
	req.Header.Set("signature", protocol.SignatureHeader{KeyVersion: c.cfg.KeyVersion, Signature: sig}.String())
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: post %s: %w", path, err)
	}
	return resp, nil
}

func (c *Client) verify(path string, h http.Header, body []byte) error {
	sh, respTime, err := signatureOf(h)
	if err != nil {
		return err
	}
	// Sign over our own client id, as the Java, PHP and .NET SDKs do: a response carrying another
	// merchant's id must not verify.
	content := protocol.SigningContent(http.MethodPost, path, c.cfg.ClientID, respTime, body)
	if err := protocol.Verify(c.gateway, content, sh.Signature); err != nil {
		return fmt.Errorf("%w: %v", ErrSignature, err)
	}
	return nil
}

func signatureOf(h http.Header) (protocol.SignatureHeader, string, error) {
	sh, err := protocol.ParseSignatureHeader(h.Get("signature"))
	if err != nil {
		return sh, "", fmt.Errorf("%w: %v", ErrSignature, err)
	}
	respTime := h.Get("response-time")
	if respTime == "" {
		return sh, "", fmt.Errorf("%w: response-time header missing", ErrSignature)
	}
	return sh, respTime, nil
}

// Report asks a cardgate for a day's report (docs/reports.md): path is
// protocol.PathReportTransactions or protocol.PathReportSettlement. The verified answer is
// copied to w whole: the report itself (CSV, or JSON with the result first) or the gateway's
// refusal ({"result":…}), whose Result is returned (SUCCESS for a report). A report may be large,
// so the answer is spooled to a temporary file while its signature is computed, and no byte of
// it reaches w unless the signature verifies. The configured HTTPClient's timeout bounds the
// whole transfer: give a client with a longer one for large days.
func (c *Client) Report(ctx context.Context, path string, req *protocol.ReportRequest, w io.Writer) (protocol.Result, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return protocol.Result{}, fmt.Errorf("client: encode request: %w", err)
	}
	resp, err := c.post(ctx, path, body)
	if err != nil {
		return protocol.Result{}, err
	}
	defer resp.Body.Close()
	sh, respTime, err := signatureOf(resp.Header)
	if err != nil {
		return protocol.Result{}, err
	}
	f, err := os.CreateTemp("", "cardgate-report-*")
	if err != nil {
		return protocol.Result{}, fmt.Errorf("client: spool: %w", err)
	}
	name := f.Name()
	unlinked := os.Remove(name) == nil // gone with the process, whatever happens to it
	defer func() {
		f.Close()
		if !unlinked {
			os.Remove(name)
		}
	}()
	h := protocol.ContentHash(http.MethodPost, path, c.cfg.ClientID, respTime)
	if _, err := io.Copy(io.MultiWriter(f, h), resp.Body); err != nil {
		return protocol.Result{}, fmt.Errorf("client: read response: %w", err)
	}
	if err := protocol.VerifyHash(c.gateway, h, sh.Signature); err != nil {
		return protocol.Result{}, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return protocol.Result{}, fmt.Errorf("client: spool: %w", err)
	}
	res, err := leadingResult(f)
	if err != nil {
		return protocol.Result{}, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return protocol.Result{}, fmt.Errorf("client: spool: %w", err)
	}
	if _, err := io.Copy(w, f); err != nil {
		return res, fmt.Errorf("client: write report: %w", err)
	}
	return res, nil
}

// leadingResult is the result of a report answer: a JSON answer (a JSON report or a refusal)
// begins with its result, read without reading the rest; a CSV report has none and succeeded.
func leadingResult(r io.Reader) (protocol.Result, error) {
	br := bufio.NewReader(r)
	first, err := br.Peek(1)
	if err != nil || first[0] != '{' {
		return protocol.SuccessResult(), nil // CSV, or empty
	}
	dec := json.NewDecoder(br)
	if _, err := dec.Token(); err != nil {
		return protocol.Result{}, fmt.Errorf("client: decode response: %w", err)
	}
	key, err := dec.Token()
	if err != nil || key != "result" {
		return protocol.Result{}, fmt.Errorf("client: decode response: the answer does not begin with its result (%v)", err)
	}
	var res protocol.Result
	if err := dec.Decode(&res); err != nil {
		return protocol.Result{}, fmt.Errorf("client: decode response: %w", err)
	}
	return res, nil
}

// Call marshals req, calls the API path (such as protocol.PathPay) and decodes the verified answer
// into resp.
func (c *Client) Call(ctx context.Context, api string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("client: encode request: %w", err)
	}
	r, err := c.Do(ctx, c.Path(api), body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(r.Body, resp); err != nil {
		return fmt.Errorf("client: decode response: %w", err)
	}
	return nil
}

// Pay authorizes a card payment.
func (c *Client) Pay(ctx context.Context, req *protocol.PayRequest) (*protocol.PayResponse, error) {
	var resp protocol.PayResponse
	if err := c.Call(ctx, protocol.PathPay, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// InquiryPayment asks for a payment's current state.
func (c *Client) InquiryPayment(ctx context.Context, req *protocol.InquiryPaymentRequest) (*protocol.InquiryPaymentResponse, error) {
	var resp protocol.InquiryPaymentResponse
	if err := c.Call(ctx, protocol.PathInquiryPayment, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Capture captures an authorized payment (full amount).
func (c *Client) Capture(ctx context.Context, req *protocol.CaptureRequest) (*protocol.CaptureResponse, error) {
	var resp protocol.CaptureResponse
	if err := c.Call(ctx, protocol.PathCapture, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Cancel voids a payment that is in process or authorized but not captured.
func (c *Client) Cancel(ctx context.Context, req *protocol.CancelRequest) (*protocol.CancelResponse, error) {
	var resp protocol.CancelResponse
	if err := c.Call(ctx, protocol.PathCancel, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Refund refunds part or all of a captured payment.
func (c *Client) Refund(ctx context.Context, req *protocol.RefundRequest) (*protocol.RefundResponse, error) {
	var resp protocol.RefundResponse
	if err := c.Call(ctx, protocol.PathRefund, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// InquiryRefund asks for a refund's state.
func (c *Client) InquiryRefund(ctx context.Context, req *protocol.InquiryRefundRequest) (*protocol.InquiryRefundResponse, error) {
	var resp protocol.InquiryRefundResponse
	if err := c.Call(ctx, protocol.PathInquiryRefund, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Consult asks which payment options (cards, brands, installment plans) an amount has.
func (c *Client) Consult(ctx context.Context, req *protocol.ConsultRequest) (*protocol.ConsultResponse, error) {
	var resp protocol.ConsultResponse
	if err := c.Call(ctx, protocol.PathConsult, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// own posts one of cardgate's own calls (a path outside the Antom prefix) and decodes its answer.
func (c *Client) own(ctx context.Context, path string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("client: encode request: %w", err)
	}
	r, err := c.Do(ctx, path, body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(r.Body, resp); err != nil {
		return fmt.Errorf("client: decode response: %w", err)
	}
	return nil
}

// Force sets, replaces or clears one of the merchant's forced results in a cardgate sandbox
// (an empty Operation only lists them) and returns the forces in effect.
func (c *Client) Force(ctx context.Context, req *protocol.ForceRequest) (*protocol.ForceResponse, error) {
	var resp protocol.ForceResponse
	if err := c.own(ctx, protocol.PathSandboxForce, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Reset deletes the merchant's test data in a cardgate sandbox and, unless req.KeepClock, puts
// the sandbox clock back on real time.
func (c *Client) Reset(ctx context.Context, req *protocol.ResetRequest) (*protocol.ResetResponse, error) {
	var resp protocol.ResetResponse
	if err := c.own(ctx, protocol.PathSandboxReset, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// AdvanceClock moves a cardgate sandbox's clock forward by duration (Go syntax plus a "d" suffix:
// "15m", "7d1m") and returns once everything that became due has run.
func (c *Client) AdvanceClock(ctx context.Context, duration string) (*protocol.ClockAdvanceResponse, error) {
	body, err := json.Marshal(protocol.ClockAdvanceRequest{Duration: duration})
	if err != nil {
		return nil, err
	}
	r, err := c.Do(ctx, protocol.PathSandboxClockAdvance, body)
	if err != nil {
		return nil, err
	}
	var resp protocol.ClockAdvanceResponse
	if err := json.Unmarshal(r.Body, &resp); err != nil {
		return nil, fmt.Errorf("client: decode response: %w", err)
	}
	return &resp, nil
}
