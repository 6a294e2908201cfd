package dashboard

import (
	"context"
	"errors"
	"time"

	"github.com/cardgate/cardgate/internal/disputes"
	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/notify"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/internal/routing"
)

// Role is what a console user may see.
type Role string

const (
	// RoleMerchant sees one merchant's payments, disputes and settings (User.ClientID).
	RoleMerchant Role = "merchant"
	// RoleOperator runs the installation and sees every merchant.
	RoleOperator Role = "operator"
)

// User is one person who signs in to the console.
type User struct {
	ID       int64
	Username string
	// PasswordHash is the argon2id PHC string (HashPassword); the password itself is never kept.
	PasswordHash string
	Role         Role
	ClientID     string // the merchant of a RoleMerchant user; empty for an operator
	CreatedAt    time.Time
}

// Session is a signed-in browser. TokenHash is the SHA-256 of the cookie's token (hex), so the
// table holds nothing that signs anyone in; CSRF is the secret every form of the session carries.
type Session struct {
	TokenHash string
	UserID    int64
	CSRF      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// PaymentQuery is a search of one merchant's payments, newest first. Zero fields do not filter.
// After is the keyset cursor: the (created_at, payment_id) of the last row of the previous page;
// the page holds the payments strictly older.
type PaymentQuery struct {
	MerchantID       string
	State            payments.State
	From, To         time.Time // created at or after From, before To
	MinMinor         int64     // amount at least (0: none)
	MaxMinor         int64     // amount at most (0: none)
	LastFour         string
	PaymentID        string
	PaymentRequestID string
	AfterCreated     time.Time
	AfterID          string
	Limit            int
}

// DayPayments is one day of a merchant's payments (UTC days of the gateway clock).
type DayPayments struct {
	Day       time.Time
	Total     int
	Succeeded int
	Failed    int
}

// DayDeliveries is one day of a merchant's notifications by their status now, by creation day.
type DayDeliveries struct {
	Day       time.Time
	Delivered int
	Failed    int
	Pending   int
}

// DisputeEvent is one row of a dispute's history.
type DisputeEvent struct {
	DisputeID string
	Event     string
	From, To  disputes.State
	At        time.Time
}

// Store is what the console keeps and reads: its own tables (users, sessions, failed sign-ins)
// and read models over the gateway's (payment search, histories, aggregates), besides the
// merchant, payment, outbox and routing reads the other parts already declare.
type Store interface {
	merchant.Store
	routing.Store
	PaymentByID(ctx context.Context, merchantID, paymentID string) (payments.Payment, error)
	Txns(ctx context.Context, merchantID, paymentID string) ([]payments.Txn, error)
	Messages(ctx context.Context, merchantID, paymentID string) ([]notify.Message, error)
	Attempts(ctx context.Context, outboxID int64) ([]notify.Attempt, error)
	DisputesOfPayment(ctx context.Context, merchantID, paymentID string) ([]disputes.Dispute, error)

	// CreateUser adds a user (ErrUserExists when the username is taken) and returns its id.
	CreateUser(ctx context.Context, u User) (int64, error)
	// UserByName and UserByID return ErrNoUser for an unknown user.
	UserByName(ctx context.Context, username string) (User, error)
	UserByID(ctx context.Context, id int64) (User, error)
	// SetPassword replaces a user's password hash and ends every session of the user.
	SetPassword(ctx context.Context, username, hash string) error

	// CreateSession stores a session and deletes the sessions that expired by then.
	CreateSession(ctx context.Context, s Session) error
	// SessionByHash returns a session unexpired at now with its user; ErrNoSession otherwise.
	SessionByHash(ctx context.Context, tokenHash string, now time.Time) (Session, User, error)
	DeleteSession(ctx context.Context, tokenHash string) error

	// RecordLoginFailure notes a refused sign-in; LoginFailures counts those since a time, for
	// the username and for the address; ClearLoginFailures forgets a username's after it signed in.
	RecordLoginFailure(ctx context.Context, username, ip string, at time.Time) error
	LoginFailures(ctx context.Context, username, ip string, since time.Time) (byUser, byIP int, err error)
	ClearLoginFailures(ctx context.Context, username string) error

	// Merchants lists every merchant, oldest first (the operator's choice), without their keys
	// and secrets.
	Merchants(ctx context.Context) ([]merchant.Merchant, error)
	// AddMerchantKey registers another public key version of a merchant (ErrKeyExists if taken).
	AddMerchantKey(ctx context.Context, clientID, version, publicKey string) error

	// SearchPayments lists a merchant's payments newest first by (created_at, payment_id).
	SearchPayments(ctx context.Context, q PaymentQuery) ([]payments.Payment, error)
	// PaymentEvents lists a payment's event rows in order (another merchant's: none).
	PaymentEvents(ctx context.Context, merchantID, paymentID string) ([]payments.Event, error)
	// MerchantDisputes lists a merchant's disputes, newest first.
	MerchantDisputes(ctx context.Context, merchantID string, limit int) ([]disputes.Dispute, error)
	// DisputeEvents lists the history of a merchant's dispute, in order.
	DisputeEvents(ctx context.Context, merchantID, disputeID string) ([]DisputeEvent, error)
	// PaymentsPerDay and DeliveriesPerDay aggregate the days [from, to) of a merchant, by UTC day;
	// days without rows are absent.
	PaymentsPerDay(ctx context.Context, merchantID string, from, to time.Time) ([]DayPayments, error)
	DeliveriesPerDay(ctx context.Context, merchantID string, from, to time.Time) ([]DayDeliveries, error)
}

// Store errors.
var (
	ErrUserExists = errors.New("dashboard: username taken")
	ErrNoUser     = errors.New("dashboard: no such user")
	ErrNoSession  = errors.New("dashboard: no such session")
	ErrKeyExists  = errors.New("dashboard: key version taken")
)
