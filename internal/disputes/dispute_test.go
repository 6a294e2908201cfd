package disputes

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cardgate/cardgate/protocol"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func open() Dispute {
	return Dispute{ID: "D1", MerchantID: "M1", PaymentID: "P1", AmountMinor: 4200, Currency: "SGD", State: Open,
		OpenedAt: t0, DefenseDue: t0.Add(DefenseWindow), Version: 1}
}

// TestEveryCell walks the whole machine: every state × event, allowed or refused.
func TestEveryCell(t *testing.T) {
	states := []State{Open, Defended, Accepted, Won, Lost, Cancelled}
	events := []Event{EvAccept, EvDefend, EvAlert, EvTimeout, EvWin, EvLose, EvCancel}
	want := map[State]map[Event]struct {
		to     State
		notify string
	}{
		Open: {
			EvAccept: {Accepted, NotifyAccepted}, EvDefend: {Defended, NotifyDefenseSupplied}, EvAlert: {Open, NotifyDefenseDueAlert},
			EvTimeout: {Accepted, NotifyAccepted}, EvCancel: {Cancelled, NotifyCancelled},
		},
		Defended: {EvWin: {Won, NotifyJudged}, EvLose: {Lost, NotifyJudged}, EvCancel: {Cancelled, NotifyCancelled}},
	}
	for _, s := range states {
		for _, ev := range events {
			d := open()
			d.State = s
			st, err := Apply(d, ev, t0.Add(time.Hour))
			w, allowed := want[s][ev]
			if !allowed {
				var pe *protocol.Error
				if !errors.As(err, &pe) || pe.Code != protocol.CodeOrderStatusInvalid || !strings.Contains(err.Error(), string(s)) {
					t.Errorf("%s on %s: %v, want ORDER_STATUS_INVALID naming the state", ev, s, err)
				}
				continue
			}
			if err != nil || st.Next.State != w.to || st.Notify != w.notify || st.Next.Version != d.Version+1 {
				t.Errorf("%s on %s: %+v %v, want %s notifying %s", ev, s, st, err, w.to, w.notify)
			}
			if st.Next.State.Final() != !st.Next.ResolvedAt.IsZero() {
				t.Errorf("%s on %s: final %v but resolvedAt %v", ev, s, st.Next.State.Final(), st.Next.ResolvedAt)
			}
		}
	}
}

func TestOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		events  []Event
		state   State
		judged  string
		reason  string
		debited bool
	}{
		{"accepted by the merchant", []Event{EvAccept}, Accepted, JudgedAcceptByMerchant, AcceptMerchant, true},
		{"deadline passed", []Event{EvAlert, EvTimeout}, Accepted, JudgedAcceptByMerchant, AcceptTimeout, true},
		{"defended and won", []Event{EvDefend, EvWin}, Won, JudgedValidateSuccess, "", false},
		{"defended and lost", []Event{EvDefend, EvLose}, Lost, JudgedValidateFail, "", true},
		{"withdrawn", []Event{EvCancel}, Cancelled, JudgedAcceptByCustomer, "", false},
		{"withdrawn after the defense", []Event{EvDefend, EvCancel}, Cancelled, JudgedAcceptByCustomer, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := open()
			for _, ev := range tt.events {
				st, err := Apply(d, ev, t0.Add(time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				d = st.Next
			}
			if d.State != tt.state || d.JudgedResult != tt.judged || d.AcceptReason != tt.reason || d.State.Debited() != tt.debited {
				t.Fatalf("%+v", d)
			}
		})
	}
}

func TestAlertOnce(t *testing.T) {
	st, err := Apply(open(), EvAlert, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(st.Next, EvAlert, t0); err == nil {
		t.Fatal("a second DEFENSE_DUE_ALERT")
	}
}

// TestDue: the clock alerts a day before the deadline, then accepts at it; a defended dispute is
// judged three days after the defense, as the sandbox card decided.
func TestDue(t *testing.T) {
	d := open()
	at, ev, ok := d.Due()
	if !ok || ev != EvAlert || !at.Equal(d.DefenseDue.Add(-AlertBefore)) {
		t.Fatalf("open: %v %s %v", at, ev, ok)
	}
	d.Alerted = true
	if at, ev, _ := d.Due(); ev != EvTimeout || !at.Equal(d.DefenseDue) {
		t.Fatalf("alerted: %v %s", at, ev)
	}
	st, _ := Apply(d, EvDefend, t0.Add(2*time.Hour))
	st.Next.DefenseWins = true
	if at, ev, _ := st.Next.Due(); ev != EvWin || !at.Equal(t0.Add(2*time.Hour+JudgeAfter)) {
		t.Fatalf("defended: %v %s", at, ev)
	}
	st.Next.DefenseWins = false
	if _, ev, _ := st.Next.Due(); ev != EvLose {
		t.Fatalf("a losing defense judged %s", ev)
	}
	for _, s := range []State{Accepted, Won, Lost, Cancelled} {
		d.State = s
		if _, _, ok := d.Due(); ok {
			t.Errorf("%s: something due", s)
		}
	}
}

func TestAmounts(t *testing.T) {
	others := []Dispute{{AmountMinor: 1000, State: Lost}, {AmountMinor: 500, State: Cancelled}, {AmountMinor: 300, State: Won}}
	if got := Disputable(4200, 1200, others); got != 1700 {
		t.Fatalf("Disputable = %d, want 4200 - 1200 - 1000 - 300", got)
	}
	if got := Disputable(4200, 4200, nil); got != 0 {
		t.Fatalf("fully refunded: %d", got)
	}
	for _, tt := range []struct {
		amount, left int64
		ok           bool
	}{{1700, 1700, true}, {1, 1700, true}, {1701, 1700, false}, {0, 1700, false}, {-5, 1700, false}} {
		if err := CheckAmount(tt.amount, tt.left); (err == nil) != tt.ok {
			t.Errorf("CheckAmount(%d, %d) = %v", tt.amount, tt.left, err)
		}
	}
}
