package signer

import (
	"crypto"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// PKCS11URI names a key pair in an HSM, as RFC 7512 writes it:
//
//	pkcs11:token=cardgate;object=gateway-1?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/hsm-pin
//
// Path attributes (";"-separated) pick the token (token, serial or slot-id, exactly one) and the
// key pair on it (object, its CKA_LABEL, and/or id, its CKA_ID, percent-encoded bytes); type, when
// given, is private. Query attributes ("&"-separated): module-path, the PKCS#11 library to load;
// pin-value or pin-source (file:PATH, the PIN on the file's first line) to log in with; and
// key-version, cardgate's own, the keyVersion the gateway's signature headers carry. Values are
// percent-decoded. An attribute cardgate does not understand is refused rather than ignored: a
// misspelt one would otherwise pick another key or none.
type PKCS11URI struct {
	Token, Serial, SlotID string // exactly one selects the token
	Object                string // CKA_LABEL of the key pair
	ID                    []byte // CKA_ID of the key pair
	ModulePath            string
	PinValue              string
	PinSource             string // file:PATH (or an absolute path)
	KeyVersion            string // "" when the URI has none
}

// IsPKCS11URI reports whether s is meant as a PKCS#11 URI (it may still fail to parse).
func IsPKCS11URI(s string) bool { return len(s) >= 7 && strings.EqualFold(s[:7], "pkcs11:") }

// ParsePKCS11URI parses and checks a PKCS#11 URI naming a gateway key pair. Its errors never
// quote a pin-value.
func ParsePKCS11URI(s string) (PKCS11URI, error) {
	var u PKCS11URI
	if !IsPKCS11URI(s) {
		return u, errors.New("a PKCS#11 URI starts with pkcs11:")
	}
	rest := s[7:]
	path, query, _ := strings.Cut(rest, "?")
	seen := map[string]bool{}
	attrs := func(part, sep, where string, set func(name, value string) error) error {
		if part == "" {
			return nil
		}
		for _, a := range strings.Split(part, sep) {
			name, raw, ok := strings.Cut(a, "=")
			if !ok || name == "" {
				return fmt.Errorf("%s attribute %q is not name=value", where, redactAttr(a))
			}
			if seen[name] {
				return fmt.Errorf("attribute %s given twice", name)
			}
			seen[name] = true
			value, err := url.PathUnescape(raw)
			if err != nil {
				if name == "pin-value" {
					return errors.New("pin-value: bad percent-encoding")
				}
				return fmt.Errorf("%s: bad percent-encoding in %q", name, raw)
			}
			if err := set(name, value); err != nil {
				return err
			}
		}
		return nil
	}
	err := attrs(path, ";", "path", func(name, v string) error {
		switch name {
		case "token":
			u.Token = v
		case "serial":
			u.Serial = v
		case "slot-id":
			u.SlotID = v
		case "object":
			u.Object = v
		case "id":
			u.ID = []byte(v)
		case "type":
			if v != "private" {
				return fmt.Errorf("type=%s: the gateway key is a key pair, found by its private key (type=private, or no type)", v)
			}
		default:
			return fmt.Errorf("path attribute %q is not one cardgate understands (token, serial, slot-id, object, id, type)", name)
		}
		return nil
	})
	if err != nil {
		return PKCS11URI{}, err
	}
	err = attrs(query, "&", "query", func(name, v string) error {
		switch name {
		case "module-path":
			u.ModulePath = v
		case "module-name":
			return fmt.Errorf("module-name=%s: give the library's file with module-path (e.g. module-path=/usr/lib/softhsm/libsofthsm2.so)", v)
		case "pin-value":
			u.PinValue = v
		case "pin-source":
			u.PinSource = v
		case "key-version":
			u.KeyVersion = v
		default:
			return fmt.Errorf("query attribute %q is not one cardgate understands (module-path, pin-value, pin-source, key-version)", name)
		}
		return nil
	})
	if err != nil {
		return PKCS11URI{}, err
	}
	n := 0
	for _, v := range []string{u.Token, u.Serial, u.SlotID} {
		if v != "" {
			n++
		}
	}
	switch {
	case u.ModulePath == "":
		return PKCS11URI{}, errors.New("no module-path: name the PKCS#11 library, e.g. ?module-path=/usr/lib/softhsm/libsofthsm2.so")
	case n == 0:
		return PKCS11URI{}, errors.New("no token: pick it with token=LABEL, serial=… or slot-id=…")
	case n > 1:
		return PKCS11URI{}, errors.New("give only one of token, serial and slot-id")
	case u.Object == "" && len(u.ID) == 0:
		return PKCS11URI{}, errors.New("no key: name the key pair with object=LABEL and/or id=…")
	case u.PinValue != "" && u.PinSource != "":
		return PKCS11URI{}, errors.New("give pin-value or pin-source, not both")
	case u.PinValue == "" && u.PinSource == "":
		return PKCS11URI{}, errors.New("no PIN: give pin-source=file:PATH (or pin-value=…)")
	}
	if u.SlotID != "" && strings.Trim(u.SlotID, "0123456789") != "" {
		return PKCS11URI{}, fmt.Errorf("slot-id=%s: a decimal number", u.SlotID)
	}
	return u, nil
}

// PIN is the PIN to log in with: pin-value, or the first line of pin-source's file.
func (u PKCS11URI) PIN() (string, error) {
	if u.PinSource == "" {
		return u.PinValue, nil
	}
	path := u.PinSource
	if p, ok := strings.CutPrefix(path, "file:"); ok {
		path = strings.TrimPrefix(p, "//") // file:///run/x and file:/run/x alike
	}
	if !strings.HasPrefix(path, "/") && !strings.HasPrefix(u.PinSource, "file:") {
		return "", fmt.Errorf("pin-source %q: a file:PATH", u.PinSource)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("pin-source: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pin := strings.TrimRight(line, "\r")
	if pin == "" {
		return "", fmt.Errorf("pin-source %s: the first line is empty", path)
	}
	return pin, nil
}

// String is the URI without its PIN (pin-value shown as "…"), fit for a log line.
func (u PKCS11URI) String() string {
	var path []string
	add := func(list *[]string, name, v string) {
		if v != "" {
			*list = append(*list, name+"="+escapeAttr(v))
		}
	}
	add(&path, "token", u.Token)
	add(&path, "serial", u.Serial)
	add(&path, "slot-id", u.SlotID)
	add(&path, "object", u.Object)
	add(&path, "id", string(u.ID))
	var query []string
	add(&query, "module-path", u.ModulePath)
	add(&query, "pin-source", u.PinSource)
	if u.PinValue != "" {
		query = append(query, "pin-value=…")
	}
	add(&query, "key-version", u.KeyVersion)
	s := "pkcs11:" + strings.Join(path, ";")
	if len(query) > 0 {
		s += "?" + strings.Join(query, "&")
	}
	return s
}

// escapeAttr percent-encodes what RFC 7512 does not allow bare in a value.
func escapeAttr(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == ':', c == '/', c == '@', c == '!', c == '$', c == '\'', c == '(', c == ')', c == '*', c == '+', c == ',':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// redactAttr keeps a pin-value out of an error message.
func redactAttr(a string) string {
	if strings.HasPrefix(a, "pin-value") {
		return "pin-value…"
	}
	return a
}

// HSMKey is a key pair in an HSM: it signs there, and Close ends the session with the token.
type HSMKey interface {
	crypto.Signer
	Close() error
}

// keyName is how errors name the key pair: its label and/or id.
func (u PKCS11URI) keyName() string {
	var parts []string
	if u.Object != "" {
		parts = append(parts, "object="+escapeAttr(u.Object))
	}
	if len(u.ID) > 0 {
		parts = append(parts, "id="+escapeAttr(string(u.ID)))
	}
	return strings.Join(parts, ";")
}

// tokenName is how errors name the token.
func (u PKCS11URI) tokenName() string {
	switch {
	case u.Token != "":
		return "token=" + escapeAttr(u.Token)
	case u.Serial != "":
		return "serial=" + escapeAttr(u.Serial)
	}
	return "slot-id=" + u.SlotID
}
