package api

import (
	"context"
	"errors"
	"strconv"

	"github.com/cardgate/cardgate/internal/merchant"
	"github.com/cardgate/cardgate/internal/notify"
	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/protocol"
)

// Notifications is what the notification calls read and do (the outbox and its dispatcher).
type Notifications interface {
	Messages(ctx context.Context, merchantID, paymentID string) ([]notify.Message, error)
	Attempts(ctx context.Context, outboxID int64) ([]notify.Attempt, error)
	Resend(ctx context.Context, merchantID string, id int64) (notify.Attempt, error)
}

// merchantSettings serves /cardgate/v1/merchant/settings: {} reads, {"notifyUrl":"…"} sets.
func (s *Server) merchantSettings(ctx context.Context, m merchant.Merchant, body []byte) (any, error) {
	var req protocol.MerchantSettingsRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if req.NotifyURL != nil {
		if *req.NotifyURL != "" {
			if err := payments.ValidateNotifyURL("notifyUrl", *req.NotifyURL); err != nil {
				return nil, err
			}
		}
		if err := s.merchants.store.SetNotifyURL(ctx, m.ClientID, *req.NotifyURL); err != nil {
			return nil, err
		}
		m.NotifyURL = *req.NotifyURL
	}
	return protocol.MerchantSettingsResponse{Result: protocol.SuccessResult(), ClientID: m.ClientID, NotifyURL: m.NotifyURL}, nil
}

func attemptOf(a notify.Attempt) protocol.NotificationAttempt {
	return protocol.NotificationAttempt{
		Attempt: a.Attempt, Manual: a.Manual, Time: protocol.FormatTime(a.At.UTC()), HTTPStatus: a.HTTPStatus,
		LatencyMS: a.Latency.Milliseconds(), Response: notify.Excerpt(a.Response), // rows older than the excerpt rule too
		Error: a.Error, Delivered: a.Delivered,
	}
}

func optTime(m notify.Message, pending bool) string {
	if !pending {
		return ""
	}
	return protocol.FormatTime(m.NextAttemptAt.UTC())
}

// notificationsList serves /cardgate/v1/notifications/list: a payment's notifications with every
// attempt, so a merchant can see what was sent, when, and what its endpoint answered.
func (s *Server) notificationsList(ctx context.Context, m merchant.Merchant, body []byte) (any, error) {
	var req protocol.NotificationsListRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if req.PaymentID == "" {
		return nil, protocol.Errorf(protocol.CodeParamIllegal, "paymentId is required")
	}
	if err := payments.ValidateID("paymentId", req.PaymentID); err != nil {
		return nil, err
	}
	msgs, err := s.cfg.Notifications.Messages(ctx, m.ClientID, req.PaymentID)
	if err != nil {
		return nil, err
	}
	out := protocol.NotificationsListResponse{Result: protocol.SuccessResult(), Notifications: []protocol.Notification{}}
	for _, msg := range msgs {
		attempts, err := s.cfg.Notifications.Attempts(ctx, msg.ID)
		if err != nil {
			return nil, err
		}
		n := protocol.Notification{
			NotificationID: strconv.FormatInt(msg.ID, 10), NotifyType: msg.NotifyType, URL: msg.URL, Status: string(msg.Status),
			Attempts: len(attempts), ScheduledAttempts: msg.Attempts, NextAttemptTime: optTime(msg, msg.Status == notify.StatusPending),
			CreatedTime: protocol.FormatTime(msg.CreatedAt.UTC()), Body: string(msg.Body), AttemptLog: []protocol.NotificationAttempt{},
		}
		if !msg.DeliveredAt.IsZero() {
			n.DeliveredTime = protocol.FormatTime(msg.DeliveredAt.UTC())
		}
		for _, a := range attempts {
			n.AttemptLog = append(n.AttemptLog, attemptOf(a))
		}
		out.Notifications = append(out.Notifications, n)
	}
	return out, nil
}

// notificationsResend serves /cardgate/v1/notifications/resend: one extra, freshly signed attempt.
func (s *Server) notificationsResend(ctx context.Context, m merchant.Merchant, body []byte) (any, error) {
	var req protocol.NotificationsResendRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	id, err := strconv.ParseInt(req.NotificationID, 10, 64)
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeParamIllegal, "notificationId is required: the id from notifications/list")
	}
	a, err := s.cfg.Notifications.Resend(ctx, m.ClientID, id)
	if errors.Is(err, notify.ErrNotFound) {
		return nil, protocol.Errorf(protocol.CodeOrderNotExist, "notification %d not exist", id)
	}
	if err != nil {
		return nil, err
	}
	at := attemptOf(a)
	return protocol.NotificationsResendResponse{Result: protocol.SuccessResult(), Attempt: &at}, nil
}
