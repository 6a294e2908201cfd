package payments_test

import (
	"github.com/cardgate/cardgate/internal/bin"
	"github.com/cardgate/cardgate/internal/card"
)

// localFields are the fields a test card's local card rules ask for (localcard.go, seed 000
// "Local cards"), so that tests about something else can pay with any test card.
func localFields(pan string) map[string]any {
	n, err := card.ParseNumber(pan)
	if err != nil {
		return nil
	}
	info := bin.Lookup(n)
	switch info.Country {
	case "BR":
		return map[string]any{"payerEmail": "buyer@example.com", "cpf": "529.982.247-25"}
	case "CL", "MX", "PE":
		return map[string]any{"payerEmail": "buyer@example.com"}
	case "KR":
		if info.Category == "COMMERCIAL" {
			return map[string]any{"cardPasswordDigest": "12", "businessNo": "1248100998"}
		}
		return map[string]any{"cardPasswordDigest": "12", "dateOfBirth": "1990-01-31"}
	}
	return nil
}

// addLocalFields puts pan's local fields into a request object.
func addLocalFields(m jsonObj, pan string) {
	for k, v := range localFields(pan) {
		set(m, meta+"."+k, v)
	}
}
