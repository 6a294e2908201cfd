package payments_test

import (
	"context"
	"github.com/cardgate/cardgate/internal/threeds"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/payments"
	"github.com/cardgate/cardgate/protocol"
)

// localBase is seed 004-34 turned into a valid pay with a local card of country: the card of
// docs/design.md's table and the fields the country's rules ask for, nothing more.
func localBase(t testing.TB, country string) jsonObj {
	m := base(t)
	cards := map[string]string{"KR": "4000004100000003", "KRCORP": "4000004109000004", "BR": "4000000760000002",
		"CL": "4000001520000001", "MX": "4000004840008001", "PE": "4000006040000068", "TR": "4000007920000004", "TROY": "9792000000000003"}
	if pan, ok := cards[country]; ok {
		set(m, meta+".cardNo", pan)
	}
	switch country {
	case "KR":
		del(m, meta+".cvv")
		del(m, meta+".cardholderName")
		set(m, meta+".dateOfBirth", "1990-01-31")
		set(m, meta+".cardPasswordDigest", "12")
	case "KRCORP":
		del(m, meta+".cvv")
		del(m, meta+".cardholderName")
		set(m, meta+".businessNo", "1248100998")
		set(m, meta+".cardPasswordDigest", "12")
	case "BR":
		set(m, meta+".cpf", "52998224725")
		set(m, meta+".payerEmail", "buyer@example.com.br")
	case "CL", "MX", "PE":
		del(m, meta+".cardholderName")
		set(m, meta+".payerEmail", "buyer@example.com")
	}
	return m
}

func TestLocalCardsAccepted(t *testing.T) {
	tests := []struct {
		name    string
		country string
		mutate  func(m jsonObj)
		check   func(t *testing.T, cmd payments.PayCommand)
	}{
		{"KR individual without cvv or cardholderName", "KR", nil, func(t *testing.T, cmd payments.PayCommand) {
			if cmd.HolderName != "" || cmd.CVV != "" || cmd.IssuerAuth {
				t.Errorf("cmd = holder %q, cvv set %v, issuerAuth %v", cmd.HolderName, cmd.CVV != "", cmd.IssuerAuth)
			}
		}},
		{"KR with cardholderName", "KR", func(m jsonObj) {
			set(m, meta+".cardholderName.firstName", "Minjun")
			set(m, meta+".cardholderName.lastName", "Kim")
		},
			func(t *testing.T, cmd payments.PayCommand) {
				if cmd.HolderName != "Minjun Kim" {
					t.Errorf("holder = %q", cmd.HolderName)
				}
			}},
		{"KR corporate (COMMERCIAL BIN) with businessNo, no dateOfBirth", "KRCORP", nil, nil},
		{"KR consumer BIN with businessNo is corporate", "KR", func(m jsonObj) { del(m, meta+".dateOfBirth"); set(m, meta+".businessNo", "2208162517") }, nil},
		{"KR leap day of birth", "KR", func(m jsonObj) { set(m, meta+".dateOfBirth", "2000-02-29") }, nil},
		{"KR issuer authentication", "KR", func(m jsonObj) { set(m, "paymentMethod.requireIssuerAuthentication", true) },
			func(t *testing.T, cmd payments.PayCommand) {
				if !cmd.IssuerAuth || cmd.CaptureMode != payments.CaptureAutomatic {
					t.Errorf("issuerAuth %v, capture %s", cmd.IssuerAuth, cmd.CaptureMode)
				}
			}},
		{"KR issuer authentication as the string \"true\"", "KR", func(m jsonObj) { set(m, "paymentMethod.requireIssuerAuthentication", "true") },
			func(t *testing.T, cmd payments.PayCommand) {
				if !cmd.IssuerAuth {
					t.Error("not issuer authentication")
				}
			}},
		{"KR issuer authentication with AUTOMATIC named", "KR", func(m jsonObj) {
			set(m, "paymentMethod.requireIssuerAuthentication", true)
			set(m, "paymentFactor.captureMode", "AUTOMATIC")
		}, nil},
		{"KR ignores another country's payerEmail and cpf", "KR", func(m jsonObj) { set(m, meta+".payerEmail", "not an email"); set(m, meta+".cpf", "123") }, nil},
		{"BR cross-border with cpf", "BR", nil, nil},
		{"BR printed cpf", "BR", func(m jsonObj) { set(m, meta+".cpf", "111.444.777-35") }, nil},
		{"BR local without cpf", "BR", func(m jsonObj) { del(m, meta+".cpf"); set(m, "merchantRegion", "BR") }, nil},
		{"BR card-on-file without cvv", "BR", func(m jsonObj) {
			del(m, meta+".cvv")
			set(m, meta+".isCardOnFile", true)
			set(m, meta+".networkTransactionId", "123456789012345")
		}, nil},
		{"CL without cardholderName", "CL", nil, func(t *testing.T, cmd payments.PayCommand) {
			if cmd.HolderName != "" {
				t.Errorf("holder = %q", cmd.HolderName)
			}
		}},
		{"MX", "MX", nil, nil},
		{"PE", "PE", nil, nil},
		{"PE ignores dateOfBirth and businessNo", "PE", func(m jsonObj) { set(m, meta+".dateOfBirth", "x"); set(m, meta+".businessNo", "x") }, nil},
		{"TR", "TR", nil, nil},
		{"TR Troy", "TROY", nil, nil},
		{"international card keeps cvv optional", "", func(m jsonObj) { set(m, meta+".cardNo", "4242424242424242"); del(m, meta+".cvv") }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := localBase(t, tt.country)
			if tt.mutate != nil {
				tt.mutate(m)
			}
			cmd, err := payments.ParsePayRequest(decodePay(t, m), testNow)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tt.check != nil {
				tt.check(t, cmd)
			}
		})
	}
}

func localRejectCases() []struct {
	name, country string
	mutate        func(m jsonObj)
	path          string
} {
	unset := func(path string) func(jsonObj) { return func(m jsonObj) { del(m, path) } }
	to := func(path string, v any) func(jsonObj) { return func(m jsonObj) { set(m, path, v) } }
	issuer := func(more func(jsonObj)) func(jsonObj) {
		return func(m jsonObj) { set(m, "paymentMethod.requireIssuerAuthentication", true); more(m) }
	}
	return []struct {
		name, country string
		mutate        func(m jsonObj)
		path          string
	}{
		{"KR without cardPasswordDigest", "KR", unset(meta + ".cardPasswordDigest"), meta + ".cardPasswordDigest"},
		{"KR cardPasswordDigest of 3 digits", "KR", to(meta+".cardPasswordDigest", "123"), meta + ".cardPasswordDigest"},
		{"KR cardPasswordDigest not digits", "KR", to(meta+".cardPasswordDigest", "1a"), meta + ".cardPasswordDigest"},
		{"KR individual without dateOfBirth", "KR", unset(meta + ".dateOfBirth"), meta + ".dateOfBirth"},
		{"KR dateOfBirth 30 February", "KR", to(meta+".dateOfBirth", "1990-02-30"), meta + ".dateOfBirth"},
		{"KR dateOfBirth 29 February of a common year", "KR", to(meta+".dateOfBirth", "2001-02-29"), meta + ".dateOfBirth"},
		{"KR dateOfBirth without dashes", "KR", to(meta+".dateOfBirth", "19900131"), meta + ".dateOfBirth"},
		{"KR dateOfBirth in the future", "KR", to(meta+".dateOfBirth", "2027-01-01"), meta + ".dateOfBirth"},
		{"KR dateOfBirth before 1900", "KR", to(meta+".dateOfBirth", "1899-12-31"), meta + ".dateOfBirth"},
		{"KR corporate BIN without businessNo", "KRCORP", unset(meta + ".businessNo"), meta + ".businessNo"},
		{"KR corporate BIN with dateOfBirth instead", "KRCORP", func(m jsonObj) { del(m, meta+".businessNo"); set(m, meta+".dateOfBirth", "1990-01-31") }, meta + ".businessNo"},
		{"KR businessNo check digit", "KRCORP", to(meta+".businessNo", "1248100999"), meta + ".businessNo"},
		{"KR businessNo with dashes", "KRCORP", to(meta+".businessNo", "124-81-00998"), meta + ".businessNo"},
		{"KR issuer authentication with MANUAL capture", "KR", issuer(to("paymentFactor.captureMode", "MANUAL")), "paymentFactor.captureMode"},
		{"KR issuer authentication with 3DS", "KR", issuer(to(meta+".is3DSAuthentication", true)), meta + ".is3DSAuthentication"},
		{"KR issuer authentication with 3DS upgrade", "KR", issuer(to(meta+".enableAuthenticationUpgrade", true)), meta + ".enableAuthenticationUpgrade"},
		{"KR issuer authentication with MPI data", "KR", issuer(to(meta+".mpiData", jsonObj{"eci": "05", "cavv": "AAAB"})), meta + ".mpiData"},
		{"issuer authentication on a BR card", "BR", to("paymentMethod.requireIssuerAuthentication", true), "paymentMethod.requireIssuerAuthentication"},
		{"issuer authentication on an international card", "", func(m jsonObj) { set(m, "paymentMethod.requireIssuerAuthentication", true) }, "paymentMethod.requireIssuerAuthentication"},
		{"issuer authentication with a saved card", "", func(m jsonObj) {
			set(m, "paymentMethod.requireIssuerAuthentication", true)
			set(m, "paymentMethod.paymentMethodMetaData", jsonObj{})
			set(m, "paymentMethod.paymentMethodId", "tok_123")
		}, "paymentMethod.requireIssuerAuthentication"},
		{"BR without cvv", "BR", unset(meta + ".cvv"), meta + ".cvv"},
		{"BR without cardholderName", "BR", unset(meta + ".cardholderName"), meta + ".cardholderName"},
		{"BR cross-border without cpf", "BR", unset(meta + ".cpf"), meta + ".cpf"},
		{"BR merchantRegion US without cpf", "BR", func(m jsonObj) { del(m, meta+".cpf"); set(m, "merchantRegion", "US") }, meta + ".cpf"},
		{"BR local with a bad cpf", "BR", func(m jsonObj) { set(m, meta+".cpf", "52998224726"); set(m, "merchantRegion", "BR") }, meta + ".cpf"},
		{"BR cpf check digit", "BR", to(meta+".cpf", "52998224726"), meta + ".cpf"},
		{"BR cpf of one digit repeated", "BR", to(meta+".cpf", "11111111111"), meta + ".cpf"},
		{"BR cpf too short", "BR", to(meta+".cpf", "5299822472"), meta + ".cpf"},
		{"BR without payerEmail", "BR", unset(meta + ".payerEmail"), meta + ".payerEmail"},
		{"BR payerEmail without domain dot", "BR", to(meta+".payerEmail", "buyer@example"), meta + ".payerEmail"},
		{"BR payerEmail with display name", "BR", to(meta+".payerEmail", "Buyer <buyer@example.com>"), meta + ".payerEmail"},
		{"BR payerEmail not an address", "BR", to(meta+".payerEmail", "buyer"), meta + ".payerEmail"},
		{"CL without cvv", "CL", unset(meta + ".cvv"), meta + ".cvv"},
		{"CL without payerEmail", "CL", unset(meta + ".payerEmail"), meta + ".payerEmail"},
		{"MX without cvv", "MX", unset(meta + ".cvv"), meta + ".cvv"},
		{"MX without payerEmail", "MX", unset(meta + ".payerEmail"), meta + ".payerEmail"},
		{"PE without cvv", "PE", unset(meta + ".cvv"), meta + ".cvv"},
		{"PE bad payerEmail", "PE", to(meta+".payerEmail", "@example.com"), meta + ".payerEmail"},
		{"TR without cvv", "TR", unset(meta + ".cvv"), meta + ".cvv"},
		{"TR without cardholderName", "TR", unset(meta + ".cardholderName"), meta + ".cardholderName"},
		{"Troy without cvv", "TROY", unset(meta + ".cvv"), meta + ".cvv"},
		{"Troy without cardholderName", "TROY", unset(meta + ".cardholderName"), meta + ".cardholderName"},
	}
}

// TestLocalCardsRefused: each rule of each country refuses its field by name, PARAM_ILLEGAL, and
// the message never repeats the personal data it judged.
func TestLocalCardsRefused(t *testing.T) {
	for _, tt := range localRejectCases() {
		t.Run(tt.name, func(t *testing.T) {
			m := localBase(t, tt.country)
			tt.mutate(m)
			_, err := payments.ParsePayRequest(decodePay(t, m), testNow)
			assertRefused(t, err, protocol.CodeParamIllegal, tt.path)
			if err == nil {
				return
			}
			for _, f := range []string{"cpf", "dateOfBirth", "businessNo", "cardPasswordDigest", "payerEmail"} {
				if v := get(m, meta+"."+f); len(v) >= 2 && strings.Contains(err.Error(), v) {
					t.Errorf("error %q repeats %s", err, f)
				}
			}
		})
	}
}

// krIssuerPay is a Korean issuer-authentication pay through the service's request shape.
func krIssuerPay(t *testing.T, requestID string, mutate ...func(jsonObj)) *protocol.PayRequest {
	t.Helper()
	m := localBase(t, "KR")
	set(m, "paymentRequestId", requestID)
	set(m, "paymentNotifyUrl", requestNotifyURL)
	set(m, "paymentMethod.requireIssuerAuthentication", true)
	for _, f := range mutate {
		f(m)
	}
	return decodePay(t, m)
}

// TestKoreanIssuerAuthentication is seed 001/002's Korean flow through the service: U with the
// issuer's page, no acquirer call until the buyer authenticates, then approved and captured
// automatically, answering paymentMethodRegion KR and no 3-D Secure values.
func TestKoreanIssuerAuthenticationService(t *testing.T) {
	h := newHostedHarness(t)
	ctx := context.Background()
	p, err := h.svc.Pay(ctx, merchantA, krIssuerPay(t, "kr-1"))
	if err != nil {
		t.Fatal(err)
	}
	r := payments.PayResponseOf(p)
	tok, ok := strings.CutPrefix(r.NormalURL, "https://pay.example/issuer-auth/")
	if r.Result.ResultStatus != "U" || r.Result.ResultCode != string(protocol.CodePaymentInProcess) || !ok || tok == "" {
		t.Fatalf("pay answer %+v normalUrl %q", r.Result, r.NormalURL)
	}
	if p.ThreeDS.Mode != payments.ThreeDSIssuer || !p.ChallengeOpen() || h.acq.calls.Load() != 0 {
		t.Fatalf("before the code: 3ds %+v open %v auths %d", p.ThreeDS, p.ChallengeOpen(), h.acq.calls.Load())
	}
	if p, err = h.svc.SubmitCode(ctx, tok, "0000"); err != nil || !p.ChallengeOpen() || h.acq.calls.Load() != 0 {
		t.Fatalf("wrong code: %v open %v auths %d", err, p.ChallengeOpen(), h.acq.calls.Load())
	}
	p, err = h.svc.SubmitCode(ctx, tok, threeds.Code)
	if err != nil || p.State != payments.StateSuccess || h.acq.calls.Load() != 1 || p.CapturedMinor != p.Amount.Minor {
		t.Fatalf("after the code: %v state %s auths %d captured %d of %d", err, p.State, h.acq.calls.Load(), p.CapturedMinor, p.Amount.Minor)
	}
	inq := payments.InquiryResponseOf(p, nil)
	n := payments.NotifyPaymentOf(p)
	for name, info := range map[string]*protocol.CardInfo{"inquiry": inq.CardInfo, "notification": n.CardInfo} {
		if info == nil || info.PaymentMethodRegion != "KR" || info.ThreeDSResult == nil || *info.ThreeDSResult != (protocol.ThreeDSResult{}) {
			t.Errorf("%s cardInfo = %+v", name, info)
		}
	}
	if ri := n.PaymentResultInfo; ri == nil || ri.PaymentMethodRegion != "KR" || *ri.ThreeDSResult != (protocol.ThreeDSResult{}) {
		t.Errorf("notification paymentResultInfo = %+v", ri)
	}
	if n.Result.ResultStatus != "S" {
		t.Errorf("notification result %+v", n.Result)
	}
	// The page is spent: another code changes nothing.
	again, err := h.svc.SubmitCode(ctx, tok, threeds.Code)
	if err != nil || again.Version != p.Version || h.acq.calls.Load() != 1 {
		t.Fatalf("second code: %v version %d → %d", err, p.Version, again.Version)
	}
}

func TestKoreanIssuerAuthenticationFailsAfterThreeWrongCodes(t *testing.T) {
	h := newHostedHarness(t)
	ctx := context.Background()
	p, err := h.svc.Pay(ctx, merchantA, krIssuerPay(t, "kr-2"))
	if err != nil {
		t.Fatal(err)
	}
	tok := p.ChallengeToken
	for range payments.MaxChallengeAttempts {
		if p, err = h.svc.SubmitCode(ctx, tok, "9999"); err != nil {
			t.Fatal(err)
		}
	}
	if p.State == payments.StateSuccess || p.ResultCode != "VERIFY_TIMES_EXCEED_LIMIT" || p.SealedCard != "" || h.acq.calls.Load() != 0 {
		t.Fatalf("after three wrong codes: state %s code %s sealed %v auths %d", p.State, p.ResultCode, p.SealedCard != "", h.acq.calls.Load())
	}
}

// TestKoreanIssuerAuthenticationNeedsTheSimulatedIssuer: a gateway without the issuer simulator and
// vault refuses the flag before anything is written.
func TestKoreanIssuerAuthenticationNeedsTheSimulatedIssuer(t *testing.T) {
	h := newHarness(t)
	before := h.store.rows()
	_, err := h.svc.Pay(context.Background(), merchantA, krIssuerPay(t, "kr-3"))
	assertRefused(t, err, protocol.CodeParamIllegal, "paymentMethod.requireIssuerAuthentication")
	if after := h.store.rows(); after != before {
		t.Fatalf("a refused pay wrote rows: %v → %v", before, after)
	}
}
