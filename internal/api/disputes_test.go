package api_test

import (
	"encoding/base64"
	"strings"
	"testing"
)

// TestGoldenDisputes pins the wire shape of the dispute APIs' answers, of the sandbox's dispute
// call and of the disputes list, and the refusals a merchant meets: a dispute that is not open
// any more, another merchant's (or an unknown) dispute.
func TestGoldenDisputes(t *testing.T) {
	s := newSandboxStack(t)
	req := payRequest(t, "golden-dispute")
	setPath(req, "paymentMethod.paymentMethodMetaData.cardNo", approvedCard)
	deletePath(req, "paymentFactor.captureMode") // automatic: captured at once
	pay := s.pay(t, req)
	expectResult(t, pay, "SUCCESS", "S")
	paymentID := str(pay.body, "paymentId")

	open := s.call(t, "/sandbox/v1/dispute/open", mustJSON(t, map[string]any{"paymentId": paymentID,
		"disputeAmount": map[string]string{"currency": "SGD", "value": "1000"}, "reasonCode": "10.4"}))
	expectResult(t, open, "SUCCESS", "S")
	checkGolden(t, "dispute-open", open)
	id := str(open.body, "disputeId")

	tmpl := s.call(t, "/ams/api/v1/payments/downloadDisputeEvidence", mustJSON(t, map[string]any{"disputeId": id, "disputeEvidenceType": "DISPUTE_EVIDENCE_TEMPLATE"}))
	expectResult(t, tmpl, "SUCCESS", "S")
	checkGolden(t, "dispute-download-template", tmpl)

	doc := base64.StdEncoding.EncodeToString([]byte("%PDF-1.4 a defense"))
	supply := s.call(t, "/ams/api/v1/payments/supplyDefenseDocument", mustJSON(t, map[string]any{"disputeId": id, "disputeEvidence": doc}))
	expectResult(t, supply, "SUCCESS", "S")
	checkGolden(t, "dispute-supply", supply)

	file := s.call(t, "/ams/api/v1/payments/downloadDisputeEvidence", mustJSON(t, map[string]any{"disputeId": id, "disputeEvidenceType": "DISPUTE_EVIDENCE_FILE"}))
	expectResult(t, file, "SUCCESS", "S")
	if str(file.body, "disputeEvidence") != doc {
		t.Errorf("the defense downloaded is not the one supplied")
	}
	checkGolden(t, "dispute-download-file", file)

	accept := s.call(t, "/ams/api/v1/payments/acceptDispute", mustJSON(t, map[string]any{"disputeId": id}))
	expectResult(t, accept, "ORDER_STATUS_INVALID", "F")
	res := accept.body["result"].(map[string]any)
	res["resultMessage"] = strings.ReplaceAll(res["resultMessage"].(string), id, "<disputeId>") // the message names the dispute
	checkGolden(t, "error-dispute-not-open", accept)

	unknown := s.call(t, "/ams/api/v1/payments/acceptDispute", mustJSON(t, map[string]any{"disputeId": "dsp_nosuchdispute00"}))
	expectResult(t, unknown, "ORDER_NOT_EXIST", "F")

	list := s.call(t, "/cardgate/v1/disputes/list", mustJSON(t, map[string]any{"paymentId": paymentID}))
	expectResult(t, list, "SUCCESS", "S")
	checkGolden(t, "disputes-list", list)

	second := s.call(t, "/sandbox/v1/dispute/open", mustJSON(t, map[string]any{"paymentId": paymentID}))
	expectResult(t, second, "SUCCESS", "S") // the 3200 left
	acc := s.call(t, "/ams/api/v1/payments/acceptDispute", mustJSON(t, map[string]any{"disputeId": str(second.body, "disputeId")}))
	expectResult(t, acc, "SUCCESS", "S")
	checkGolden(t, "dispute-accept", acc)
	none := s.call(t, "/sandbox/v1/dispute/open", mustJSON(t, map[string]any{"paymentId": paymentID}))
	expectResult(t, none, "PARAM_ILLEGAL", "F")
}
