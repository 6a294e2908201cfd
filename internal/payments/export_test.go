package payments

import (
	"context"

	"github.com/cardgate/cardgate/internal/acquirer"
)

// Test-only views of the package, for the table tests inside and outside it; they are not part of
// the production API.

// Stages lists every stage, for tests that walk the table.
var Stages = []Stage{StageNew, StageProcessing, StageAuthorized, StageCapturing, StageCaptured, StageDeclined, StageExpired, StageCancelled, StageVoided}

// Ops lists every op, for tests that walk the table.
var Ops = []Op{OpCreate, OpAuthPending, OpAuthApproved, OpAuthDeclined, OpCapture, OpCaptureSucceeded, OpCaptureFailed,
	OpCapturePending, OpCancel, OpExpire, OpAutoVoid, OpRefund, OpRefundSucceeded, OpRefundFailed, OpRefundPending,
	OpLateAuthVoided, OpVoidSent, OpChallenge, OpChallengeRetry, OpAuthenticated, OpNotAuthenticated, OpCardEntered, OpAuthUnresolved, OpFailover}

// RecordAuth records an authorization's answer as the instance that sent it does, for the tests
// of an answer that arrives after another instance resolved the payment.
func (s *Service) RecordAuth(ctx context.Context, p Payment, res acquirer.AuthResult, cmd *PayCommand) (Payment, error) {
	return s.recordAuth(ctx, p, res, cmd)
}
