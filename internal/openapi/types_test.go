package openapi_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cardgate/cardgate/internal/disputes"
	"github.com/cardgate/cardgate/internal/openapi"
	"github.com/cardgate/cardgate/internal/reports"
	"github.com/cardgate/cardgate/internal/routing"
	"github.com/cardgate/cardgate/protocol"
)

// wireTypes maps each schema of the document to the Go type the gateway decodes or encodes it
// with. written is true for what the gateway writes (answers, notifications): encoding/json is
// strict, so the schema must name exactly the Go field's JSON type, and a member the schema
// requires must be a field written even when empty (no omitempty). What the gateway reads is
// decoded leniently (protocol.Decode), so a request schema may admit more kinds than its field's,
// as long as it admits that one.
var wireTypes = map[string]struct {
	value   any
	written bool
}{
	"Result":                          {protocol.Result{}, true},
	"Amount":                          {protocol.Amount{}, true},
	"ErrorResponse":                   {protocol.ErrorResponse{}, true},
	"NotificationAck":                 {protocol.ErrorResponse{}, true}, // the shape notify parses an acknowledgement into
	"UserName":                        {protocol.UserName{}, false},
	"Address":                         {protocol.Address{}, false},
	"MPIData":                         {protocol.MPIData{}, false},
	"CardMetaData":                    {protocol.CardMetaData{}, false},
	"PaymentMethod":                   {protocol.PaymentMethod{}, false},
	"PaymentFactor":                   {protocol.PaymentFactor{}, false},
	"SettlementStrategy":              {protocol.SettlementStrategy{}, false},
	"Buyer":                           {protocol.Buyer{}, false},
	"Goods":                           {protocol.Goods{}, false},
	"Shipping":                        {protocol.Shipping{}, false},
	"BrowserInfo":                     {protocol.BrowserInfo{}, false},
	"Env":                             {protocol.Env{}, false},
	"Order":                           {protocol.Order{}, false},
	"CreditPayPlan":                   {protocol.CreditPayPlan{}, true}, // asked for in pay, written in paymentResultInfo
	"PayRequest":                      {protocol.PayRequest{}, false},
	"RedirectActionForm":              {protocol.RedirectActionForm{}, true},
	"ThreeDSResult":                   {protocol.ThreeDSResult{}, true},
	"PaymentResultInfo":               {protocol.PaymentResultInfo{}, true},
	"CardInfo":                        {protocol.CardInfo{}, true},
	"AcquirerInfo":                    {protocol.AcquirerInfo{}, true},
	"PayResponse":                     {protocol.PayResponse{}, true},
	"InquiryPaymentRequest":           {protocol.InquiryPaymentRequest{}, false},
	"Transaction":                     {protocol.Transaction{}, true},
	"InquiryPaymentResponse":          {protocol.InquiryPaymentResponse{}, true},
	"CaptureRequest":                  {protocol.CaptureRequest{}, false},
	"CaptureResponse":                 {protocol.CaptureResponse{}, true},
	"CancelRequest":                   {protocol.CancelRequest{}, false},
	"CancelResponse":                  {protocol.CancelResponse{}, true},
	"RefundRequest":                   {protocol.RefundRequest{}, false},
	"RefundResponse":                  {protocol.RefundResponse{}, true},
	"InquiryRefundRequest":            {protocol.InquiryRefundRequest{}, false},
	"InquiryRefundResponse":           {protocol.InquiryRefundResponse{}, true},
	"ConsultRequest":                  {protocol.ConsultRequest{}, false},
	"ConsultResponse":                 {protocol.ConsultResponse{}, true},
	"PaymentOption":                   {protocol.PaymentOption{}, true},
	"PaymentOptionDetail":             {protocol.PaymentOptionDetail{}, true},
	"SupportCardBrand":                {protocol.SupportCardBrand{}, true},
	"Logo":                            {protocol.Logo{}, true},
	"Installment":                     {protocol.Installment{}, true},
	"Plan":                            {protocol.Plan{}, true},
	"AcceptDisputeRequest":            {protocol.AcceptDisputeRequest{}, false},
	"AcceptDisputeResponse":           {protocol.AcceptDisputeResponse{}, true},
	"SupplyDefenseDocumentRequest":    {protocol.SupplyDefenseDocumentRequest{}, false},
	"DownloadDisputeEvidenceRequest":  {protocol.DownloadDisputeEvidenceRequest{}, false},
	"DownloadDisputeEvidenceResponse": {protocol.DownloadDisputeEvidenceResponse{}, true},
	"NotifyDispute":                   {disputes.NotifyDispute{}, true},
	"NotifyPayment":                   {protocol.NotifyPayment{}, true},
	"NotifyCapture":                   {protocol.NotifyCapture{}, true},
	"NotifyRefund":                    {protocol.NotifyRefund{}, true},
	"EmptyRequest":                    {struct{}{}, false}, // what routing/get decodes
	"MerchantSettingsRequest":         {protocol.MerchantSettingsRequest{}, false},
	"MerchantSettingsResponse":        {protocol.MerchantSettingsResponse{}, true},
	"NotificationsListRequest":        {protocol.NotificationsListRequest{}, false},
	"NotificationAttempt":             {protocol.NotificationAttempt{}, true},
	"Notification":                    {protocol.Notification{}, true},
	"NotificationsListResponse":       {protocol.NotificationsListResponse{}, true},
	"NotificationsResendRequest":      {protocol.NotificationsResendRequest{}, false},
	"NotificationsResendResponse":     {protocol.NotificationsResendResponse{}, true},
	"RoutingMatch":                    {routing.Match{}, true}, // the canonical form set and get answer
	"RoutingRule":                     {routing.Rule{}, true},
	"RoutingDefault":                  {routing.Default{}, true},
	"RoutingDocument":                 {routing.Document{}, false},
	"RoutingRulesResponse":            {protocol.RoutingRulesResponse{}, true},
	"DisputesListRequest":             {protocol.DisputesListRequest{}, false},
	"DisputeInfo":                     {protocol.DisputeInfo{}, true},
	"DisputesListResponse":            {protocol.DisputesListResponse{}, true},
	"LogsTailRequest":                 {protocol.LogsTailRequest{}, false},
	"APICall":                         {protocol.APICall{}, true},
	"LogsTailResponse":                {protocol.LogsTailResponse{}, true},
	"ClockAdvanceRequest":             {protocol.ClockAdvanceRequest{}, false},
	"ClockAdvanceResponse":            {protocol.ClockAdvanceResponse{}, true},
	"ForceRequest":                    {protocol.ForceRequest{}, false},
	"Force":                           {protocol.Force{}, true},
	"ForceResponse":                   {protocol.ForceResponse{}, true},
	"ResetRequest":                    {protocol.ResetRequest{}, false},
	"ResetResponse":                   {protocol.ResetResponse{}, true},
	"SandboxDisputeOpenRequest":       {protocol.SandboxDisputeOpenRequest{}, false},
	"SandboxDisputeOpenResponse":      {protocol.SandboxDisputeOpenResponse{}, true},
	"ReportRequest":                   {protocol.ReportRequest{}, false},
}

// untyped are the schemas without an exported Go type, and why. A report is written by
// internal/reports as it streams (render.go), from unexported types; TestReportsMatchColumns
// holds these schemas to its columns instead.
var untyped = map[string]string{
	"ReportLine":        "internal/reports lineJSON (unexported); its members are reports.TransactionColumns",
	"TransactionReport": "written piece by piece by internal/reports.WriteTransactions",
	"SettlementTotal":   "internal/reports totalJSON (unexported); its members are reports.SettlementColumns",
	"SettlementReport":  "written piece by piece by internal/reports.WriteSettlement",
}

// TestSchemasMatchWireTypes holds every schema to the Go type the gateway reads or writes: the
// same members under the same JSON names, of the same JSON types, referring to the schemas of
// the same Go types. A field added to a wire type without its schema (or the reverse) fails here.
func TestSchemasMatchWireTypes(t *testing.T) {
	doc := loadDoc(t)
	schemas, _ := doc.Root["components"].(map[string]any)["schemas"].(map[string]any)
	for _, name := range sortedKeys(schemas) {
		wt, typed := wireTypes[name]
		if _, ok := untyped[name]; ok {
			if typed {
				t.Errorf("%s is both typed and untyped", name)
			}
			continue
		}
		if !typed {
			t.Errorf("schema %s has no Go type in wireTypes (nor a reason in untyped)", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			for _, p := range compareStruct(doc, schemas[name].(map[string]any), reflect.TypeOf(wt.value), wt.written) {
				t.Error(p)
			}
		})
	}
	for name := range wireTypes {
		if schemas[name] == nil {
			t.Errorf("wireTypes names %s, which the document does not define", name)
		}
	}
	for name := range untyped {
		if schemas[name] == nil {
			t.Errorf("untyped names %s, which the document does not define", name)
		}
	}
}

var rawMessage = reflect.TypeOf(json.RawMessage(nil))

// compareStruct lists how an object schema and a struct type disagree.
func compareStruct(doc *openapi.Doc, schema map[string]any, typ reflect.Type, written bool) []string {
	var out []string
	if schema["type"] != "object" {
		return []string{fmt.Sprintf("type is %v, want object", schema["type"])}
	}
	props, _ := schema["properties"].(map[string]any)
	fields := map[string]reflect.StructField{}
	omitEmpty := map[string]bool{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Anonymous {
			out = append(out, fmt.Sprintf("field %s is embedded: compare its fields by hand", f.Name))
			continue
		}
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f
		omitEmpty[name] = slices.Contains(strings.Split(opts, ","), "omitempty")
	}
	for _, name := range sortedKeys(props) {
		f, ok := fields[name]
		if !ok {
			out = append(out, fmt.Sprintf("%s is documented, but %s has no such field", name, typ))
			continue
		}
		for _, p := range compareValue(doc, props[name], f.Type, written) {
			out = append(out, name+": "+p)
		}
	}
	for _, name := range sortedKeys(anyMap(fields)) {
		if _, ok := props[name]; !ok {
			out = append(out, fmt.Sprintf("%s (field %s of %s) is not documented", name, fields[name].Name, typ))
		}
	}
	if written {
		req, _ := schema["required"].([]any)
		for _, r := range req {
			name, _ := r.(string)
			if omitEmpty[name] {
				out = append(out, fmt.Sprintf("%s is required, but %s omits it when empty", name, typ))
			}
		}
	}
	return out
}

// compareValue lists how a property's schema and a field's type disagree.
func compareValue(doc *openapi.Doc, schema any, typ reflect.Type, written bool) []string {
	s, ok := schema.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("schema %v is not an object", schema)}
	}
	if typ == rawMessage {
		return nil // kept raw on purpose (routing's document); its schema says what it holds
	}
	if typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if ref, ok := s["$ref"].(string); ok {
		name, isSchema := strings.CutPrefix(ref, "#/components/schemas/")
		wt, typed := wireTypes[name]
		switch {
		case !isSchema:
			return []string{fmt.Sprintf("$ref %s is not a schema", ref)}
		case !typed:
			return []string{fmt.Sprintf("refers to %s, which has no Go type", name)}
		case reflect.TypeOf(wt.value) != typ:
			return []string{fmt.Sprintf("refers to %s (%T), but the field is a %s", name, wt.value, typ)}
		}
		return nil
	}
	var want string
	switch typ.Kind() {
	case reflect.String:
		want = "string"
	case reflect.Bool:
		want = "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		want = "integer"
	case reflect.Float32, reflect.Float64:
		want = "number"
	case reflect.Slice:
		want = "array"
	case reflect.Map:
		want = "object"
	case reflect.Struct:
		return []string{fmt.Sprintf("a %s is documented inline: give it a schema of its own and refer to it", typ)}
	default:
		return []string{fmt.Sprintf("no JSON type for a %s", typ)}
	}
	var types []string
	switch v := s["type"].(type) {
	case string:
		types = []string{v}
	case []any:
		for _, n := range v {
			types = append(types, fmt.Sprint(n))
		}
	}
	switch {
	case written && (len(types) != 1 || types[0] != want):
		return []string{fmt.Sprintf("type %v, but the gateway writes %s (%s)", s["type"], want, typ)}
	case !slices.Contains(types, want):
		return []string{fmt.Sprintf("type %v does not admit %s (%s)", s["type"], want, typ)}
	}
	switch typ.Kind() {
	case reflect.Slice:
		return compareValue(doc, s["items"], typ.Elem(), written)
	case reflect.Map:
		if typ.Key().Kind() != reflect.String {
			return []string{fmt.Sprintf("a map keyed by %s", typ.Key())}
		}
		return compareValue(doc, s["additionalProperties"], typ.Elem(), written)
	}
	return nil
}

// TestReportsMatchColumns holds the report schemas to the columns internal/reports writes: a
// line's members, required, in the columns' order (the CSV header's).
func TestReportsMatchColumns(t *testing.T) {
	doc := loadDoc(t)
	schemas, _ := doc.Root["components"].(map[string]any)["schemas"].(map[string]any)
	for _, tc := range []struct {
		schema  string
		columns []string
	}{
		{"ReportLine", reports.TransactionColumns},
		{"SettlementTotal", reports.SettlementColumns},
	} {
		s, _ := schemas[tc.schema].(map[string]any)
		var required []string
		for _, r := range s["required"].([]any) {
			required = append(required, r.(string))
		}
		props, _ := s["properties"].(map[string]any)
		if !slices.Equal(required, tc.columns) || !slices.Equal(sortedKeys(props), slices.Sorted(slices.Values(tc.columns))) {
			t.Errorf("%s: members %v, required %v; the columns are %v", tc.schema, sortedKeys(props), required, tc.columns)
		}
	}
}
