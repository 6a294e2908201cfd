package simulator

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Profile is how one simulated acquirer presents itself to the gateway: its name
// (acquirerInfo.acquirerName), the merchant account it holds for the gateway
// (acquirerMerchantId) and the shape of the ids it hands out, after seed 003's samples. Every
// profile is driven by the same card table.
type Profile struct {
	Name       string
	MerchantID string
	Format     IDFormat
}

// The sandbox's acquirers (docs/design.md "Interfaces other tools rely on": Acquirers).
var (
	Alipay   = Profile{Name: "ALIPAY", MerchantID: "2188120031820001", Format: digitsFormat{}}
	Adyen    = Profile{Name: "ADYEN", MerchantID: "CardgateSandboxECOM", Format: pspFormat{}}
	Checkout = Profile{Name: "CHECKOUT", MerchantID: "pc_cardgatesandboxmerchant2ab", Format: checkoutFormat{}}
	// Legacy is the single simulator of gateways before orchestration; its payments keep it.
	Legacy = Profile{Name: "CARDGATE_SIM", MerchantID: "SIMCARDGATE_SIM", Format: legacyFormat{}}
)

// SandboxProfiles are the acquirers a sandbox routes across when no --acquirers file is given.
var SandboxProfiles = []Profile{Alipay, Adyen, Checkout}

// IDFormat writes and reads the simulator's references in one acquirer's shape. A reference
// carries what the simulator needs to answer about it later (its kind, its scenario, when a late
// answer is ready), so that any number of gateway instances share the simulator statelessly.
type IDFormat interface {
	encode(r reference, now time.Time) string
	decode(id string) (reference, error)
}

var (
	kinds     = []string{"auth", "cap", "ref"}
	scenarios = []string{scenarioApprove, scenarioCaptureFails, scenarioCaptureDelays, scenarioTimeout, scenarioNoAnswer}
)

// packed is a reference in 7 bytes: kind (2 bits), scenario (3 bits), whether the time is a
// ready time (1 bit), then 48 bits of Unix milliseconds (the ready time, or the issue time so
// that ids stay distinct).
func packed(r reference, now time.Time) []byte {
	b := make([]byte, 7)
	flags := byte(slices.Index(kinds, r.kind))<<4 | byte(slices.Index(scenarios, r.scenario))<<1
	ms := now.UnixMilli()
	if !r.ready.IsZero() {
		flags |= 1
		ms = r.ready.UnixMilli()
	}
	b[0] = flags
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], uint64(ms))
	copy(b[1:], t[2:])
	return b
}

func unpacked(b []byte) (reference, bool) {
	if len(b) < 7 {
		return reference{}, false
	}
	k, sc := int(b[0]>>4), int(b[0]>>1&7)
	if k >= len(kinds) || sc >= len(scenarios) {
		return reference{}, false
	}
	r := reference{kind: kinds[k], scenario: scenarios[sc]}
	if b[0]&1 == 1 {
		var t [8]byte
		copy(t[2:], b[1:7])
		r.ready = time.UnixMilli(int64(binary.BigEndian.Uint64(t[:])))
	}
	return r, true
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return b
}

var (
	lower32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
	upper32 = base32.StdEncoding.WithPadding(base32.NoPadding)
)

// checkoutFormat is Checkout.com's: "pay_" for a payment, "act_" for an action on it (capture,
// refund), then 26 lower-case base32 characters.
type checkoutFormat struct{}

func (checkoutFormat) encode(r reference, now time.Time) string {
	prefix := "act_"
	if r.kind == "auth" {
		prefix = "pay_"
	}
	return prefix + lower32.EncodeToString(append(packed(r, now), randomBytes(9)...))
}

func (checkoutFormat) decode(id string) (reference, error) {
	body, ok := strings.CutPrefix(id, "pay_")
	if !ok {
		body, ok = strings.CutPrefix(id, "act_")
	}
	if b, err := lower32.DecodeString(body); ok && err == nil && len(body) == 26 {
		if r, ok := unpacked(b); ok {
			return r, nil
		}
	}
	return reference{}, fmt.Errorf("simulator: unknown reference %q", id)
}

// pspFormat is Adyen's pspReference: 16 upper-case alphanumerics.
type pspFormat struct{}

func (pspFormat) encode(r reference, now time.Time) string {
	return upper32.EncodeToString(append(packed(r, now), randomBytes(3)...))
}

func (pspFormat) decode(id string) (reference, error) {
	if b, err := upper32.DecodeString(id); err == nil && len(id) == 16 {
		if r, ok := unpacked(b); ok {
			return r, nil
		}
	}
	return reference{}, fmt.Errorf("simulator: unknown reference %q", id)
}

// digitsFormat is Alipay's: 35 digits, the date first (yyyyMMdd), then the kind, the scenario,
// a ready flag, 13 digits of Unix milliseconds and 11 random digits.
type digitsFormat struct{}

func (digitsFormat) encode(r reference, now time.Time) string {
	ready, ms := 0, now.UnixMilli()
	if !r.ready.IsZero() {
		ready, ms = 1, r.ready.UnixMilli()
	}
	return fmt.Sprintf("%s%d%d%d%013d%s", now.UTC().Format("20060102"), slices.Index(kinds, r.kind),
		slices.Index(scenarios, r.scenario), ready, ms, randomDigits(11))
}

func (digitsFormat) decode(id string) (reference, error) {
	bad := fmt.Errorf("simulator: unknown reference %q", id)
	if len(id) != 35 || strings.Trim(id, "0123456789") != "" {
		return reference{}, bad
	}
	k, sc := int(id[8]-'0'), int(id[9]-'0')
	if k >= len(kinds) || sc >= len(scenarios) {
		return reference{}, bad
	}
	r := reference{kind: kinds[k], scenario: scenarios[sc]}
	if id[10] == '1' {
		ms, err := strconv.ParseInt(id[11:24], 10, 64)
		if err != nil {
			return reference{}, bad
		}
		r.ready = time.UnixMilli(ms)
	}
	return r, nil
}

// legacyFormat is "sim<kind>_<scenario>_<ready unix ms>_<random>", the ids of the single
// simulator that came before, kept so that its payments can still be captured and refunded.
type legacyFormat struct{}

func (legacyFormat) encode(r reference, _ time.Time) string {
	ready := int64(0)
	if !r.ready.IsZero() {
		ready = r.ready.UnixMilli()
	}
	return fmt.Sprintf("sim%s_%s_%d_%s", r.kind, r.scenario, ready, randomDigits(16))
}

func (legacyFormat) decode(ref string) (reference, error) {
	parts := strings.Split(ref, "_")
	if len(parts) != 4 || !strings.HasPrefix(parts[0], "sim") {
		return reference{}, fmt.Errorf("simulator: unknown reference %q", ref)
	}
	ms, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return reference{}, fmt.Errorf("simulator: unknown reference %q", ref)
	}
	r := reference{kind: strings.TrimPrefix(parts[0], "sim"), scenario: parts[1]}
	if ms > 0 {
		r.ready = time.UnixMilli(ms)
	}
	return r, nil
}

// PrefixLedger books into l under prefix+reference: several simulated acquirers share one ledger
// table, and a payment that failed over has a booking (or a reversal) at each of them.
func PrefixLedger(l Ledger, prefix string) Ledger { return prefixLedger{l, prefix} }

type prefixLedger struct {
	l      Ledger
	prefix string
}

func (p prefixLedger) RecordAuth(ctx context.Context, ref string, result []byte, at time.Time) error {
	return p.l.RecordAuth(ctx, p.prefix+ref, result, at)
}

func (p prefixLedger) AuthByRef(ctx context.Context, ref string) ([]byte, bool, error) {
	return p.l.AuthByRef(ctx, p.prefix+ref)
}

func (p prefixLedger) ReverseAuth(ctx context.Context, ref string, at time.Time) error {
	return p.l.ReverseAuth(ctx, p.prefix+ref, at)
}
