package card

import "sort"

// Brand is a card scheme, spelled as the Antom SDKs' CardBrand enum spells it
// so that the value can go on the wire (cardBrand) unchanged.
type Brand string

// The brands of the Antom SDK CardBrand enum.
const (
	Visa       Brand = "VISA"
	Mastercard Brand = "MASTERCARD"
	Maestro    Brand = "MAESTRO"
	Amex       Brand = "AMEX"
	JCB        Brand = "JCB"
	Diners     Brand = "DINERS"
	Discover   Brand = "DISCOVER"
	CUP        Brand = "CUP" // China UnionPay
	Mir        Brand = "MIR"
	Elo        Brand = "ELO"
	Hipercard  Brand = "HIPERCARD"
	Troy       Brand = "TROY"
	// CartesBancaires is France's domestic scheme. No IIN range is its own: its cards are
	// co-badged with Visa or Mastercard, so DetectBrand never returns it; the BIN table
	// (internal/bin) knows which cards carry it.
	CartesBancaires Brand = "CARTES_BANCAIRES"
)

// brands lists every Brand constant, in the SDK enum's order.
var brands = []Brand{Visa, Mastercard, Maestro, Amex, JCB, Diners, Discover, CUP, Mir, Elo, Hipercard, Troy, CartesBancaires}

// Brands returns every brand the gateway knows, so that configuration naming a brand (routing
// rules) can be checked against the one list. The slice is fresh; callers may keep it.
func Brands() []Brand { return append([]Brand(nil), brands...) }

// iinRange is an inclusive range of issuer identification number prefixes.
// lo and hi have the same number of digits, so comparing them as strings with
// an equally long prefix of the PAN is a numeric comparison.
type iinRange struct {
	lo, hi string
	brand  Brand
}

// iinRanges lists the prefixes that decide a brand. When several ranges match
// a PAN the one with the longest prefix wins; that is how the schemes carve
// up each other's space (Elo BINs inside Visa's 4, Hipercard inside Diners'
// 38), and it keeps the table free of ordering tricks. Ranges of equal prefix
// length never overlap (a test checks this).
//
// UnionPay and Discover: UnionPay owns the whole 62 block. Discover's network
// accepts UnionPay cards in 622126–622925 (and 624–626, 6282–6288), but those
// cards are issued and branded UnionPay, so 62 is CUP throughout. Discover's
// own cards are 6011, 644–649 and 65.
var iinRanges = sortRanges([]iinRange{
	{"4", "4", Visa},

	{"51", "55", Mastercard},
	{"2221", "2720", Mastercard},

	{"50", "50", Maestro},
	{"56", "59", Maestro},
	{"63", "63", Maestro},
	{"67", "67", Maestro},

	{"34", "34", Amex},
	{"37", "37", Amex},

	{"3528", "3589", JCB},
	{"2131", "2131", JCB}, // legacy 15-digit JCB
	{"1800", "1800", JCB}, // legacy 15-digit JCB

	{"300", "305", Diners},
	{"3095", "3095", Diners},
	{"36", "36", Diners},
	{"38", "39", Diners},

	{"6011", "6011", Discover},
	{"644", "649", Discover},
	{"65", "65", Discover},

	{"62", "62", CUP},
	{"8100", "8171", CUP},

	{"2200", "2204", Mir},

	{"9792", "9792", Troy},

	{"384100", "384100", Hipercard},
	{"384140", "384140", Hipercard},
	{"384160", "384160", Hipercard},
	{"606282", "606282", Hipercard},

	// Elo BINs, mostly carved out of the Visa, Maestro and Discover blocks.
	{"401178", "401179", Elo},
	{"431274", "431274", Elo},
	{"438935", "438935", Elo},
	{"451416", "451416", Elo},
	{"457393", "457393", Elo},
	{"457631", "457632", Elo},
	{"504175", "504175", Elo},
	{"506699", "506778", Elo},
	{"509000", "509999", Elo},
	{"627780", "627780", Elo},
	{"636297", "636297", Elo},
	{"636368", "636368", Elo},
	{"650031", "650033", Elo},
	{"650035", "650051", Elo},
	{"650405", "650439", Elo},
	{"650485", "650538", Elo},
	{"650541", "650598", Elo},
	{"650700", "650718", Elo},
	{"650720", "650727", Elo},
	{"650901", "650978", Elo},
	{"651652", "651679", Elo},
	{"655000", "655019", Elo},
	{"655021", "655058", Elo},
})

// sortRanges orders the table longest prefix first, so the first match found
// is the most specific one.
func sortRanges(r []iinRange) []iinRange {
	sort.SliceStable(r, func(i, j int) bool { return len(r[i].lo) > len(r[j].lo) })
	return r
}

// DetectBrand returns the brand a card number belongs to, judged from its
// leading digits. It does not check length or Luhn (ParseNumber does) and is
// meant for full PANs: a short prefix may match a broad range before the
// digits that would select a more specific one have been typed.
func DetectBrand(pan string) (Brand, bool) {
	for i := 0; i < len(pan); i++ {
		if pan[i] < '0' || pan[i] > '9' {
			return "", false
		}
	}
	for _, r := range iinRanges {
		if len(pan) < len(r.lo) {
			continue
		}
		p := pan[:len(r.lo)]
		if r.lo <= p && p <= r.hi {
			return r.brand, true
		}
	}
	return "", false
}
