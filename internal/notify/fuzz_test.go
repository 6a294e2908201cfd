package notify

import (
	"encoding/json"
	"net/http"
	"testing"
)

// FuzzAcknowledged: whatever a merchant answers, judging it never panics; only HTTP 200 with a
// JSON acknowledgement of result SUCCESS/S stops the retries, and every other answer is logged
// with a reason.
func FuzzAcknowledged(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
	}{
		// /work/shared/fixtures 000-04 and 003-31: the acknowledgement Antom's samples send.
		{200, "{\n  \"result\": {\n    \"resultCode\": \"SUCCESS\",\n    \"resultStatus\": \"S\",\n    \"resultMessage\": \"success\"\n  }\n}"},
		{200, `{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}`},
		// The Java sample's answer when its signature check fails: must be retried.
		{200, `{"result":{"resultCode":"FAIL","resultStatus":"F","resultMessage":"fail"}}`},
		{200, `{"result":{"resultCode":"SUCCESS","resultStatus":"F"}}`},
		{200, `{"result":{"resultCode":"SUCCESS"}}`},
		{200, `{"result":null}`},
		{200, `{"result":"S"}`},
		{200, `SUCCESS`},
		{200, ``},
		{500, `{"result":{"resultCode":"SUCCESS","resultStatus":"S"}}`},
		{302, `{"result":{"resultCode":"SUCCESS","resultStatus":"S"}}`},
		{204, ``},
	} {
		f.Add(s.status, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		ok, reason := acknowledged(status, body)
		if ok != (reason == "") {
			t.Fatalf("acknowledged(%d, %q) = %v with reason %q", status, body, ok, reason)
		}
		if !ok {
			return
		}
		if status != http.StatusOK {
			t.Fatalf("HTTP %d taken as an acknowledgement", status)
		}
		// An independent reading of the body must find the acknowledgement too.
		var ack struct {
			Result struct{ ResultCode, ResultStatus string }
		}
		if err := json.Unmarshal(body, &ack); err != nil || ack.Result.ResultCode != "SUCCESS" || ack.Result.ResultStatus != "S" {
			t.Fatalf("%q taken as an acknowledgement (%v, %+v)", body, err, ack.Result)
		}
		if again, _ := acknowledged(status, body); !again {
			t.Fatalf("%q acknowledged once, not twice", body)
		}
	})
}
