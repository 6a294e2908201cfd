package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cardgate/cardgate/protocol"
)

// testCards is docs/design.md's sandbox test-card table, as a merchant would read it from the README:
// the pay answer without 3-D Secure and the status inquiry reports afterwards.
var testCards = []struct {
	number  string
	brand   string
	status  protocol.Status
	code    protocol.Code
	inquiry string
	avs     string
	cvv     string
}{
	{"4054695723100768", "VISA", "S", "SUCCESS", "SUCCESS", "U", "Y"},
	{"4117347806156383", "VISA", "S", "SUCCESS", "SUCCESS", "U", "Y"},
	{"4242424242424242", "VISA", "S", "SUCCESS", "SUCCESS", "U", "Y"},
	{"5555555555554444", "MASTERCARD", "S", "SUCCESS", "SUCCESS", "U", "Y"},
	{"378282246310005", "AMEX", "S", "SUCCESS", "SUCCESS", "U", "Y"},
	{"3566002020360505", "JCB", "S", "SUCCESS", "SUCCESS", "U", "Y"},
	{"6011111111111117", "DISCOVER", "S", "SUCCESS", "SUCCESS", "U", "Y"},
	{"36227206271667", "DINERS", "S", "SUCCESS", "SUCCESS", "U", "Y"},
	{"6200000000000005", "CUP", "S", "SUCCESS", "SUCCESS", "U", "Y"},
	{"4000000000000002", "VISA", "F", "DO_NOT_HONOR", "FAIL", "U", "Y"},
	{"4000000000009995", "VISA", "F", "USER_BALANCE_NOT_ENOUGH", "FAIL", "U", "Y"},
	{"4000000000000069", "VISA", "F", "CARD_EXPIRED", "FAIL", "U", "Y"},
	{"4000000000000127", "VISA", "F", "INVALID_CVV", "FAIL", "U", "N"},
	{"4000000000009987", "VISA", "F", "SUSPECTED_CARD", "FAIL", "U", "Y"},
	{"4100000000000019", "VISA", "F", "RISK_REJECT", "FAIL", "U", "Y"},
	{"4000000000000010", "VISA", "S", "SUCCESS", "SUCCESS", "N", "Y"},
	{"4000000000000119", "VISA", "U", "PAYMENT_IN_PROCESS", "PROCESSING", "", ""},
	{"4000002760003184", "VISA", "S", "SUCCESS", "SUCCESS", "U", "Y"},
	{"4000000000003220", "VISA", "S", "SUCCESS", "SUCCESS", "U", "Y"},
	{"4000008400001629", "VISA", "F", "DO_NOT_HONOR", "FAIL", "U", "Y"},
	{"4000000000003063", "VISA", "F", "AUTHENTICATION_REQUIRED", "FAIL", "U", "Y"},
	{"4000000000000259", "VISA", "S", "SUCCESS", "SUCCESS", "U", "Y"},
	{"4000000000000036", "VISA", "S", "SUCCESS", "SUCCESS", "U", "Y"},
	{"4000000000000028", "VISA", "S", "SUCCESS", "SUCCESS", "U", "Y"},
	{"4000000000000044", "VISA", "U", "PAYMENT_IN_PROCESS", "PROCESSING", "", ""},
	{"4000000760000002", "VISA", "S", "SUCCESS", "SUCCESS", "U", "Y"},
	{"4000007920000004", "VISA", "S", "SUCCESS", "SUCCESS", "U", "Y"},
	{"9792000000000003", "TROY", "S", "SUCCESS", "SUCCESS", "U", "Y"},
	{"4000056655665556", "VISA", "S", "SUCCESS", "SUCCESS", "U", "Y"},
	{"5105105105105100", "MASTERCARD", "S", "SUCCESS", "SUCCESS", "U", "Y"},
	{"5556761100000003", "MASTERCARD", "S", "SUCCESS", "SUCCESS", "U", "Y"},
}

// cvvFor gives each card its own CVV so a leak can be traced to the card it came from.
func cvvFor(i int, brand string) string {
	if brand == "AMEX" {
		return fmt.Sprintf("%04d", 7000+i)
	}
	return fmt.Sprintf("%03d", 100+i*7)
}

// TestEveryTestCardLeavesNoCardData drives every test card through pay and inquiryPayment at
// debug log level, then searches the database file, its WAL, the logs and every response body for
// the card numbers (bare, spaced, dashed) and the CVVs: there must be none.
func TestEveryTestCardLeavesNoCardData(t *testing.T) {
	g := startGateway(t)
	var bodies [][]byte
	for i, tc := range testCards {
		cvv := cvvFor(i, tc.brand)
		t.Run(tc.number, func(t *testing.T) {
			req := payRequest(tc.number, cvv)
			raw, err := json.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			payBody := g.post(protocol.PathPay, raw)
			bodies = append(bodies, payBody)
			var resp protocol.PayResponse
			if err := json.Unmarshal(payBody, &resp); err != nil {
				t.Fatal(err)
			}
			if resp.Result.ResultStatus != string(tc.status) || resp.Result.ResultCode != string(tc.code) {
				t.Fatalf("pay result %+v, want %s/%s", resp.Result, tc.status, tc.code)
			}
			if resp.PaymentID == "" || resp.NormalURL != "" {
				t.Fatalf("paymentId %q normalUrl %q", resp.PaymentID, resp.NormalURL)
			}
			info := resp.PaymentResultInfo
			masked := strings.Repeat("*", len(tc.number)-4) + tc.number[len(tc.number)-4:]
			if info == nil || info.CardBrand != tc.brand || info.CardNo != masked || info.CardBin != tc.number[:6] ||
				info.LastFour != tc.number[len(tc.number)-4:] || len(info.Fingerprint) != 64 {
				t.Fatalf("paymentResultInfo %+v", info)
			}
			if info.AVSResultRaw != tc.avs || info.CVVResultRaw != tc.cvv {
				t.Errorf("avs/cvv %q/%q, want %q/%q", info.AVSResultRaw, info.CVVResultRaw, tc.avs, tc.cvv)
			}
			if tc.status == "S" && (info.NetworkTransactionID == "" || resp.PaymentTime == "" || resp.AuthExpiryTime == "") {
				t.Errorf("approved answer lacks networkTransactionId/paymentTime/authExpiryTime: %s", payBody)
			}

			inqRaw, err := json.Marshal(protocol.InquiryPaymentRequest{PaymentRequestID: req.PaymentRequestID})
			if err != nil {
				t.Fatal(err)
			}
			inqBody := g.post(protocol.PathInquiryPayment, inqRaw)
			bodies = append(bodies, inqBody)
			var inq protocol.InquiryPaymentResponse
			if err := json.Unmarshal(inqBody, &inq); err != nil {
				t.Fatal(err)
			}
			if inq.Result.ResultCode != "SUCCESS" || inq.PaymentStatus != tc.inquiry || inq.PaymentID != resp.PaymentID {
				t.Fatalf("inquiry %s", inqBody)
			}
			// Design.md "Declines": inquiry shows the decline code pay returned.
			if inq.PaymentResultCode != string(tc.code) {
				t.Errorf("inquiry paymentResultCode %s, want %s", inq.PaymentResultCode, tc.code)
			}
		})
	}
	// Search while the gateway runs (the WAL holds the recent commits) and again after it stopped.
	scan := func(when string) {
		files := map[string][]byte{"stdout": g.stdout.Bytes(), "stderr": g.stderr.Bytes()}
		entries, err := os.ReadDir(g.dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(g.dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files[e.Name()] = b
		}
		for i, b := range bodies {
			files[fmt.Sprintf("response %d", i)] = b
		}
		if _, ok := files["cardgate.db-wal"]; !ok && when == "running" {
			t.Errorf("no WAL file while running: the scan would miss recent commits")
		}
		if !bytes.Contains(g.stderr.Bytes(), []byte("level=DEBUG")) && !bytes.Contains(g.stderr.Bytes(), []byte("level=INFO")) {
			t.Errorf("no logs captured")
		}
		for i, tc := range testCards {
			cvv := cvvFor(i, tc.brand)
			needles := append(panForms(tc.number), `"cvv":"`+cvv+`"`, "cvv="+cvv)
			for name, b := range files {
				for _, n := range needles {
					if bytes.Contains(b, []byte(n)) {
						t.Errorf("%s: %s contains %q", when, name, n)
					}
				}
			}
		}
	}
	scan("running")
	g.stop()
	scan("stopped")
}

// panForms is a card number as people and programs write it: bare, in groups of four with spaces
// or dashes, and in the 4-6-5 / 4-6-4 grouping of AMEX and Diners.
func panForms(pan string) []string {
	forms := []string{pan}
	group := func(sizes []int, sep string) string {
		var parts []string
		rest := pan
		for _, n := range sizes {
			if len(rest) <= n {
				break
			}
			parts = append(parts, rest[:n])
			rest = rest[n:]
		}
		return strings.Join(append(parts, rest), sep)
	}
	for _, sep := range []string{" ", "-"} {
		forms = append(forms, group([]int{4, 4, 4, 4}, sep), group([]int{4, 6}, sep))
	}
	return forms
}

// TestConcurrentIdenticalPay fires 50 identical pay calls at once: one payment, one paymentId and
// one authorization at the acquirer (one AUTH_* event).
func TestConcurrentIdenticalPay(t *testing.T) {
	g := startGateway(t)
	req := payRequest("4242424242424242", "123")
	const n = 50
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := g.client.Pay(context.Background(), req)
			if err != nil {
				errs[i] = err
				return
			}
			if resp.Result.ResultCode != "SUCCESS" && resp.Result.ResultCode != "PAYMENT_IN_PROCESS" {
				errs[i] = fmt.Errorf("result %+v", resp.Result)
			}
			ids[i] = resp.PaymentID
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	for _, id := range ids {
		if id != ids[0] || id == "" {
			t.Fatalf("paymentIds differ: %q vs %q", id, ids[0])
		}
	}
	if c := g.count(`SELECT count(*) FROM payments WHERE request_id = ?`, req.PaymentRequestID); c != 1 {
		t.Errorf("payments rows: %d", c)
	}
	if c := g.count(`SELECT count(*) FROM payment_events WHERE payment_id = ? AND op LIKE 'AUTH_%'`, ids[0]); c != 1 {
		t.Errorf("authorizations: %d, want 1", c)
	}
}

// TestAuthenticationOverHTTP: a request signed with another key is refused with a response the
// merchant can still verify, and nothing is stored.
func TestAuthenticationOverHTTP(t *testing.T) {
	g := startGateway(t)
	other := startGateway(t) // another installation: another merchant key pair
	bad := g.newClient(other.creds.MerchantPrivateKey)
	resp, err := bad.Pay(context.Background(), payRequest("4242424242424242", "123"))
	if err != nil {
		t.Fatalf("refusal must be signed and verifiable: %v", err)
	}
	if resp.Result.ResultCode != "INVALID_SIGNATURE" || resp.Result.ResultStatus != "F" {
		t.Fatalf("result %+v", resp.Result)
	}
	if n := g.count(`SELECT count(*) FROM payments`); n != 0 {
		t.Errorf("payments stored after a bad signature: %d", n)
	}
}
