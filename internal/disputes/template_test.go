package disputes

import (
	"archive/zip"
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestTemplateIsAWordDocument: the template opens as an OOXML package whose document holds the
// dispute's facts (escaped), and the same dispute gives the same bytes.
func TestTemplateIsAWordDocument(t *testing.T) {
	d := Dispute{ID: "dsp_TEST", PaymentID: "P1", CaptureID: "C1", AmountMinor: 4200, Currency: "SGD", ReasonCode: "13.1",
		ReasonMsg: "Merchandise <not> received & more", DefenseDue: time.Date(2026, 12, 11, 0, 0, 0, 0, time.UTC)}
	doc := template(d)
	if !bytes.Equal(doc, template(d)) {
		t.Fatal("the template changes between downloads")
	}
	zr, err := zip.NewReader(bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = string(b)
	}
	for _, part := range []string{"[Content_Types].xml", "_rels/.rels", "word/document.xml"} {
		if files[part] == "" {
			t.Errorf("no %s in the package", part)
		}
	}
	body := files["word/document.xml"]
	for _, want := range []string{"dsp_TEST", "4200 SGD", "Merchandise &lt;not&gt; received &amp; more", "2026-12-11T00:00:00"} {
		if !strings.Contains(body, want) {
			t.Errorf("document.xml lacks %q", want)
		}
	}
	golden := filepath.Join("testdata", "template.document.xml")
	if *update {
		if err := os.WriteFile(golden, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if body != string(want) {
		t.Errorf("document.xml differs from %s (go test -update rewrites it)", golden)
	}
}

func TestEvidenceFormat(t *testing.T) {
	for _, tt := range []struct {
		doc, want string
	}{{"%PDF-1.4", "PDF"}, {"PK\x03\x04rest", "WORD"}, {"\xd0\xcf\x11\xe0rest", "WORD"}, {"plain text", "PDF"}} {
		if got := evidenceFormat([]byte(tt.doc)); got != tt.want {
			t.Errorf("%q: %s, want %s", tt.doc, got, tt.want)
		}
	}
}
