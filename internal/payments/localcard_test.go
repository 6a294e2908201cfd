package payments_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/protocol"
)

// TestLocalCardRules: each country of seed 000's "Local cards" table asks for its own fields;
// a missing or malformed one is refused naming it; fields of another country's rules are ignored.
func TestLocalCardRules(t *testing.T) {
	const (
		br   = "4000000760000002"
		cl   = "4000001520000001"
		mx   = "4000004840008001"
		pe   = "4000006040000068"
		tr   = "4000007920000004"
		troy = "9792000000000003"
		kr   = "4000004100000003"
		krB  = "4000004109000004" // corporate (COMMERCIAL in the BIN table)
		us   = "4242424242424242"
	)
	type edit = func(jsonObj)
	drop := func(field string) edit { return func(m jsonObj) { del(m, meta+"."+field) } }
	put := func(field string, v any) edit { return func(m jsonObj) { set(m, meta+"."+field, v) } }
	tests := []struct {
		name  string
		pan   string
		edits []edit
		want  string // "" accepted; else the refused field and a fragment of the message
	}{
		{"BR with its fields", br, nil, ""},
		{"BR without payerEmail", br, []edit{drop("payerEmail")}, "payerEmail is required for cards issued in BR"},
		{"BR bad payerEmail", br, []edit{put("payerEmail", "not an address")}, "payerEmail must be an email address"},
		{"BR cross-border without cpf", br, []edit{drop("cpf")}, "cpf is required for cards issued in BR when the payment is cross-border"},
		{"BR local without cpf", br, []edit{drop("cpf"), func(m jsonObj) { set(m, "merchantRegion", "BR") }}, ""},
		{"BR cpf check digit", br, []edit{put("cpf", "529.982.247-26")}, "cpf is not a valid CPF"},
		{"BR cpf all one digit", br, []edit{put("cpf", "111.111.111-11")}, "cpf is not a valid CPF"},
		{"BR without cvv", br, []edit{drop("cvv")}, "cvv is required for cards issued in BR"},
		{"BR without cardholderName", br, []edit{drop("cardholderName")}, "cardholderName is required"},
		{"CL without payerEmail", cl, []edit{drop("payerEmail")}, "payerEmail is required for cards issued in CL"},
		{"CL without cardholderName", cl, []edit{drop("cardholderName")}, ""},
		{"MX without cvv", mx, []edit{drop("cvv")}, "cvv is required for cards issued in MX"},
		{"PE with its fields", pe, nil, ""},
		{"TR without cvv", tr, []edit{drop("cvv")}, "cvv is required for cards issued in TR"},
		{"Troy without cvv", troy, []edit{drop("cvv")}, "cvv is required for cards issued in TR"},
		{"TR without cardholderName", tr, []edit{drop("cardholderName")}, "cardholderName is required"},
		{"KR with its fields, no cvv, no name", kr, []edit{drop("cvv"), drop("cardholderName")}, ""},
		{"KR without cardPasswordDigest", kr, []edit{drop("cardPasswordDigest")}, "cardPasswordDigest is required for cards issued in KR"},
		{"KR cardPasswordDigest of 4", kr, []edit{put("cardPasswordDigest", "1234")}, "cardPasswordDigest must be the first 2 digits"},
		{"KR without dateOfBirth", kr, []edit{drop("dateOfBirth")}, "dateOfBirth is required for South Korean individual cards"},
		{"KR impossible dateOfBirth", kr, []edit{put("dateOfBirth", "1990-02-30")}, "dateOfBirth must be a past date in the form YYYY-MM-DD"},
		{"KR future dateOfBirth", kr, []edit{put("dateOfBirth", "2999-01-01")}, "dateOfBirth must be a past date"},
		{"KR corporate with businessNo", krB, nil, ""},
		{"KR corporate without businessNo", krB, []edit{drop("businessNo"), put("dateOfBirth", "1990-01-31")}, "businessNo is required for South Korean corporate cards"},
		{"KR corporate bad businessNo", krB, []edit{put("businessNo", "1248100999")}, "businessNo is not a valid Korean business registration number"},
		{"US card ignores another country's fields", us, []edit{put("cpf", "not a cpf"), put("payerEmail", "x")}, ""},
		{"issuer authentication on a US card", us, []edit{func(m jsonObj) { set(m, "paymentMethod.requireIssuerAuthentication", true) }},
			"requireIssuerAuthentication is for South Korean cards only"},
		{"issuer authentication with manual capture", kr, []edit{func(m jsonObj) {
			set(m, "paymentMethod.requireIssuerAuthentication", true)
			set(m, "paymentFactor.captureMode", "MANUAL")
		}}, "paymentFactor.captureMode must be AUTOMATIC"},
		{"issuer authentication with 3DS", kr, []edit{func(m jsonObj) {
			set(m, "paymentMethod.requireIssuerAuthentication", true)
			set(m, meta+".is3DSAuthentication", true)
		}}, "is3DSAuthentication must not be true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base(t)
			set(m, meta+".cardNo", tt.pan)
			addLocalFields(m, tt.pan)
			for _, e := range tt.edits {
				e(m)
			}
			var r protocol.PayRequest
			if err := protocol.Decode(encode(t, m), &r); err != nil {
				t.Fatal(err)
			}
			_, err := payments.ParsePayRequest(&r, testNow)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != protocol.CodeParamIllegal || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want PARAM_ILLEGAL containing %q", err, tt.want)
			}
			if v := r.PaymentMethod.PaymentMethodMetaData.CPF; v != "" && strings.Contains(err.Error(), v) {
				t.Errorf("the refusal repeats the CPF: %v", err)
			}
		})
	}
}

// TestKoreanIssuerAuthentication: a Korean card with requireIssuerAuthentication answers U with
// the issuer's page, no 3-D Secure; the right code authorizes and captures it, with no 3-D
// Secure values in the answer and paymentMethodRegion KR; three wrong codes fail it.
func TestKoreanIssuerAuthentication(t *testing.T) {
	h := newHostedHarness(t)
	ctx := context.Background()
	pay := func(id string) payments.Payment {
		t.Helper()
		req := payRequest(t, "4000004100000003", id, func(m jsonObj) { set(m, "paymentMethod.requireIssuerAuthentication", true) })
		p, err := h.svc.Pay(ctx, merchantA, req)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := pay("kr-auth")
	resp := payments.PayResponseOf(p)
	if resp.Result.ResultCode != string(protocol.CodePaymentInProcess) || !strings.Contains(resp.NormalURL, payments.IssuerAuthPath) {
		t.Fatalf("pay: %+v normalUrl %q, want U with the issuer's page", resp.Result, resp.NormalURL)
	}
	if h.acq.calls.Load() != 0 {
		t.Fatal("the authorization went out before the buyer authenticated")
	}
	done, err := h.svc.SubmitCode(ctx, p.ChallengeToken, "1234")
	if err != nil {
		t.Fatal(err)
	}
	if done.Stage() != payments.StageCaptured {
		t.Fatalf("after the issuer's code: %s, want captured automatically", done.Stage())
	}
	info := payments.InquiryResponseOf(done, nil).PaymentResultInfo
	if info == nil || info.PaymentMethodRegion != "KR" || info.ThreeDSResult == nil || info.ThreeDSResult.ECI != "" || info.ThreeDSResult.CAVV != "" {
		t.Fatalf("paymentResultInfo %+v, want region KR and no 3-D Secure values", info)
	}

	failed := pay("kr-auth-wrong")
	for range 3 {
		if failed, err = h.svc.SubmitCode(ctx, failed.ChallengeToken, "0000"); err != nil {
			t.Fatal(err)
		}
	}
	if failed.State != payments.StateFail || failed.ResultCode != "VERIFY_TIMES_EXCEED_LIMIT" {
		t.Fatalf("after three wrong codes: %s %s", failed.State, failed.ResultCode)
	}
}
