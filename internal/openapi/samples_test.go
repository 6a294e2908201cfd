package openapi_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/openapi"
)

const (
	fixtureDir = "../../e2e/testdata/fixtures" // Antom's sample requests and answers
	goldenDir  = "../api/testdata"             // cardgate's own answers, pinned
	reportDir  = "../reports/testdata"         // the reports as internal/reports writes them, pinned
)

// sample says where a sample belongs: the operation, and whether it is its request or its
// answer (for a notification, the webhook's request is the notification and its answer the
// merchant's acknowledgement).
type sample struct {
	op      string
	request bool
	// excerpt: the sample is a few members of the body, not the whole (Antom's pages show an
	// inquiry's transactions alone); each member is checked against the body's schema for it.
	excerpt bool
	// refused names the member a sample has that cardgate refuses: the sample must fail the
	// schema there (and e2e/seeds_test.go sends it and gets PARAM_ILLEGAL naming it).
	refused string
}

// fixtures maps every file of e2e/testdata/fixtures to its operation.
var fixtures = map[string]sample{
	"000-01-pay-request.json":                   {op: "pay", request: true},
	"000-02-pay-response-U.json":                {op: "pay"},
	"000-03-notify-payment-result.json":         {op: "notifyPayment", request: true},
	"000-04-notify-ack.json":                    {op: "notifyPayment"},
	"000-05-inquiry-response.json":              {op: "inquiryPayment"},
	"001-06-pay-request.json":                   {op: "pay", request: true},
	"001-07-pay-request.json":                   {op: "pay", request: true},
	"001-08-pay-response-S.json":                {op: "pay"},
	"001-09-notify-payment-result.json":         {op: "notifyPayment", request: true},
	"001-10-notify-payment-result.json":         {op: "notifyPayment", request: true},
	"002-11-pay-request.json":                   {op: "pay", request: true},
	"002-12-pay-response-S.json":                {op: "pay"},
	"002-13-notify-payment-result.json":         {op: "notifyPayment", request: true},
	"002-14-notify-payment-result.json":         {op: "notifyPayment", request: true},
	"002-15-inquiry-response.json":              {op: "inquiryPayment"},
	"002-16-inquiry-response.json":              {op: "inquiryPayment"},
	"002-17-capture-request.json":               {op: "capture", request: true},
	"002-18-notify-capture-result.json":         {op: "notifyCapture", request: true},
	"002-19-notify-capture-result.json":         {op: "notifyCapture", request: true},
	"002-20-inquiry-response-transactions.json": {op: "inquiryPayment", excerpt: true},
	"002-21-inquiry-response-transactions.json": {op: "inquiryPayment", excerpt: true},
	"002-22-inquiry-response-transactions.json": {op: "inquiryPayment", excerpt: true},
	"002-23-pay-request.json":                   {op: "pay", request: true},
	"003-24-pay-request.json":                   {op: "pay", request: true},
	"003-25-pay-response-S.json":                {op: "pay"},
	"003-26-pay-response-F.json":                {op: "pay"},
	"003-27-pay-response-U.json":                {op: "pay"},
	"003-31-notify-ack.json":                    {op: "notifyPayment"},
	"003-32-inquiry-response-transactions.json": {op: "inquiryPayment"},
	"003-33-inquiry-response.json":              {op: "inquiryPayment"},
	"004-34-pay-request.json":                   {op: "pay", request: true},
	"004-35-pay-response-S.json":                {op: "pay"},
	"004-36-pay-response-F.json":                {op: "pay"},
	"004-37-pay-response-U.json":                {op: "pay"},
	"004-38-notify-payment-result.json":         {op: "notifyPayment", request: true},
	"004-39-notify-payment-result.json":         {op: "notifyPayment", request: true},
	"004-40-inquiry-response.json":              {op: "inquiryPayment"},
	"004-41-inquiry-response.json":              {op: "inquiryPayment"},
	"004-42-capture-request.json":               {op: "capture", request: true},
	"004-47-inquiry-response-transactions.json": {op: "inquiryPayment", excerpt: true},
	"004-48-inquiry-response-transactions.json": {op: "inquiryPayment", excerpt: true},
	"004-49-inquiry-response-transactions.json": {op: "inquiryPayment", excerpt: true},
	// A wallet pay (ALIPAY_CN): cardgate takes cards only.
	"004-50-pay-request.json": {op: "pay", request: true, refused: "paymentMethod.paymentMethodType"},
}

// goldens maps every golden file of internal/api/testdata (cardgate's answers) to its operation.
var goldens = map[string]string{
	"cancel.golden":                         "cancel",
	"capture-approved.golden":               "capture",
	"capture-failed.golden":                 "capture",
	"capture-in-process.golden":             "capture",
	"clock-advance.golden":                  "sandboxClockAdvance",
	"dispute-accept.golden":                 "acceptDispute",
	"dispute-download-file.golden":          "downloadDisputeEvidence",
	"dispute-download-template.golden":      "downloadDisputeEvidence",
	"dispute-open.golden":                   "sandboxDisputeOpen",
	"dispute-supply.golden":                 "supplyDefenseDocument",
	"disputes-list.golden":                  "disputesList",
	"error-capture-amount-exceed.golden":    "capture",
	"error-dispute-not-open.golden":         "acceptDispute",
	"error-invalid-signature.golden":        "pay",
	"error-order-not-exist.golden":          "inquiryPayment",
	"error-param-illegal.golden":            "pay",
	"error-refund-not-captured.golden":      "refund",
	"error-refund-not-exist.golden":         "inquiryRefund",
	"error-routing-unknown-acquirer.golden": "routingSet",
	"inquiry-approved.golden":               "inquiryPayment",
	"inquiry-cancelled.golden":              "inquiryPayment",
	"inquiry-capture-failed.golden":         "inquiryPayment",
	"inquiry-capture-in-process.golden":     "inquiryPayment",
	"inquiry-declined.golden":               "inquiryPayment",
	"inquiry-in-process.golden":             "inquiryPayment",
	"inquiry-refund.golden":                 "inquiryRefund",
	"inquiry-transactions.golden":           "inquiryPayment",
	"pay-approved.golden":                   "pay",
	"pay-declined.golden":                   "pay",
	"pay-in-process.golden":                 "pay",
	"refund.golden":                         "refund",
	"routing-get-none.golden":               "routingGet",
	"routing-set.golden":                    "routingSet",
}

// readJSON decodes a sample keeping numbers exact, so that 24 is told from "24" and from 24.5.
func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// sameFiles fails the test unless the directory holds exactly the table's files (with that
// suffix): a new sample must be placed, and a placed one must exist.
func sameFiles[V any](t *testing.T, dir, suffix string, table map[string]V) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), suffix) {
			onDisk = append(onDisk, e.Name())
			if _, ok := table[e.Name()]; !ok {
				t.Errorf("%s/%s is in no table: say which operation it belongs to", dir, e.Name())
			}
		}
	}
	for name := range table {
		if !slices.Contains(onDisk, name) {
			t.Errorf("the table names %s, which %s does not hold", name, dir)
		}
	}
}

// TestFixturesValidate checks Antom's samples against the schemas of the operations they belong
// to. Members a schema does not name are allowed, as Antom adds fields (and misspells some:
// threeDSResult.caav): an SDK ignores them, and so does cardgate reading a request.
func TestFixturesValidate(t *testing.T) {
	doc := loadDoc(t)
	ops := operations(t, doc)
	sameFiles(t, fixtureDir, ".json", fixtures)
	for _, name := range sortedKeys(anyMap(fixtures)) {
		s := fixtures[name]
		t.Run(name, func(t *testing.T) {
			o, ok := ops[s.op]
			if !ok {
				t.Fatalf("no operation %s", s.op)
			}
			v := readJSON(t, filepath.Join(fixtureDir, name))
			var schema any
			if s.request {
				schema = requestSchema(t, doc, o)
			} else {
				schema = responseSchema(t, doc, o, "200", "application/json")
			}
			var vs []openapi.Violation
			if s.excerpt {
				props, _ := object(t, doc, schema)["properties"].(map[string]any)
				for _, member := range sortedKeys(v) {
					ms, ok := props[member]
					if !ok {
						t.Errorf("the excerpt's %s is no member of %s's answer", member, s.op)
						continue
					}
					for _, x := range doc.Validate(ms, v[member]) {
						x.Path = within(member, x.Path)
						vs = append(vs, x)
					}
				}
			} else {
				vs = doc.Validate(schema, v)
			}
			if s.refused != "" {
				if !slices.ContainsFunc(vs, func(x openapi.Violation) bool { return x.Path == s.refused }) {
					t.Errorf("cardgate refuses this sample's %s, but the schema lets it pass (violations:%s)", s.refused, lines(violationList(vs)))
				}
				return
			}
			if len(vs) > 0 {
				t.Errorf("does not validate against %s's %s:%s", s.op, part(s.request), lines(violationList(vs)))
			}
		})
	}
}

// within is the path of a violation found inside member.
func within(member, path string) string {
	if path == "" || strings.HasPrefix(path, "[") {
		return member + path
	}
	return member + "." + path
}

func part(request bool) string {
	if request {
		return "request"
	}
	return "answer"
}

// TestGoldensValidate checks cardgate's own answers, as internal/api pins them, against the
// schemas of their operations, and their result codes against the operations' x-result-codes.
// The volatile values stand as "<paymentId>" and the like: strings where strings are.
func TestGoldensValidate(t *testing.T) {
	doc := loadDoc(t)
	ops := operations(t, doc)
	sameFiles(t, goldenDir, ".golden", goldens)
	for _, name := range sortedKeys(anyMap(goldens)) {
		t.Run(name, func(t *testing.T) {
			o, ok := ops[goldens[name]]
			if !ok {
				t.Fatalf("no operation %s", goldens[name])
			}
			v := readJSON(t, filepath.Join(goldenDir, name))
			if vs := doc.Validate(responseSchema(t, doc, o, "200", "application/json"), v); len(vs) > 0 {
				t.Errorf("does not validate against %s's answer:%s", goldens[name], lines(violationList(vs)))
			}
			res, _ := v["result"].(map[string]any)
			if code, _ := res["resultCode"].(string); !slices.Contains(resultCodes(o), code) {
				t.Errorf("answers %s, which %s's x-result-codes do not list", code, goldens[name])
			}
		})
	}
}

// reportGoldens maps the JSON golden files of internal/reports to the report calls' answers.
var reportGoldens = map[string]string{
	"transactions.json": "reportTransactions",
	"settlement.json":   "reportSettlement",
}

// TestReportGoldensValidate checks the reports as internal/reports writes them (JSON, and the
// CSV's header) against the report calls' answers.
func TestReportGoldensValidate(t *testing.T) {
	doc := loadDoc(t)
	ops := operations(t, doc)
	sameFiles(t, reportDir, ".json", reportGoldens)
	for _, name := range sortedKeys(anyMap(reportGoldens)) {
		o := ops[reportGoldens[name]]
		v := readJSON(t, filepath.Join(reportDir, name))
		if vs := doc.Validate(responseSchema(t, doc, o, "200", "application/json"), v); len(vs) > 0 {
			t.Errorf("%s does not validate against %s's answer:%s", name, reportGoldens[name], lines(violationList(vs)))
		}
		csv, err := os.ReadFile(filepath.Join(reportDir, strings.TrimSuffix(name, ".json")+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		header, _, _ := strings.Cut(string(csv), "\n")
		member := "lines"
		if name == "settlement.json" {
			member = "currencies"
		}
		answer := object(t, doc, responseSchema(t, doc, o, "200", "application/json"))
		line := object(t, doc, answer["properties"].(map[string]any)[member].(map[string]any)["items"])
		var columns []string
		for _, r := range line["required"].([]any) {
			columns = append(columns, r.(string))
		}
		if header != strings.Join(columns, ",") {
			t.Errorf("%s.csv's header is %q, the document's columns %q", strings.TrimSuffix(name, ".json"), header, strings.Join(columns, ","))
		}
	}
}
