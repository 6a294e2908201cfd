package disputes

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"fmt"
	"time"

	"github.com/cardgate/cardgate/protocol"
)

// templateLines is what the issuer asks a merchant to show, as the template's paragraphs.
func templateLines(d Dispute) []string {
	return []string{
		"Dispute " + d.ID + ": defense",
		"Payment: " + d.PaymentID,
		"Capture: " + d.CaptureID,
		fmt.Sprintf("Amount disputed: %d %s (minor units)", d.AmountMinor, d.Currency),
		"Reason: " + d.ReasonCode + " " + d.ReasonMsg,
		"Defense due: " + protocol.FormatTime(d.DefenseDue),
		"",
		"1. Proof of delivery or service:",
		"",
		"2. Correspondence with the buyer:",
		"",
		"3. Terms the buyer accepted:",
		"",
		"4. Anything else:",
	}
}

// template is the defense template as a Word document (disputeEvidenceFormat WORD): a minimal
// OOXML package, the three parts Word needs. Its bytes depend only on the dispute, so the same
// dispute downloads the same file on every instance.
func template(d Dispute) []byte {
	var body bytes.Buffer
	for _, line := range templateLines(d) {
		body.WriteString(`<w:p><w:r><w:t xml:space="preserve">`)
		_ = xml.EscapeText(&body, []byte(line)) // writes to a bytes.Buffer: cannot fail
		body.WriteString(`</w:t></w:r></w:p>`)
	}
	parts := []struct{ name, content string }{
		{"[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
			`<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
			`<Default Extension="xml" ContentType="application/xml"/>` +
			`<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>` +
			`</Types>`},
		{"_rels/.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
			`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>` +
			`</Relationships>`},
		{"word/document.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
			`<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` +
			body.String() + `</w:body></w:document>`},
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, p := range parts {
		// A fixed time: zip entries carry one, and the file must not change between downloads.
		w, err := zw.CreateHeader(&zip.FileHeader{Name: p.name, Method: zip.Deflate, Modified: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			panic(err) // writing to memory
		}
		if _, err := w.Write([]byte(p.content)); err != nil {
			panic(err)
		}
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return out.Bytes()
}

// evidenceFormat names a supplied document's format for downloadDisputeEvidence, whose enum has
// only PDF and WORD: a Word document (an OOXML zip or the old OLE file) is WORD, anything else PDF.
func evidenceFormat(doc []byte) string {
	if bytes.HasPrefix(doc, []byte("PK\x03\x04")) || bytes.HasPrefix(doc, []byte("\xd0\xcf\x11\xe0")) {
		return "WORD"
	}
	return "PDF"
}
