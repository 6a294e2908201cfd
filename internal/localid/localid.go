// Package localid checks the national identifiers that local card payments carry (seed 000,
// "Local cards"): the Brazilian individual taxpayer number (CPF) and the South Korean business
// registration number of a corporate card. Each check is the issuing authority's published check
// digit algorithm; a number that passes is well-formed, not known to exist.
package localid

import (
	"errors"
	"strings"
)

// Errors name what is wrong with a number without repeating it: the numbers are personal data and
// must not end up in answers or logs.
var (
	ErrLength     = errors.New("wrong number of digits")
	ErrNotDigits  = errors.New("not only digits")
	ErrRepeated   = errors.New("all digits the same")
	ErrCheckDigit = errors.New("check digit does not match")
)

// CPF checks a Cadastro de Pessoas Físicas number: 11 digits, plain ("12345678909") or in its
// printed form ("123.456.789-09"). The two last digits are mod-11 checks of the nine before
// (Receita Federal's algorithm). Numbers of one repeated digit pass the arithmetic but are never
// issued, so they are refused too. It returns the 11 digits.
func CPF(s string) (string, error) {
	if len(s) == 14 && s[3] == '.' && s[7] == '.' && s[11] == '-' {
		s = s[0:3] + s[4:7] + s[8:11] + s[12:14]
	}
	if len(s) != 11 {
		return "", ErrLength
	}
	if !allDigits(s) {
		return "", ErrNotDigits
	}
	if strings.Count(s, s[:1]) == len(s) {
		return "", ErrRepeated
	}
	if cpfDigit(s[:9]) != s[9] || cpfDigit(s[:10]) != s[10] {
		return "", ErrCheckDigit
	}
	return s, nil
}

// cpfDigit is the check digit of the digits d: weights len(d)+1 down to 2, then 10·sum mod 11,
// where 10 counts as 0.
func cpfDigit(d string) byte {
	sum := 0
	for i := range len(d) {
		sum += int(d[i]-'0') * (len(d) + 1 - i)
	}
	r := sum * 10 % 11
	if r == 10 {
		r = 0
	}
	return byte('0' + r)
}

// KRBusinessNo checks a South Korean business registration number (사업자등록번호): 10 digits,
// the last a check digit over the nine before with weights 1,3,7,1,3,7,1,3,5 plus the tens of
// the ninth digit times 5 (National Tax Service algorithm). It accepts the digits only, as the
// seed's "10-digit business number" says.
func KRBusinessNo(s string) error {
	if len(s) != 10 {
		return ErrLength
	}
	if !allDigits(s) {
		return ErrNotDigits
	}
	weights := [9]int{1, 3, 7, 1, 3, 7, 1, 3, 5}
	sum := 0
	for i, w := range weights {
		sum += int(s[i]-'0') * w
	}
	sum += int(s[8]-'0') * 5 / 10
	if byte('0'+(10-sum%10)%10) != s[9] {
		return ErrCheckDigit
	}
	return nil
}

func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
