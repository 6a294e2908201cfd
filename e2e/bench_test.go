package e2e

import (
	"encoding/json"
	"os/exec"
	"testing"
)

// runBench runs `cardgate bench … --json` and decodes its one JSON object.
func runBench(t *testing.T, args ...string) map[string]any {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"bench", "--json", "--progress=false"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("cardgate bench %v: %v\n%s", args, err, stderr)
	}
	var rep map[string]any
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("bench --json printed %q: %v", out, err)
	}
	return rep
}

// number reads a numeric field that must be present.
func number(t *testing.T, obj map[string]any, field string) float64 {
	t.Helper()
	v, ok := obj[field].(float64)
	if !ok {
		t.Fatalf("field %q missing or not a number in %v", field, obj)
	}
	return v
}

// checkRun checks one run's figures: calls answered, no errors, percentiles ordered.
func checkRun(t *testing.T, name string, run map[string]any) {
	t.Helper()
	if rps := number(t, run, "rps"); rps <= 0 {
		t.Errorf("%s: rps %v, want > 0", name, rps)
	}
	if n := number(t, run, "count"); n <= 0 {
		t.Errorf("%s: count %v, want > 0", name, n)
	}
	if e := number(t, run, "errors"); e != 0 {
		t.Errorf("%s: %v errors (first: %v)", name, e, run["firstError"])
	}
	p50, p90, p99, mx := number(t, run, "p50Ms"), number(t, run, "p90Ms"), number(t, run, "p99Ms"), number(t, run, "maxMs")
	if p50 <= 0 || p50 > p90 || p90 > p99 || p99 > mx {
		t.Errorf("%s: percentiles p50 %v p90 %v p99 %v max %v are not ordered", name, p50, p90, p99, mx)
	}
}

// TestBenchBaselineSQLite: `cardgate bench --baseline` starts a gateway on a temporary SQLite
// store, loads it and the minimal server, and reports both runs and their ratios.
func TestBenchBaselineSQLite(t *testing.T) {
	rep := runBench(t, "--duration", "2s", "--concurrency", "4", "--baseline")
	checkRun(t, "gateway", rep)
	base, ok := rep["baseline"].(map[string]any)
	if !ok {
		t.Fatalf("no baseline object in %v", rep)
	}
	checkRun(t, "baseline", base)
	for _, f := range []string{"ratioRps", "ratioP99"} {
		if v := number(t, rep, f); v <= 0 {
			t.Errorf("%s = %v, want > 0", f, v)
		}
	}
	if rep["mix"] != "pay" || rep["store"] != "sqlite" || number(t, rep, "concurrency") != 4 {
		t.Errorf("mix %v store %v concurrency %v, want pay sqlite 4", rep["mix"], rep["store"], rep["concurrency"])
	}
	codes, _ := rep["codes"].(map[string]any)
	if n, _ := codes["pay S/SUCCESS"].(float64); n != number(t, rep, "count") {
		t.Errorf("codes %v: every pay should be S/SUCCESS", codes)
	}
	// The floor and the load generator sign with crypto/rsa whatever the build; the gateway with
	// the build's signer.
	signers, _ := rep["signers"].(map[string]any)
	if signers["baseline"] != "go" || signers["client"] != "go" || signers["gateway"] == "" || signers["gateway"] == nil {
		t.Errorf("signers %v, want gateway named, baseline and client go", signers)
	}
}

// TestBenchManualNotify: the manual mix (pay, capture, refund) with notifications to the
// built-in receiver: every call succeeds and the three kinds of notification arrive signed.
func TestBenchManualNotify(t *testing.T) {
	rep := runBench(t, "--duration", "2s", "--concurrency", "4", "--mix", "manual", "--notify")
	checkRun(t, "gateway", rep)
	codes, _ := rep["codes"].(map[string]any)
	for _, k := range []string{"pay S/SUCCESS", "capture S/SUCCESS", "refund S/SUCCESS"} {
		if n, _ := codes[k].(float64); n <= 0 {
			t.Errorf("codes %v: no %q", codes, k)
		}
	}
	if number(t, rep, "notifications") <= 0 || number(t, rep, "notificationsInvalid") != 0 {
		t.Errorf("notifications %v, invalid %v", rep["notifications"], rep["notificationsInvalid"])
	}
	byType, _ := rep["notificationsByType"].(map[string]any)
	for _, k := range []string{"PAYMENT_RESULT", "CAPTURE_RESULT", "REFUND_RESULT"} {
		if n, _ := byType[k].(float64); n <= 0 {
			t.Errorf("notificationsByType %v: no %s", byType, k)
		}
	}
}
