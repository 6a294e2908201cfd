// Package card holds what the gateway knows about a payment card without
// talking to anyone: number validation (Luhn, length, brand), safe handling
// of the PAN in memory, fingerprints, and expiry dates.
//
// The central rule is design invariant 6: a full card number must never reach
// a log, a response or a notification. Number therefore prints, marshals and
// logs as its masked form everywhere, and the raw PAN is only reachable
// through a method whose name says what it returns.
package card

// Luhn reports whether pan, a string of ASCII digits, passes the Luhn (mod 10)
// check. Anything that is not purely digits, including the empty string, is
// reported as invalid rather than having separators silently skipped: the API
// sends bare digits and anything else is a malformed request.
func Luhn(pan string) bool {
	if pan == "" {
		return false
	}
	sum := 0
	// Double every second digit counting from the right (the check digit is
	// not doubled), which makes the parity depend on the length.
	double := false
	for i := len(pan) - 1; i >= 0; i-- {
		c := pan[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}
