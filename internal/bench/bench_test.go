package bench

import (
	"bytes"
	"context"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/cardgate/cardgate/client"
	"github.com/cardgate/cardgate/protocol"
)

// floorClient starts the floor server on a temporary SQLite store and returns a merchant client
// for it.
func floorClient(t *testing.T) (*client.Client, FloorStore) {
	t.Helper()
	merchantKey, err := protocol.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	gatewayKey, err := protocol.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	st, err := OpenSQLiteFloor(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(FloorHandler(st, &merchantKey.PublicKey, gatewayKey))
	t.Cleanup(srv.Close)
	priv, _ := protocol.EncodePrivateKeyPKCS8(merchantKey)
	pub, _ := protocol.EncodePublicKey(&gatewayKey.PublicKey)
	c, err := client.New(client.Config{BaseURL: srv.URL, ClientID: "SANDBOX_T", PrivateKey: priv, GatewayPublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	return c, st
}

// TestRunCountAgainstFloor: a counted closed-loop run of the manual mix makes exactly its calls,
// each verified and recorded, and the floor stores one row per call.
func TestRunCountAgainstFloor(t *testing.T) {
	c, st := floorClient(t)
	res, err := Run(context.Background(), c, Config{Mix: "manual", Concurrency: 3, Count: 10, RunID: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Iterations != 10 || res.Calls != 30 || res.Errors != 0 {
		t.Fatalf("iterations %d calls %d errors %d (%s), want 10 30 0", res.Iterations, res.Calls, res.Errors, res.FirstError)
	}
	for _, k := range []string{"pay S/SUCCESS", "capture S/SUCCESS", "refund S/SUCCESS"} {
		if res.Codes[k] != 10 {
			t.Errorf("codes %v: %s = %d, want 10", res.Codes, k, res.Codes[k])
		}
	}
	var rows int
	if err := st.(*storeFloor).st.Raw().QueryRow(context.Background(), `SELECT count(*) FROM bench_floor`).Scan(&rows); err != nil || rows != 30 {
		t.Fatalf("floor rows %d (%v), want 30", rows, err)
	}
	s := Summarize(res)
	if s.RPS <= 0 || s.P50Ms <= 0 || s.P99Ms < s.P50Ms || s.MaxMs < s.P99Ms {
		t.Fatalf("summary %+v", s)
	}
}

// TestRunOpenLoop: at a fixed rate for a fixed time, rate×duration iterations start.
func TestRunOpenLoop(t *testing.T) {
	c, _ := floorClient(t)
	res, err := Run(context.Background(), c, Config{Mix: "pay", Rate: 50, Duration: time.Second, RunID: "o"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Iterations != 50 {
		t.Fatalf("iterations %d errors %d (%s), want 50 and none", res.Iterations, res.Errors, res.FirstError)
	}
}

// TestFloorRefusesBadSignature: the floor really verifies, so it costs what verifying costs.
func TestFloorRefusesBadSignature(t *testing.T) {
	merchantKey, _ := protocol.GenerateKey()
	gatewayKey, _ := protocol.GenerateKey()
	st, err := OpenSQLiteFloor(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := FloorHandler(st, &merchantKey.PublicKey, gatewayKey)
	req := httptest.NewRequest(http.MethodPost, "/ams/api/v1/payments/pay", bytes.NewReader([]byte(`{}`)))
	req.Header.Set("client-id", "X")
	req.Header.Set("request-time", strconv.FormatInt(time.Now().UnixMilli(), 10))
	req.Header.Set("signature", "algorithm=RSA256,keyVersion=1,signature=AAAA")
	w := httptest.NewRecorder()
	h(w, req)
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("bad signature answered %d", w.Code)
	}
}

// TestReceiver: a notification signed by the gateway key is counted by type and acknowledged;
// one signed by another key is counted invalid and refused.
func TestReceiver(t *testing.T) {
	gatewayKey, _ := protocol.GenerateKey()
	otherKey, _ := protocol.GenerateKey()
	r, err := StartReceiver(&gatewayKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	post := func(key *rsa.PrivateKey) int {
		body := []byte(`{"notifyType":"PAYMENT_RESULT","result":{"resultStatus":"S"}}`)
		reqTime := strconv.FormatInt(time.Now().UnixMilli(), 10)
		sig, err := protocol.Sign(key, protocol.SigningContent(http.MethodPost, "/notify", "SANDBOX_T", reqTime, body))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, r.URL(), bytes.NewReader(body))
		req.Header.Set("client-id", "SANDBOX_T")
		req.Header.Set("request-time", reqTime)
		req.Header.Set("signature", protocol.SignatureHeader{KeyVersion: "1", Signature: sig}.String())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(gatewayKey); code != http.StatusOK {
		t.Fatalf("valid notification answered %d", code)
	}
	if code := post(otherKey); code != http.StatusUnauthorized {
		t.Fatalf("forged notification answered %d", code)
	}
	if r.Valid() != 1 || r.Invalid() != 1 || r.ByType()["PAYMENT_RESULT"] != 1 {
		t.Fatalf("valid %d invalid %d by type %v", r.Valid(), r.Invalid(), r.ByType())
	}
	r.Reset()
	if r.Valid() != 0 || len(r.ByType()) != 0 {
		t.Fatalf("after reset: valid %d by type %v", r.Valid(), r.ByType())
	}
}
