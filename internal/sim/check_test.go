package sim

import (
	"context"
	"fmt"
	"sort"

	"github.com/cardgate/cardgate/internal/notify"
	"github.com/cardgate/cardgate/protocol"
)

// The invariants of docs/design.md, read from the database after every step.

type payRow struct {
	id, reqID, state, capture, closeReason, code, voidState string
	amount, captured, refunded, authorizedAt                int64
	sealed                                                  bool
	types                                                   string
	acquirerRef                                             string
	acquirerState, normalURL                                string
	version, events                                         int
	notifyURL                                               string
}

type txnRow struct {
	id, paymentID, typ, status, code, types string
	amount                                  int64
}

type outboxRow struct {
	id                                   int64
	notifyType, ref, paymentID, status   string
	attempts, scheduledTries, deliveries int
	// What the body says: the result and the payment it is about.
	code, resultStatus, bodyPaymentID string
}

func (w *world) query(q string, scan func(func(...any) error) error) {
	rows, err := w.raw.Raw().Query(context.Background(), q)
	if err != nil {
		w.violatef("query: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows.Scan); err != nil {
			w.violatef("scan: %v", err)
			return
		}
	}
	if err := rows.Err(); err != nil {
		w.violatef("rows: %v", err)
	}
}

// check asserts the invariants; final adds what must hold once every deadline has passed.
func (w *world) check(final bool) {
	// The store has one connection, so its total_changes() counts every write of the process.
	var changes int64
	if err := w.raw.Raw().QueryRow(context.Background(), `SELECT total_changes()`).Scan(&changes); err != nil {
		w.violatef("total_changes: %v", err)
	}
	if changes == w.changes && !final {
		return
	}
	w.changes = changes
	var pays []payRow
	w.query(`SELECT payment_id, request_id, state, capture_state, close_reason, result_code, void_state, amount_minor, captured_minor,
		refunded_minor, authorized_at, sealed_card <> '', typeof(amount_minor) || typeof(captured_minor) || typeof(refunded_minor),
		coalesce(json_extract(auth, '$.acquirerTransactionId'), ''), acquirer_state, coalesce(json_extract(order_details, '$.normalUrl'), ''),
		version, (SELECT count(*) FROM payment_events e WHERE e.payment_id = payments.payment_id
			AND NOT (e.op = 'CAPTURE' AND EXISTS (SELECT 1 FROM payment_events a
				WHERE a.payment_id = e.payment_id AND a.op = 'AUTH_APPROVED' AND a.rowid = e.rowid - 1)
				AND EXISTS (SELECT 1 FROM transactions t WHERE t.txn_id = e.txn_id AND t.internal = 1))),
		coalesce(json_extract(order_details, '$.notifyUrl'), '') FROM payments`,
		func(scan func(...any) error) error {
			var p payRow
			err := scan(&p.id, &p.reqID, &p.state, &p.capture, &p.closeReason, &p.code, &p.voidState, &p.amount, &p.captured, &p.refunded,
				&p.authorizedAt, &p.sealed, &p.types, &p.acquirerRef, &p.acquirerState, &p.normalURL, &p.version, &p.events, &p.notifyURL)
			pays = append(pays, p)
			return err
		})
	var txns []txnRow
	w.query(`SELECT txn_id, payment_id, txn_type, status, result_code, amount_minor, typeof(amount_minor) FROM transactions ORDER BY rowid`,
		func(scan func(...any) error) error {
			var t txnRow
			err := scan(&t.id, &t.paymentID, &t.typ, &t.status, &t.code, &t.amount, &t.types)
			txns = append(txns, t)
			return err
		})
	var outbox []outboxRow
	w.query(`SELECT id, notify_type, ref, payment_id, status, attempts,
		(SELECT count(*) FROM notify_attempts a WHERE a.outbox_id = o.id AND a.manual = 0),
		(SELECT count(*) FROM notify_attempts a WHERE a.outbox_id = o.id AND a.delivered = 1),
		coalesce(json_extract(body, '$.result.resultCode'), ''), coalesce(json_extract(body, '$.result.resultStatus'), ''),
		coalesce(json_extract(body, '$.paymentId'), '') FROM outbox o ORDER BY id`,
		func(scan func(...any) error) error {
			var o outboxRow
			err := scan(&o.id, &o.notifyType, &o.ref, &o.paymentID, &o.status, &o.attempts, &o.scheduledTries, &o.deliveries,
				&o.code, &o.resultStatus, &o.bodyPaymentID)
			outbox = append(outbox, o)
			return err
		})

	type disputeRow struct {
		id, paymentID, state string
		amount               int64
	}
	disputesOf := map[string][]disputeRow{}
	disputeByID := map[string]disputeRow{}
	w.query(`SELECT dispute_id, payment_id, state, amount_minor FROM disputes ORDER BY rowid`, func(scan func(...any) error) error {
		var d disputeRow
		err := scan(&d.id, &d.paymentID, &d.state, &d.amount)
		disputesOf[d.paymentID] = append(disputesOf[d.paymentID], d)
		disputeByID[d.id] = d
		return err
	})
	disputedCol, chargebackDue := map[string]int64{}, map[string]bool{}
	w.query(`SELECT payment_id, disputed_minor, chargeback_at FROM payments`, func(scan func(...any) error) error {
		var id string
		var disputed, at int64
		err := scan(&id, &disputed, &at)
		disputedCol[id], chargebackDue[id] = disputed, at > 0
		return err
	})

	byReq := map[string]*simPay{}
	for _, sp := range w.pays {
		byReq[sp.reqID] = sp
	}
	txnsOf := map[string][]txnRow{}
	txnByID := map[string]txnRow{}
	for _, t := range txns {
		txnsOf[t.paymentID] = append(txnsOf[t.paymentID], t)
		txnByID[t.id] = t
		if t.types != "integer" {
			w.violatef("transaction %s amount stored as %s", t.typ, t.types)
		}
		// A final transaction keeps its result.
		now := t.status + "/" + t.code
		if seen, ok := w.txnFinalSeen[t.id]; ok && seen != now {
			w.violatef("%s transaction went from %s to %s", t.typ, seen, now)
		}
		if t.status != "PROCESSING" {
			w.txnFinalSeen[t.id] = now
		}
	}
	notices := map[[2]string]int{}
	resultNotice, txnNotice := map[string]outboxRow{}, map[string]outboxRow{}
	for _, o := range outbox {
		notices[[2]string{o.notifyType, o.ref}]++
		if o.notifyType == protocol.NotifyTypePaymentResult {
			resultNotice[o.ref] = o
		} else {
			txnNotice[o.ref] = o
		}
		// Delivery: at least once, or retried on the schedule until the attempts run out.
		switch {
		case o.attempts != o.scheduledTries:
			w.violatef("notification %d counts %d attempts, %d were made", o.id, o.attempts, o.scheduledTries)
		case o.status == string(notify.StatusDelivered) && o.deliveries == 0:
			w.violatef("notification %d is DELIVERED without an acknowledged attempt", o.id)
		case o.status == string(notify.StatusFailed) && o.attempts != len(notify.Schedule):
			w.violatef("notification %d FAILED after %d attempts", o.id, o.attempts)
		case o.status == string(notify.StatusPending) && (o.attempts >= len(notify.Schedule) || o.deliveries > 0):
			w.violatef("notification %d still PENDING after %d attempts, %d acknowledged", o.id, o.attempts, o.deliveries)
		case final && o.status == string(notify.StatusPending):
			w.violatef("notification %d (%s) still PENDING after its whole schedule", o.id, o.notifyType)
		}
	}

	perRequest := map[string]int{}
	for _, p := range pays {
		perRequest[p.reqID]++
		sp := byReq[p.reqID]
		name := p.reqID
		if sp != nil {
			name = fmt.Sprintf("#%d (%s)", sp.idx, sp.card.name)
		}
		bad := func(format string, args ...any) { w.violatef("payment %s: "+format, append([]any{name}, args...)...) }

		// Every transition writes its event in the same transaction: one per version, but for
		// the CAPTURE an automatic approval reserves in its own commit (the event right after
		// AUTH_APPROVED; one writer at a time numbers the rows of a commit in a row).
		if p.events != p.version {
			bad("version %d with %d events", p.version, p.events)
		}
		if p.types != "integerintegerinteger" {
			bad("amounts stored as %s", p.types)
		}
		// Invariant 2: captured ≤ authorized, captured at most once.
		var capturedTxns, capturedSum, refundSum int64
		var cancels int
		for _, t := range txnsOf[p.id] {
			switch {
			case t.typ == "CAPTURE" && t.status == "SUCCESS":
				capturedTxns++
				capturedSum += t.amount
			case t.typ == "REFUND" && t.status != "FAIL":
				refundSum += t.amount
			case t.typ == "CANCEL" || t.typ == "VOID":
				cancels++
			}
		}
		if p.captured > p.amount || capturedTxns > 1 || capturedSum != p.captured {
			bad("captured %d of %d in %d successful captures summing %d", p.captured, p.amount, capturedTxns, capturedSum)
		}
		if (p.capture == "SUCCESS") != (capturedTxns == 1) {
			bad("capture state %q with %d successful captures", p.capture, capturedTxns)
		}
		// Invariant 3: refunds (succeeded and in process) ≤ captured.
		if refundSum > p.captured || refundSum != p.refunded {
			bad("refunds %d (column %d) of %d captured", refundSum, p.refunded, p.captured)
		}
		// Invariant 4: never captured (or capturing) and cancelled.
		if p.state == "CANCELLED" && (p.capture == "SUCCESS" || p.capture == "PROCESSING" || capturedTxns > 0) {
			bad("cancelled with capture %q", p.capture)
		}
		if cancels > 0 && (p.state != "CANCELLED" || capturedTxns > 0) {
			bad("has a cancel or void but is %s, capture %q", p.state, p.capture)
		}
		// A successful capture is never undone.
		if w.wasCaptured[p.id] && p.capture != "SUCCESS" {
			bad("capture undone: now %s/%q", p.state, p.capture)
		}
		if p.capture == "SUCCESS" {
			w.wasCaptured[p.id] = true
		}
		// A final state never changes its result; SUCCESS may only become CANCELLED, uncaptured.
		now := p.state + "/" + p.code
		if seen, ok := w.finalSeen[p.id]; ok && seen != now {
			bad("final %s became %s", seen, now)
		}
		if p.state == "FAIL" || p.state == "CANCELLED" {
			w.finalSeen[p.id] = now
		}
		if w.wasSuccess[p.id] && p.state != "SUCCESS" && p.state != "CANCELLED" {
			bad("SUCCESS became %s", p.state)
		}
		if p.state == "SUCCESS" {
			w.wasSuccess[p.id] = true
		}
		// A declined payment is never captured; a card that is never approved never is.
		if p.state == "FAIL" && (p.capture != "" || p.captured != 0 || len(txnsOf[p.id]) > 0) {
			bad("failed with capture %q, %d transactions", p.capture, len(txnsOf[p.id]))
		}
		if sp != nil && sp.card.neverApproved && (p.state == "SUCCESS" || p.authorizedAt != 0) {
			bad("the card is never approved, the payment is %s", p.state)
		}
		// Card data is sealed only while the authorization is still to come.
		if p.sealed && p.state != "PROCESSING" {
			bad("sealed card kept in state %s", p.state)
		}
		// normalUrl is the 3-D Secure page's address: there while the buyer has a page to go to,
		// gone with the sealed card once the authorization that follows the page is recorded.
		challengeOpen := p.state == "PROCESSING" && p.sealed && p.acquirerState == ""
		if (challengeOpen && p.normalURL == "") || (p.normalURL != "" && !p.sealed) {
			bad("normalUrl %q stored in %s (acquirer %q, sealed card %v)", p.normalURL, p.state, p.acquirerState, p.sealed)
		}
		// Invariant 5: one PAYMENT_RESULT per payment whose result became known (approved,
		// declined or expired); none while in process or for a payment cancelled before approval.
		// Nothing is notified where no notify URL is known.
		want := 0
		if p.notifyURL != "" && (p.state == "SUCCESS" || p.state == "FAIL" || (p.state == "CANCELLED" && p.authorizedAt != 0)) {
			want = 1
		}
		if got := notices[[2]string{protocol.NotifyTypePaymentResult, p.id}]; got != want {
			bad("%d PAYMENT_RESULT notifications in state %s (authorized=%v), want %d", got, p.state, p.authorizedAt != 0, want)
		}
		if o, ok := resultNotice[p.id]; ok {
			// The notification tells the result the payment has kept: approved, or the decline
			// or expiry code it still shows.
			switch {
			case o.bodyPaymentID != p.id:
				bad("PAYMENT_RESULT %d is about payment %q", o.id, o.bodyPaymentID)
			case p.authorizedAt != 0 && (o.code != "SUCCESS" || o.resultStatus != "S"):
				bad("approved, notified %s/%s", o.code, o.resultStatus)
			case p.authorizedAt == 0 && (o.code != p.code || o.resultStatus != "F"):
				bad("%s/%s, notified %s/%s", p.state, p.code, o.code, o.resultStatus)
			}
		}
		for _, t := range txnsOf[p.id] {
			typ := map[string]string{"CAPTURE": protocol.NotifyTypeCaptureResult, "REFUND": protocol.NotifyTypeRefundResult}[t.typ]
			if typ == "" {
				continue
			}
			want := 0
			if t.status != "PROCESSING" && (p.notifyURL != "" || t.typ == "REFUND") {
				want = 1 // a refund may name its own notify URL; the simulation's always do
			}
			if got := notices[[2]string{typ, t.id}]; got != want {
				bad("%d %s notifications for a %s %s, want %d", got, typ, t.status, t.typ, want)
			}
			if o, ok := txnNotice[t.id]; ok && o.code != t.code {
				bad("%s %s/%s notified %s", t.typ, t.status, t.code, o.code)
			}
		}
		// Disputes (issue 15): what they claim is the payment's disputed_minor; refunds and
		// claims never exceed the capture, nor do refunds and dispute debits; only a captured
		// payment is disputed; each dispute is told once opened, and a final one stays final.
		var claimed, debited int64
		for _, d := range disputesOf[p.id] {
			if d.state != "CANCELLED" {
				claimed += d.amount
			}
			if d.state == "ACCEPTED" || d.state == "LOST" {
				debited += d.amount
			}
			if seen, ok := w.disputeFinalSeen[d.id]; ok && seen != d.state {
				bad("dispute went from %s to %s", seen, d.state)
			}
			if d.state != "OPEN" && d.state != "DEFENDED" {
				w.disputeFinalSeen[d.id] = d.state
			} else if final {
				bad("dispute still %s after every deadline", d.state)
			}
			if got := notices[[2]string{"DISPUTE_CREATED", d.id}]; p.notifyURL != "" && got != 1 {
				bad("%d DISPUTE_CREATED notifications for a dispute", got)
			}
		}
		if len(disputesOf[p.id]) > 0 && p.capture != "SUCCESS" {
			bad("disputed with capture %q", p.capture)
		}
		if claimed != disputedCol[p.id] || refundSum+claimed > p.captured || refundSum+debited > p.captured {
			bad("disputes claim %d (column %d), %d debited, refunds %d, of %d captured", claimed, disputedCol[p.id], debited, refundSum, p.captured)
		}
		if final && chargebackDue[p.id] {
			bad("an announced chargeback never opened")
		}
		if final {
			w.checkSettled(p, name, txnsOf[p.id])
		}
	}
	// Invariant 1: one payment per (merchant, paymentRequestId).
	for req, n := range perRequest {
		if n > 1 {
			w.violatef("%d payments for request id %s", n, req)
		}
	}
	for _, o := range outbox {
		if d, isDispute := disputeByID[o.ref]; isDispute {
			if d.paymentID != o.paymentID {
				w.violatef("notification %d (%s) is about another payment's dispute", o.id, o.notifyType)
			}
			continue
		}
		if o.notifyType != protocol.NotifyTypePaymentResult {
			if t, ok := txnByID[o.ref]; !ok || t.paymentID != o.paymentID {
				w.violatef("notification %d (%s) is about no transaction of its payment", o.id, o.notifyType)
			}
		}
	}
}

// checkSettled is what must hold once every deadline has passed and the due work ran without
// faults: nothing in process, no void owed, no authorization left uncaptured, and what the
// acquirer did agrees with what the gateway recorded.
func (w *world) checkSettled(p payRow, name string, txns []txnRow) {
	bad := func(format string, args ...any) {
		w.violatef("settled payment %s: "+format, append([]any{name}, args...)...)
	}
	if p.state == "PROCESSING" || p.capture == "PROCESSING" {
		bad("still in process: %s, capture %q", p.state, p.capture)
	}
	if p.state == "SUCCESS" && p.capture != "SUCCESS" {
		bad("authorization neither captured nor voided after its validity")
	}
	if p.voidState == "PENDING" {
		bad("a void is still owed to the acquirer")
	}
	// At every acquirer the payment reached: its approval was captured, voided or reversed, and
	// at most one of them still holds the money.
	names := make([]string, 0, len(w.ledger.Acquirers))
	for name := range w.ledger.Acquirers {
		names = append(names, name)
	}
	sort.Strings(names)
	var holding []string
	for _, acq := range names {
		key := Key(acq, p.id)
		ref, approved := w.ledger.Approved[key]
		switch {
		case !approved:
		case w.ledger.Captured[ref]:
			if p.capture != "SUCCESS" || p.acquirerRef != ref {
				bad("captured at %s, %s/%q at the gateway (its authorization %q)", acq, p.state, p.capture, p.acquirerRef)
			}
		case w.ledger.Voided[ref]:
		case w.ledger.Reversed[key]:
			// Released by the gateway's reference: the answer to the authorization was lost.
			w.reversedHolds++
		case p.acquirerRef == ref:
			bad("approved at %s, never captured nor voided (gateway: %s)", acq, p.state)
		default:
			bad("approved at %s, the answer lost, and never reversed (gateway: %s)", acq, p.state)
		}
		if approved && !w.ledger.Voided[ref] && !w.ledger.Reversed[key] {
			holding = append(holding, acq)
		}
	}
	if len(holding) > 1 {
		bad("authorized at %d acquirers at once: %v", len(holding), holding)
	}
	for _, t := range txns {
		if _, refunded := w.ledger.Refunds[t.id]; refunded && t.status != "SUCCESS" {
			bad("refund done by the acquirer is %s at the gateway", t.status)
		}
	}
}
