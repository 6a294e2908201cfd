package dashboard

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/disputes"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/routing"
	"github.com/cardgate/cardgate/internal/sandbox"
	"github.com/cardgate/cardgate/protocol"
)

// maxUpload is the largest defense document (disputes.MaxEvidence, before base64).
const maxUpload = disputes.MaxEvidence

// reason is what a refused change tells the user: the message of the gateway's own error (the
// same the API would answer), or a generic sentence for an internal fault.
func reason(err error) (string, bool) {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Message, true
	}
	return "", false
}

// --- disputes ---

type disputesView struct {
	Rows       []disputeRow
	CanAct     bool
	MaxUpload  string
	ActionFail string
}

type disputeRow struct {
	disputes.Dispute
	Amount     string
	Defendable bool
}

func (h *Handler) disputeList(c *call) { h.renderDisputes(c, 200, "") }

func (h *Handler) renderDisputes(c *call, status int, problem string) {
	v := &disputesView{CanAct: h.cfg.Disputes != nil, MaxUpload: "2 MiB", Rows: []disputeRow{}}
	if c.m.ClientID != "" {
		ds, err := h.cfg.Store.MerchantDisputes(c.ctx(), c.m.ClientID, 200)
		if err != nil {
			h.fail(c, err)
			return
		}
		for _, d := range ds {
			amt := fmt.Sprintf("%d %s", d.AmountMinor, d.Currency)
			if cur, ok := money.Lookup(d.Currency); ok {
				amt = money.Amount{Currency: cur, Minor: d.AmountMinor}.String()
			}
			v.Rows = append(v.Rows, disputeRow{Dispute: d, Amount: amt, Defendable: d.State == disputes.Open})
		}
	}
	p := h.page(c, "Disputes", "disputes", v)
	p.Error = problem
	h.render(c, status, "disputes", p)
}

// disputeAction runs an accept or a defense and shows the outcome; a refusal (the dispute is no
// longer open, the file is too large) is shown on the list, and nothing changed.
func (h *Handler) disputeAction(c *call, done string, act func(id string) error) {
	id := c.r.PathValue("id")
	if h.cfg.Disputes == nil || c.m.ClientID == "" {
		h.notFound(c)
		return
	}
	err := act(id)
	if err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) && pe.Code == protocol.CodeOrderNotExist || errors.Is(err, disputes.ErrNotFound) {
			h.notFound(c)
			return
		}
		if msg, ok := reason(err); ok {
			h.renderDisputes(c, 422, msg)
			return
		}
		h.fail(c, err)
		return
	}
	h.cfg.Log.InfoContext(c.ctx(), "console: dispute "+done, "user", c.user.Username, "merchant", c.m.ClientID, "disputeId", id)
	h.redirect(c, h.page(c, "", "", nil), "disputes", done)
}

func (h *Handler) acceptDispute(c *call) {
	h.disputeAction(c, "accepted", func(id string) error {
		_, err := h.cfg.Disputes.Accept(c.ctx(), c.m.ClientID, id)
		return err
	})
}

func (h *Handler) defendDispute(c *call) {
	h.disputeAction(c, "defended", func(id string) error {
		f, _, err := c.r.FormFile("defense")
		if err != nil {
			return protocol.Errorf(protocol.CodeParamIllegal, "choose the defense document to upload")
		}
		defer f.Close()
		raw, err := io.ReadAll(io.LimitReader(f, maxUpload+1))
		if err != nil {
			return fmt.Errorf("read the upload: %w", err)
		}
		if len(raw) == 0 {
			return protocol.Errorf(protocol.CodeParamIllegal, "the defense document is empty")
		}
		// The dispute service takes the document as the wire carries it, and checks its size.
		_, err = h.cfg.Disputes.SupplyDefense(c.ctx(), c.m.ClientID, id, base64.StdEncoding.EncodeToString(raw))
		return err
	})
}

// --- routing rules ---

type routingView struct {
	Document  string
	UpdatedAt time.Time
	Acquirers []string
	Stored    bool
}

func (h *Handler) acquirers() []string {
	if h.cfg.Acquirers == nil {
		return nil
	}
	return h.cfg.Acquirers()
}

func (h *Handler) routingPage(c *call) {
	v := &routingView{Acquirers: h.acquirers()}
	if c.m.ClientID != "" {
		raw, at, err := h.cfg.Store.RoutingRules(c.ctx(), c.m.ClientID)
		if err != nil {
			h.fail(c, err)
			return
		}
		v.Document, v.UpdatedAt, v.Stored = pretty(raw), at, raw != nil
	}
	if v.Document == "" {
		v.Document = "{\n  \"rules\": []\n}"
	}
	h.render(c, 200, "routing", h.page(c, "Routing rules", "routing", v))
}

func pretty(raw []byte) string {
	if raw == nil {
		return ""
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return string(raw)
	}
	return string(b)
}

// setRouting validates the document as the signed routing/set call does; a refused one is shown
// again with the error naming its field, and the stored rules stay as they were.
func (h *Handler) setRouting(c *call) {
	if c.m.ClientID == "" {
		h.notFound(c)
		return
	}
	text := c.r.PostFormValue("document")
	doc, err := routing.Parse([]byte(text), h.acquirers())
	if err == nil {
		var raw []byte
		if raw, err = routing.Marshal(doc); err == nil {
			err = h.cfg.Store.SetRoutingRules(c.ctx(), c.m.ClientID, raw, h.cfg.Wall.Now().Truncate(time.Millisecond))
		}
	}
	if err != nil {
		msg, ok := reason(err)
		if !ok {
			h.fail(c, err)
			return
		}
		_, at, _ := h.cfg.Store.RoutingRules(c.ctx(), c.m.ClientID)
		p := h.page(c, "Routing rules", "routing", &routingView{Document: text, UpdatedAt: at, Acquirers: h.acquirers(), Stored: !at.IsZero()})
		p.Error = "Refused, the rules in force are unchanged: " + msg
		h.render(c, 422, "routing", p)
		return
	}
	h.cfg.Log.InfoContext(c.ctx(), "console: routing rules set", "user", c.user.Username, "merchant", c.m.ClientID)
	h.redirect(c, h.page(c, "", "", nil), "routing", "routing")
}

// --- settings ---

type keyView struct{ Version, Key string }

type settingsView struct {
	NotifyURL  string
	GatewayKey string
	Keys       []keyView
	NextKey    string
}

func (h *Handler) settingsPage(c *call) { h.renderSettings(c, 200, "", c.m.NotifyURL) }

func (h *Handler) renderSettings(c *call, status int, problem, notifyURL string) {
	v := &settingsView{NotifyURL: notifyURL, GatewayKey: h.cfg.GatewayPublicKey}
	max := 0
	for ver, k := range c.m.PublicKeys {
		v.Keys = append(v.Keys, keyView{Version: ver, Key: k})
		if n, err := strconv.Atoi(ver); err == nil && n > max {
			max = n
		}
	}
	sortKeys(v.Keys)
	v.NextKey = strconv.Itoa(max + 1)
	p := h.page(c, "Settings", "settings", v)
	p.Error = problem
	h.render(c, status, "settings", p)
}

func sortKeys(ks []keyView) {
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && less(ks[j].Version, ks[j-1].Version); j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
}

func less(a, b string) bool {
	x, ea := strconv.Atoi(a)
	y, eb := strconv.Atoi(b)
	if ea == nil && eb == nil {
		return x < y
	}
	return a < b
}

// setNotifyURL checks the URL as the merchant settings call does; "" clears it.
func (h *Handler) setNotifyURL(c *call) {
	if c.m.ClientID == "" {
		h.notFound(c)
		return
	}
	u := strings.TrimSpace(c.r.PostFormValue("notifyUrl"))
	if u != "" {
		if err := payments.ValidateNotifyURL("notifyUrl", u); err != nil {
			msg, _ := reason(err)
			h.renderSettings(c, 422, "Refused: "+msg, u)
			return
		}
	}
	if err := h.cfg.Store.SetNotifyURL(c.ctx(), c.m.ClientID, u); err != nil {
		h.fail(c, err)
		return
	}
	h.cfg.Log.InfoContext(c.ctx(), "console: notify URL set", "user", c.user.Username, "merchant", c.m.ClientID)
	h.redirect(c, h.page(c, "", "", nil), "settings", "notify")
}

// addKey registers a new version of the merchant's public key: requests signed with either
// version verify from then on, so a merchant rotates its key without downtime.
func (h *Handler) addKey(c *call) {
	if c.m.ClientID == "" {
		h.notFound(c)
		return
	}
	version := strings.TrimSpace(c.r.PostFormValue("version"))
	raw := strings.TrimSpace(c.r.PostFormValue("publicKey"))
	if f, _, err := c.r.FormFile("publicKeyFile"); err == nil {
		b, _ := io.ReadAll(io.LimitReader(f, 16<<10))
		f.Close()
		if s := strings.TrimSpace(string(b)); s != "" {
			raw = s
		}
	}
	if version == "" || len(version) > 16 || strings.Trim(version, "0123456789") != "" {
		h.renderSettings(c, 422, "Refused: the key version must be a number, such as 2.", c.m.NotifyURL)
		return
	}
	pub, err := protocol.ParsePublicKey(raw)
	if err != nil {
		h.renderSettings(c, 422, "Refused: the public key must be an RSA public key, base64 DER or PEM.", c.m.NotifyURL)
		return
	}
	enc, err := protocol.EncodePublicKey(pub)
	if err != nil {
		h.fail(c, err)
		return
	}
	err = h.cfg.Store.AddMerchantKey(c.ctx(), c.m.ClientID, version, enc)
	if errors.Is(err, ErrKeyExists) {
		h.renderSettings(c, 422, "Refused: key version "+version+" is already registered; keys never change once registered.", c.m.NotifyURL)
		return
	}
	if errors.Is(err, merchant.ErrNotFound) {
		h.notFound(c)
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	h.cfg.Log.InfoContext(c.ctx(), "console: merchant key added", "user", c.user.Username, "merchant", c.m.ClientID, "keyVersion", version)
	h.redirect(c, h.page(c, "", "", nil), "settings", "key")
}

// --- sandbox ---

type sandboxView struct {
	Now        time.Time
	Forces     []sandbox.Force
	Operations []opCodes
}

// opCodes are the results that can be forced on an operation.
type opCodes struct {
	Operation string
	Codes     []protocol.Code
}

func (h *Handler) sandboxPage(c *call) { h.renderSandbox(c, 200, "") }

func (h *Handler) renderSandbox(c *call, status int, problem string) {
	if h.cfg.Sandbox == nil {
		h.notFound(c)
		return
	}
	v := &sandboxView{Now: h.cfg.Sandbox.Now()}
	for _, op := range []sandbox.Operation{sandbox.Pay, sandbox.Capture, sandbox.Refund} {
		v.Operations = append(v.Operations, opCodes{Operation: string(op), Codes: sandbox.Codes(op)})
	}
	if c.m.ClientID != "" {
		fs, err := h.cfg.Sandbox.Forces(c.ctx(), c.m.ClientID)
		if err != nil {
			h.fail(c, err)
			return
		}
		v.Forces = fs
	}
	p := h.page(c, "Sandbox", "sandbox", v)
	p.Error = problem
	h.render(c, status, "sandbox", p)
}

func (h *Handler) advance(c *call) {
	if h.cfg.Sandbox == nil {
		h.notFound(c)
		return
	}
	raw := strings.TrimSpace(c.r.PostFormValue("duration"))
	d, err := clock.ParseDuration(raw)
	if err != nil || d <= 0 {
		h.renderSandbox(c, 422, fmt.Sprintf("Refused: the duration %q must be positive, such as 15m, 2h or 7d1m.", raw))
		return
	}
	now, err := h.cfg.Sandbox.Advance(c.ctx(), d)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.cfg.Log.InfoContext(c.ctx(), "console: sandbox clock advanced", "user", c.user.Username, "by", d, "now", now)
	h.redirect(c, h.page(c, "", "", nil), "sandbox", "advanced")
}

func (h *Handler) force(c *call) {
	if h.cfg.Sandbox == nil || c.m.ClientID == "" {
		h.notFound(c)
		return
	}
	code := strings.TrimSpace(c.r.PostFormValue("code"))
	count := 0 // without a code: clear
	if code != "" {
		count = 1 // as the force call: one answer unless told
	}
	if raw := strings.TrimSpace(c.r.PostFormValue("count")); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil {
			h.renderSandbox(c, 422, "Refused: the count must be a whole number (0 clears).")
			return
		}
		count = n
	}
	f, err := sandbox.ParseForce(c.r.PostFormValue("operation"), code, count)
	if err != nil {
		msg, _ := reason(err)
		h.renderSandbox(c, 422, "Refused: "+msg)
		return
	}
	if err := h.cfg.Sandbox.SetForce(c.ctx(), c.m.ClientID, f, h.cfg.Wall.Now()); err != nil {
		h.fail(c, err)
		return
	}
	h.cfg.Log.InfoContext(c.ctx(), "console: forced result set", "user", c.user.Username, "merchant", c.m.ClientID, "operation", f.Operation, "code", f.Code, "count", f.Remaining)
	h.redirect(c, h.page(c, "", "", nil), "sandbox", "forced")
}

func (h *Handler) reset(c *call) {
	if h.cfg.Sandbox == nil || c.m.ClientID == "" {
		h.notFound(c)
		return
	}
	deleted, err := h.cfg.Sandbox.ResetMerchant(c.ctx(), c.m.ClientID)
	if err != nil {
		h.fail(c, err)
		return
	}
	if c.r.PostFormValue("keepClock") == "" {
		if _, err := h.cfg.Sandbox.ResetClock(c.ctx()); err != nil {
			h.fail(c, err)
			return
		}
	}
	h.cfg.Log.InfoContext(c.ctx(), "console: sandbox reset", "user", c.user.Username, "merchant", c.m.ClientID, "deleted", deleted)
	h.redirect(c, h.page(c, "", "", nil), "sandbox", "reset")
}
