package payments

import (
	"net/mail"
	"strings"
	"time"

	"github.com/cardgate/cardgate/internal/acquirer"
	"github.com/cardgate/cardgate/internal/bin"
	"github.com/cardgate/cardgate/internal/card"
	"github.com/cardgate/cardgate/internal/localid"
	"github.com/cardgate/cardgate/protocol"
)

// Local cards (seed 000, "Local cards"): a card issued in one of these countries is processed
// under that country's rules, which ask for other fields than an international card. A card's
// country is its issuing country in the BIN table (docs/bins.md), whatever its brand: a Troy card
// and a Visa card issued in Turkey follow the same rules. docs/wire.md §5.3 has the table.
type localRule struct {
	cvv        bool // cvv required (it is only recommended for international cards)
	holderName bool // cardholderName required (it is for international cards)
	payerEmail bool
}

var localRules = map[string]localRule{
	"KR": {},
	"BR": {cvv: true, holderName: true, payerEmail: true}, // and cpf, cross-border only
	"CL": {cvv: true, payerEmail: true},                   // cardholderName recommended
	"MX": {cvv: true, payerEmail: true},
	"PE": {cvv: true, payerEmail: true},
	"TR": {cvv: true, holderName: true},
}

// ThreeDSIssuer is the mode of a South Korean issuer-authentication payment: the buyer
// authenticates on the issuer's page instead of by 3-D Secure, so the answers carry no 3-D
// Secure values (seed 002's sample: empty eci and cavv).
const ThreeDSIssuer = "ISSUER"

// holderNameRequired reports whether a card must carry cardholderName: every card but those whose
// local rules make it optional (KR not required; CL, MX, PE only recommended).
func holderNameRequired(pan card.Number) bool {
	r, local := localRules[bin.Lookup(pan).Country]
	return !local || r.holderName
}

// localIssuerAuthPath is the field of the Korean issuer-authentication flag, for messages.
const localIssuerAuthPath = "paymentMethod.requireIssuerAuthentication"

// issuerAuthNeedsCard refuses the issuer-authentication flag on a pay whose card the gateway does
// not see yet (a saved card or the hosted page): the flow is decided from the card's country
// before the payment exists, and only a card in the request tells it.
func issuerAuthNeedsCard(r *protocol.PayRequest) error {
	if r.PaymentMethod.RequireIssuerAuthentication {
		return illegal(localIssuerAuthPath, "needs the card in %s.cardNo: it is for South Korean cards, and cardgate supports it for server-to-server payments only", metaPath)
	}
	return nil
}

// parseLocalCard applies the local card rules of the card's issuing country, after parseCard has
// read the card. Fields of another country's rules sent with a card are ignored, not refused: a
// merchant's checkout form often collects them all (payerEmail, say) before the card's country is
// known, and none of them changes how another country's card is processed. They are validated
// only for the card they belong to, never stored, and never logged (CardMetaData.LogValue).
func parseLocalCard(r *protocol.PayRequest, now time.Time, cmd *PayCommand) error {
	m, info := r.PaymentMethod.PaymentMethodMetaData, bin.Lookup(cmd.Card)
	if r.PaymentMethod.RequireIssuerAuthentication && info.Country != "KR" {
		return illegal(localIssuerAuthPath, "is for South Korean cards only; this card is not issued in KR")
	}
	rule, local := localRules[info.Country]
	if !local {
		return nil
	}
	country := info.Country
	cmd.Local = acquirer.LocalCardFields{DateOfBirth: m.DateOfBirth, CardPasswordDigest: m.CardPasswordDigest,
		BusinessNo: m.BusinessNo, CPF: m.CPF, PayerEmail: m.PayerEmail}
	// A card-on-file payment carries no CVV (seed 000: "do not pass in for COF scenarios").
	if rule.cvv && m.CVV == "" && !m.IsCardOnFile {
		return localRequired("cvv", country)
	}
	if rule.payerEmail {
		if m.PayerEmail == "" {
			return localRequired("payerEmail", country)
		}
		if !emailAddress(m.PayerEmail) {
			return illegal(metaPath+".payerEmail", "must be an email address (name@domain)")
		}
	}
	switch country {
	case "BR":
		return parseCPF(r, m)
	case "KR":
		if err := parseKorean(m, info, now); err != nil {
			return err
		}
		if r.PaymentMethod.RequireIssuerAuthentication {
			return parseIssuerAuth(r, cmd)
		}
	}
	return nil
}

func localRequired(field, country string) error {
	return illegal(metaPath+"."+field, "is required for cards issued in %s (local card rules)", country)
}

// parseCPF: the CPF is required for a cross-border payment with a Brazilian card and optional for
// a local one (seed 000). A payment is local when the request's merchantRegion is BR; cardgate
// keeps no region of its own for a merchant, so a request that does not say is cross-border,
// the case that asks for more rather than less.
func parseCPF(r *protocol.PayRequest, m *protocol.CardMetaData) error {
	if m.CPF == "" {
		if r.MerchantRegion == "BR" {
			return nil
		}
		return illegal(metaPath+".cpf", "is required for cards issued in BR when the payment is cross-border (merchantRegion is not BR)")
	}
	if _, err := localid.CPF(m.CPF); err != nil {
		// The reason, never the number: it is personal data.
		return illegal(metaPath+".cpf", "is not a valid CPF (11 digits, or 000.000.000-00, with its two check digits): %v", err)
	}
	return nil
}

// parseKorean: every Korean card carries the first two digits of its PIN (cardPasswordDigest);
// an individual's card its holder's date of birth, a corporate card its business registration
// number instead (seed 000). A card is corporate when the BIN table says COMMERCIAL, or when the
// merchant sends businessNo: the merchant asked the buyer which kind of card it is, and a
// sandbox-scale table cannot know every corporate BIN.
func parseKorean(m *protocol.CardMetaData, info bin.Info, now time.Time) error {
	if m.CardPasswordDigest == "" {
		return localRequired("cardPasswordDigest", "KR")
	}
	if len(m.CardPasswordDigest) != 2 || !digitsOnly(m.CardPasswordDigest) {
		return illegal(metaPath+".cardPasswordDigest", "must be the first 2 digits of the card's password")
	}
	if info.Category == "COMMERCIAL" || m.BusinessNo != "" {
		if m.BusinessNo == "" {
			return illegal(metaPath+".businessNo", "is required for South Korean corporate cards")
		}
		if err := localid.KRBusinessNo(m.BusinessNo); err != nil {
			return illegal(metaPath+".businessNo", "is not a valid Korean business registration number (10 digits with its check digit): %v", err)
		}
		return nil
	}
	if m.DateOfBirth == "" {
		return illegal(metaPath+".dateOfBirth", "is required for South Korean individual cards")
	}
	if !birthDate(m.DateOfBirth, now) {
		return illegal(metaPath+".dateOfBirth", "must be a past date in the form YYYY-MM-DD")
	}
	return nil
}

// parseIssuerAuth: a Korean issuer-authentication payment is captured automatically only (seed
// 002, Capture) and never goes through 3-D Secure (seed 002: "the feature of 3DS is not
// involved"), so the requests that ask otherwise are refused rather than quietly changed.
func parseIssuerAuth(r *protocol.PayRequest, cmd *PayCommand) error {
	if cmd.CaptureMode == CaptureManual {
		return illegal("paymentFactor.captureMode", "must be AUTOMATIC with %s: South Korean issuer-authentication payments are captured automatically", localIssuerAuthPath)
	}
	m := r.PaymentMethod.PaymentMethodMetaData
	switch {
	case cmd.Want3DS:
		return illegal(metaPath+".is3DSAuthentication", "must not be true with %s: the issuer authenticates the buyer instead of 3-D Secure", localIssuerAuthPath)
	case cmd.MPI != nil:
		return illegal(metaPath+".mpiData", "must not be sent with %s: the issuer authenticates the buyer instead of 3-D Secure", localIssuerAuthPath)
	case m.EnableAuthenticationUpgrade || m.EnableAuthenticationUpgrate:
		return illegal(metaPath+".enableAuthenticationUpgrade", "must not be true with %s: the issuer authenticates the buyer instead of 3-D Secure", localIssuerAuthPath)
	}
	cmd.IssuerAuth = true
	return nil
}

func birthDate(s string, now time.Time) bool {
	// time.Parse refuses days a month does not have (2001-02-29, 2000-04-31).
	d, err := time.Parse(time.DateOnly, s)
	return err == nil && len(s) == len(time.DateOnly) && d.Year() >= 1900 && !d.After(now)
}

// emailAddress accepts a bare address (no display name, no comments) with a dotted domain.
func emailAddress(s string) bool {
	if len(s) > 254 {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	domain := s[strings.LastIndexByte(s, '@')+1:]
	return strings.Contains(domain, ".") && !strings.HasSuffix(domain, ".") && !strings.HasPrefix(domain, ".")
}

func digitsOnly(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// openIssuerAuth prepares a Korean issuer-authentication payment as a challenge is prepared (the
// card sealed until the buyer has authenticated, the page token, normalUrl), with the issuer's
// page instead of the 3-D Secure one and no 3-D Secure values.
func (s *Service) openIssuerAuth(p *Payment, cmd PayCommand) error {
	if s.auth == nil || s.vault == nil {
		return illegal(localIssuerAuthPath, "needs the gateway's simulated issuer and card vault, which are off on this gateway")
	}
	if err := s.openChallenge(p, cmd); err != nil {
		return err
	}
	p.ThreeDS = ThreeDSDetails{Mode: ThreeDSIssuer}
	p.Order.NormalURL = s.cfg.PublicURL + IssuerAuthPath + p.ChallengeToken
	return nil
}

// IssuerAuthPath is where the Korean issuer's authentication page lives (internal/checkout).
const IssuerAuthPath = "/issuer-auth/"

// issuerAuthStep is SubmitCode's transition for an issuer-authentication payment: the right code
// authenticates the buyer (no 3-D Secure values: seed 002's answers carry empty eci and cavv) and
// sends the authorization, which automatic capture follows; the third wrong code fails it.
func (s *Service) issuerAuthStep(p Payment, right bool) step {
	next := p
	if right {
		next.ThreeDS = ThreeDSDetails{Mode: ThreeDSIssuer, Authenticated: true}
		next.AcquirerState = AcquirerSent
		next.InFlightUntil = s.clock.Now().Add(s.cfg.InFlightLease)
		return step{op: OpAuthenticated, next: next}
	}
	next.ChallengeAttempts++
	if next.ChallengeAttempts < MaxChallengeAttempts {
		return step{op: OpChallengeRetry, next: next}
	}
	next.ResultCode, next.ResultMsg = protocol.Code("VERIFY_TIMES_EXCEED_LIMIT"), "Issuer authentication failed: the code was wrong three times."
	next.SealedCard, next.Order.NormalURL = "", ""
	next.ClosedAt = s.clock.Now()
	return step{op: OpNotAuthenticated, next: next, notify: s.paymentNotice}
}
