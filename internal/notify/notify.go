// Package notify delivers the outbox: it signs each notification as Antom does (docs/wire.md §2.7),
// posts it to the merchant, and retries on Antom's schedule until the merchant acknowledges.
package notify

import (
	"context"
	"errors"
	"time"
)

// Schedule is Antom's delivery schedule: 8 deliveries in all, each interval counted from the
// previous attempt, so at +0, +2, +12, +22, +82, +202, +562 and +1,462 minutes after the result
// (docs/design.md "Notification schedule"; seeds 000/002: 0, 2, 10, 10 min, 1, 2, 6, 15 h).
var Schedule = []time.Duration{
	0,
	2 * time.Minute,
	10 * time.Minute,
	10 * time.Minute,
	time.Hour,
	2 * time.Hour,
	6 * time.Hour,
	15 * time.Hour,
}

// Status of a notification.
type Status string

const (
	StatusPending   Status = "PENDING"
	StatusDelivered Status = "DELIVERED"
	StatusFailed    Status = "FAILED" // every scheduled attempt was refused
)

// Message is one notification of the outbox.
type Message struct {
	ID            int64
	MerchantID    string
	PaymentID     string
	NotifyType    string
	Ref           string
	URL           string
	Body          []byte
	Status        Status
	Attempts      int // scheduled attempts made so far (manual resends not counted)
	NextAttemptAt time.Time
	LastAttemptAt time.Time
	DeliveredAt   time.Time
	CreatedAt     time.Time
}

// Attempt is one delivery attempt as the merchant can read it back.
type Attempt struct {
	ID         int64
	OutboxID   int64
	Attempt    int  // 1..8 for scheduled attempts; the count so far for a manual resend
	Manual     bool // a resend asked for by the merchant
	At         time.Time
	HTTPStatus int // 0 when no HTTP answer came
	Latency    time.Duration
	Response   string // an Excerpt of the answer; empty when none came
	Error      string
	Delivered  bool
}

// Recorded is a scheduled attempt and the message as it stands after it, for RecordAttempts.
type Recorded struct {
	Message Message
	Attempt Attempt
}

// Store is the outbox as the dispatcher needs it.
type Store interface {
	// ClaimDue leases up to limit messages due at or before due (the gateway clock) whose lease
	// has run out by now (the wall clock), skipping the merchants in busy.
	ClaimDue(ctx context.Context, due, now, leaseUntil time.Time, limit int, busy []string) ([]Message, error)
	// Claim leases one message if it is pending and not leased; ok is false otherwise.
	Claim(ctx context.Context, id int64, now, leaseUntil time.Time) (Message, bool, error)
	// ClaimBatch leases, in one statement, up to limit messages due at or before due whose lease
	// has run out by now, earliest first, at most perMerchant of any one merchant, skipping the
	// merchants in busy: one merchant's backlog never fills a batch the others are due in.
	ClaimBatch(ctx context.Context, due, now, leaseUntil time.Time, limit, perMerchant int, busy []string) ([]Message, error)
	// Release gives up leases without an attempt, in one statement.
	Release(ctx context.Context, ids ...int64) error
	// DueMessages lists pending messages due at or before t, earliest first, leased or not.
	DueMessages(ctx context.Context, t time.Time, limit int) ([]Message, error)
	// RecordAttempt writes an attempt and the message's new status, next attempt time and
	// attempt count, and releases the lease, in one transaction.
	RecordAttempt(ctx context.Context, m Message, a Attempt) error
	// RecordAttempts records scheduled attempts as RecordAttempt does, all in one transaction:
	// either every one is written or none is.
	RecordAttempts(ctx context.Context, recs []Recorded) error
	// Message returns one of the merchant's notifications (ErrNotFound for unknown ids and for
	// another merchant's).
	Message(ctx context.Context, merchantID string, id int64) (Message, error)
	// Messages lists the notifications of a payment, oldest first.
	Messages(ctx context.Context, merchantID, paymentID string) ([]Message, error)
	// Attempts lists a notification's attempts, oldest first.
	Attempts(ctx context.Context, outboxID int64) ([]Attempt, error)
}

// ErrNotFound is returned for an unknown notification id.
var ErrNotFound = errors.New("notify: not found")
