package dashboard

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cardgate/cardgate/internal/disputes"
	"github.com/cardgate/cardgate/internal/money"
	"github.com/cardgate/cardgate/internal/notify"
	"github.com/cardgate/cardgate/internal/payments"
)

// PageSize is the number of payments a list page shows.
const PageSize = 50

// paymentFilter is the list's form, as typed: it is shown back as it was.
type paymentFilter struct {
	Status, From, To, Min, Max, LastFour, ID string
}

func (f paymentFilter) pairs() []string {
	return []string{"status", f.Status, "from", f.From, "to", f.To, "min", f.Min, "max", f.Max, "last4", f.LastFour, "id", f.ID}
}

// paymentRow is one payment as a list shows it: the masked summary only.
type paymentRow struct {
	ID, RequestID, Amount, State, Result, Brand, LastFour, Acquirer string
	Created                                                         time.Time
}

func rowOf(p payments.Payment) paymentRow {
	return paymentRow{ID: p.ID, RequestID: p.RequestID, Amount: p.Amount.String(), State: string(p.State), Result: string(p.ResultCode),
		Brand: p.Card.Brand, LastFour: p.Card.LastFour, Acquirer: p.Auth.AcquirerName, Created: p.CreatedAt}
}

type paymentsView struct {
	Filter   paymentFilter
	States   []string
	Rows     []paymentRow
	Next     string // the link to the next (older) page; empty on the last
	Problems []string
	Deep     bool   // a page after the first
	First    string // the first page of the same search
}

// parseQuery turns the form into a store query; problems name the fields it could not read.
func parseQuery(v url.Values) (PaymentQuery, paymentFilter, []string) {
	f := paymentFilter{Status: v.Get("status"), From: v.Get("from"), To: v.Get("to"), Min: strings.TrimSpace(v.Get("min")),
		Max: strings.TrimSpace(v.Get("max")), LastFour: strings.TrimSpace(v.Get("last4")), ID: strings.TrimSpace(v.Get("id"))}
	var q PaymentQuery
	var problems []string
	if f.Status != "" {
		if !slices.Contains(states, f.Status) {
			problems = append(problems, "Status must be one of "+strings.Join(states, ", ")+".")
		} else {
			q.State = payments.State(f.Status)
		}
	}
	date := func(name, raw string, dst *time.Time, endOfDay bool) {
		if raw == "" {
			return
		}
		t, err := time.Parse("2006-01-02", raw)
		if err != nil {
			problems = append(problems, name+" must be a date such as 2026-11-21.")
			return
		}
		if endOfDay {
			t = t.Add(24 * time.Hour) // the "to" day is included
		}
		*dst = t
	}
	date("From", f.From, &q.From, false)
	date("To", f.To, &q.To, true)
	amount := func(name, raw string, dst *int64) {
		if raw == "" {
			return
		}
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n <= 0 || len(raw) > money.MaxDigits {
			problems = append(problems, name+" must be a whole number of minor units, such as 4200 for 42.00 SGD.")
			return
		}
		*dst = n
	}
	amount("Minimum amount", f.Min, &q.MinMinor)
	amount("Maximum amount", f.Max, &q.MaxMinor)
	if f.LastFour != "" {
		if len(f.LastFour) != 4 || strings.Trim(f.LastFour, "0123456789") != "" {
			problems = append(problems, "Last four must be four digits.")
		} else {
			q.LastFour = f.LastFour
		}
	}
	if f.ID != "" && payments.ValidateID("id", f.ID) != nil {
		problems = append(problems, "The id is not a payment id or request id.")
		f.ID = ""
	}
	if after := v.Get("after"); after != "" {
		at, id, ok := strings.Cut(after, ".")
		msec, err := strconv.ParseInt(at, 10, 64)
		if !ok || err != nil || id == "" || payments.ValidateID("after", id) != nil {
			problems = append(problems, "The page link is broken: start again from the first page.")
		} else {
			q.AfterCreated, q.AfterID = time.UnixMilli(msec).UTC(), id
		}
	}
	return q, f, problems
}

var states = []string{string(payments.StateProcessing), string(payments.StateSuccess), string(payments.StateFail), string(payments.StateCancelled)}

func (h *Handler) paymentList(c *call) {
	q, f, problems := parseQuery(c.r.URL.Query())
	v := paymentsView{Filter: f, States: states, Problems: problems, Rows: []paymentRow{}, Deep: q.AfterID != ""}
	p := h.page(c, "Payments", "payments", &v)
	v.First = p.URL("payments", f.pairs()...)
	if c.m.ClientID == "" || len(problems) > 0 {
		h.render(c, 200, "payments", p)
		return
	}
	q.MerchantID, q.Limit = c.m.ClientID, PageSize+1
	var found []payments.Payment
	if f.ID != "" {
		// One box for either id: the payment's, or the merchant's paymentRequestId.
		for _, byID := range []bool{true, false} {
			qq := q
			if byID {
				qq.PaymentID = f.ID
			} else {
				qq.PaymentRequestID = f.ID
			}
			got, err := h.cfg.Store.SearchPayments(c.ctx(), qq)
			if err != nil {
				h.fail(c, err)
				return
			}
			for _, g := range got {
				if !slices.ContainsFunc(found, func(x payments.Payment) bool { return x.ID == g.ID }) {
					found = append(found, g)
				}
			}
		}
	} else {
		var err error
		if found, err = h.cfg.Store.SearchPayments(c.ctx(), q); err != nil {
			h.fail(c, err)
			return
		}
	}
	if len(found) > PageSize {
		found = found[:PageSize]
		last := found[len(found)-1]
		v.Next = p.URL("payments", append(f.pairs(), "after", fmt.Sprintf("%d.%s", last.CreatedAt.UnixMilli(), last.ID))...)
	}
	for _, pay := range found {
		v.Rows = append(v.Rows, rowOf(pay))
	}
	h.render(c, 200, "payments", p)
}

// entry is one line of a payment's timeline.
type entry struct {
	At           time.Time
	What, Detail string
	Kind         string // event, txn, dispute: the line's marker
}

type notificationView struct {
	notify.Message
	Log []notify.Attempt
}

type disputeView struct {
	disputes.Dispute
	Amount string
}

type paymentView struct {
	P             payments.Payment
	Row           paymentRow
	Captured      string
	Refunded      string
	Disputed      string
	Timeline      []entry
	Txns          []payments.Txn
	Notifications []notificationView
	Disputes      []disputeView
}

func minorOf(p payments.Payment, v int64) string {
	return money.Amount{Currency: p.Amount.Currency, Minor: v}.String()
}

func (h *Handler) paymentPage(c *call) {
	ctx := c.ctx()
	id := c.r.PathValue("id")
	if c.m.ClientID == "" || payments.ValidateID("id", id) != nil {
		h.notFound(c)
		return
	}
	pay, err := h.cfg.Store.PaymentByID(ctx, c.m.ClientID, id)
	if errors.Is(err, payments.ErrNotFound) {
		h.notFound(c) // another merchant's payment is as unknown as a made-up id
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	v, err := h.paymentView(c, pay)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.render(c, 200, "payment", h.page(c, "Payment "+pay.ID, "payments", v))
}

func (h *Handler) paymentView(c *call, pay payments.Payment) (*paymentView, error) {
	ctx, st, mid := c.ctx(), h.cfg.Store, c.m.ClientID
	v := &paymentView{P: pay, Row: rowOf(pay), Captured: minorOf(pay, pay.CapturedMinor), Refunded: minorOf(pay, pay.RefundedMinor),
		Disputed: minorOf(pay, pay.DisputedMinor)}
	evs, err := st.PaymentEvents(ctx, mid, pay.ID)
	if err != nil {
		return nil, err
	}
	if v.Txns, err = st.Txns(ctx, mid, pay.ID); err != nil {
		return nil, err
	}
	txns := map[string]payments.Txn{}
	for _, t := range v.Txns {
		txns[t.ID] = t
	}
	// A server-to-server pay that needs 3-D Secure opens its challenge as it is created: the
	// creation is the challenge's event (a hosted payment's has a CHALLENGE row of its own).
	challengedAtCreation := pay.ThreeDS.Challenged && !slices.ContainsFunc(evs, func(ev payments.Event) bool { return ev.Op == payments.OpChallenge })
	for _, ev := range evs {
		e := entry{At: ev.At, What: opLabel(ev.Op), Kind: "event", Detail: transition(ev)}
		if ev.Op == payments.OpCreate && challengedAtCreation {
			e.What += " · 3-D Secure challenge opened"
		}
		if t, ok := txns[ev.TxnID]; ok && ev.TxnID != "" {
			e.Detail += fmt.Sprintf(" · %s %s %s (%s)", t.Type, minorOf(pay, t.Amount.Minor), t.Status, t.ID)
		}
		v.Timeline = append(v.Timeline, e)
	}
	ds, err := st.DisputesOfPayment(ctx, mid, pay.ID)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		v.Disputes = append(v.Disputes, disputeView{Dispute: d, Amount: money.Amount{Currency: pay.Amount.Currency, Minor: d.AmountMinor}.String()})
		devs, err := st.DisputeEvents(ctx, mid, d.ID)
		if err != nil {
			return nil, err
		}
		for _, de := range devs {
			detail := fmt.Sprintf("%s → %s · dispute %s", orDash(string(de.From)), de.To, d.ID)
			if de.Event == "OPEN" {
				detail += fmt.Sprintf(" · %s, reason %s %s", minorOf(pay, d.AmountMinor), d.ReasonCode, d.ReasonMsg)
			}
			v.Timeline = append(v.Timeline, entry{At: de.At, What: "Dispute " + strings.ToLower(de.Event), Kind: "dispute", Detail: detail})
		}
	}
	// Events of one time keep their order: the payment's rows were written in order.
	slices.SortStableFunc(v.Timeline, func(a, b entry) int { return a.At.Compare(b.At) })
	msgs, err := st.Messages(ctx, mid, pay.ID)
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		log, err := st.Attempts(ctx, m.ID)
		if err != nil {
			return nil, err
		}
		v.Notifications = append(v.Notifications, notificationView{Message: m, Log: log})
	}
	return v, nil
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func transition(ev payments.Event) string {
	s := orDash(string(ev.From)) + " → " + string(ev.To)
	if ev.ResultCode != "" {
		s += " · " + string(ev.ResultCode)
	}
	return s
}

// opLabel names an event for people.
func opLabel(op payments.Op) string {
	if l, ok := opLabels[op]; ok {
		return l
	}
	return string(op)
}

var opLabels = map[payments.Op]string{
	payments.OpCreate:           "Payment created",
	payments.OpAuthPending:      "Acquirer did not answer in time",
	payments.OpAuthApproved:     "Authorization approved",
	payments.OpAuthDeclined:     "Authorization declined",
	payments.OpCapture:          "Capture sent",
	payments.OpCaptureSucceeded: "Captured",
	payments.OpCaptureFailed:    "Capture refused",
	payments.OpCapturePending:   "Capture pending at the acquirer",
	payments.OpCancel:           "Cancelled",
	payments.OpExpire:           "Expired",
	payments.OpAutoVoid:         "Voided: not captured in time",
	payments.OpRefund:           "Refund sent",
	payments.OpRefundSucceeded:  "Refunded",
	payments.OpRefundFailed:     "Refund refused",
	payments.OpRefundPending:    "Refund pending at the acquirer",
	payments.OpLateAuthVoided:   "Late approval voided",
	payments.OpVoidSent:         "Void confirmed by the acquirer",
	payments.OpChallenge:        "3-D Secure challenge opened",
	payments.OpChallengeRetry:   "3-D Secure: wrong code",
	payments.OpAuthenticated:    "3-D Secure: authenticated",
	payments.OpNotAuthenticated: "3-D Secure: not authenticated",
	payments.OpCardEntered:      "Card entered on the hosted page",
	payments.OpAuthUnresolved:   "Authorization unresolved: failed and reversed",
	payments.OpFailover:         "Failover to the next acquirer",
}

// resend makes one extra attempt of one of the payment's notifications.
func (h *Handler) resend(c *call) {
	ctx := c.ctx()
	id := c.r.PathValue("id")
	nid, err := strconv.ParseInt(c.r.PostFormValue("notification"), 10, 64)
	if err != nil || c.m.ClientID == "" {
		h.notFound(c)
		return
	}
	// The notification must be this payment's, and the payment this merchant's.
	msgs, err := h.cfg.Store.Messages(ctx, c.m.ClientID, id)
	if err != nil {
		h.fail(c, err)
		return
	}
	if !slices.ContainsFunc(msgs, func(m notify.Message) bool { return m.ID == nid }) {
		h.notFound(c)
		return
	}
	a, err := h.cfg.Notifier.Resend(ctx, c.m.ClientID, nid)
	if errors.Is(err, notify.ErrNotFound) {
		h.notFound(c)
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	h.cfg.Log.InfoContext(ctx, "console: notification resent", "user", c.user.Username, "merchant", c.m.ClientID, "notificationId", nid, "delivered", a.Delivered)
	h.redirect(c, h.page(c, "", "", nil), "payments/"+url.PathEscape(id), "resent")
}
