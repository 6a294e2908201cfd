package signer

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParsePKCS11URI: RFC 7512's attributes cardgate uses, percent-decoding, and a clear refusal
// of what it cannot use (never quoting a pin-value).
func TestParsePKCS11URI(t *testing.T) {
	const mod = "?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234"
	for _, tc := range []struct {
		uri     string
		want    PKCS11URI
		wantErr string
	}{
		{uri: "pkcs11:token=cardgate;object=gateway-1" + mod,
			want: PKCS11URI{Token: "cardgate", Object: "gateway-1", ModulePath: "/usr/lib/softhsm/libsofthsm2.so", PinValue: "1234"}},
		{uri: "PKCS11:token=My%20Token;object=gw%3B1;type=private;id=%01%02?module-path=/m.so&pin-source=file:/run/pin&key-version=2",
			want: PKCS11URI{Token: "My Token", Object: "gw;1", ID: []byte{1, 2}, ModulePath: "/m.so", PinSource: "file:/run/pin", KeyVersion: "2"}},
		{uri: "pkcs11:serial=0123abcd;id=%01?module-path=/m.so&pin-value=1",
			want: PKCS11URI{Serial: "0123abcd", ID: []byte{1}, ModulePath: "/m.so", PinValue: "1"}},
		{uri: "pkcs11:slot-id=3;object=k?module-path=/m.so&pin-value=1",
			want: PKCS11URI{SlotID: "3", Object: "k", ModulePath: "/m.so", PinValue: "1"}},
		{uri: "token=cardgate", wantErr: "starts with pkcs11:"},
		{uri: "pkcs11:token=cardgate;object=gateway-1", wantErr: "no module-path"},
		{uri: "pkcs11:object=gateway-1" + mod, wantErr: "no token"},
		{uri: "pkcs11:token=a;serial=b;object=k" + mod, wantErr: "only one of token, serial and slot-id"},
		{uri: "pkcs11:token=cardgate" + mod, wantErr: "no key"},
		{uri: "pkcs11:token=cardgate;object=k?module-path=/m.so", wantErr: "no PIN"},
		{uri: "pkcs11:token=cardgate;object=k?module-path=/m.so&pin-value=1&pin-source=file:/p", wantErr: "not both"},
		{uri: "pkcs11:token=cardgate;object=k;object=j" + mod, wantErr: "object given twice"},
		{uri: "pkcs11:token=cardgate;objekt=k" + mod, wantErr: `path attribute "objekt"`},
		{uri: "pkcs11:token=cardgate;object=k" + mod + "&pin=1", wantErr: `query attribute "pin"`},
		{uri: "pkcs11:token=cardgate;object=k;type=cert" + mod, wantErr: "type=cert"},
		{uri: "pkcs11:token=cardgate;object=k?module-name=softhsm2&pin-value=1", wantErr: "give the library's file with module-path"},
		{uri: "pkcs11:token=cardgate;object=k%zz" + mod, wantErr: "bad percent-encoding"},
		{uri: "pkcs11:token=cardgate;object" + mod, wantErr: "not name=value"},
		{uri: "pkcs11:slot-id=x;object=k" + mod, wantErr: "slot-id=x: a decimal number"},
		{uri: "pkcs11:token=c;object=k?module-path=/m.so&pin-value=s3cr%zz", wantErr: "pin-value: bad percent-encoding"},
		{uri: "pkcs11:token=c;object=k?module-path=/m.so&pin-value", wantErr: "pin-value…"},
	} {
		got, err := ParsePKCS11URI(tc.uri)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want %q", tc.uri, err, tc.wantErr)
			} else if strings.Contains(err.Error(), "1234") || strings.Contains(err.Error(), "s3cr") {
				t.Errorf("%s: the error shows the PIN: %v", tc.uri, err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.uri, err)
		case got.Token != tc.want.Token || got.Serial != tc.want.Serial || got.SlotID != tc.want.SlotID ||
			got.Object != tc.want.Object || !bytes.Equal(got.ID, tc.want.ID) || got.ModulePath != tc.want.ModulePath ||
			got.PinValue != tc.want.PinValue || got.PinSource != tc.want.PinSource || got.KeyVersion != tc.want.KeyVersion:
			t.Errorf("%s:\n got %+v\nwant %+v", tc.uri, got, tc.want)
		}
		if err == nil && strings.Contains(got.String(), "1234") {
			t.Errorf("%s: String shows the PIN: %s", tc.uri, got)
		}
	}
}

// TestPKCS11URIString: the URI as logged parses back to the same key, the PIN left out.
func TestPKCS11URIString(t *testing.T) {
	u, err := ParsePKCS11URI("pkcs11:token=My%20Token;object=gw-1;id=%01?module-path=/m.so&pin-value=1234&key-version=2")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.String(), "pkcs11:token=My%20Token;object=gw-1;id=%01?module-path=/m.so&pin-value=…&key-version=2"; got != want {
		t.Errorf("String %q, want %q", got, want)
	}
}

// TestPKCS11PIN: pin-source reads the first line of its file (file:PATH, file:///PATH or a bare
// absolute path).
func TestPKCS11PIN(t *testing.T) {
	f := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(f, []byte("4321\r\nrest\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{"file:" + f, "file://" + f, f} {
		pin, err := PKCS11URI{PinSource: src}.PIN()
		if err != nil || pin != "4321" {
			t.Errorf("%s: %q %v", src, pin, err)
		}
	}
	for _, src := range []string{"pin.txt", "file:" + f + ".missing"} {
		if _, err := (PKCS11URI{PinSource: src}).PIN(); err == nil {
			t.Errorf("%s: no error", src)
		}
	}
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	if _, err := (PKCS11URI{PinSource: "file:" + empty}).PIN(); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty PIN file: %v", err)
	}
}

// TestNoPKCS11: a build without PKCS#11 refuses a key in an HSM saying how to build one.
func TestNoPKCS11(t *testing.T) {
	if HasPKCS11 {
		t.Skip("this build has PKCS#11") // the pkcs11 build's own tests cover it
	}
	_, err := OpenPKCS11(PKCS11URI{})
	if err == nil || !strings.Contains(err.Error(), "this binary was built without -tags pkcs11") {
		t.Fatalf("%v", err)
	}
}

// TestChoose: the signers by name, and a clear refusal of one this build lacks.
func TestChoose(t *testing.T) {
	key := testKeys(t)[0].key
	for _, name := range []string{"", NameGo, NameOpenSSL, "boringssl"} {
		s, got, err := Choose(name, key)
		switch {
		case name == "boringssl":
			if err == nil || !strings.Contains(err.Error(), "unknown signer") {
				t.Errorf("%s: %v", name, err)
			}
		case name == NameOpenSSL && Name() != NameOpenSSL:
			if err == nil || !strings.Contains(err.Error(), "built without -tags openssl") {
				t.Errorf("%s: %v", name, err)
			}
		case err != nil || s == nil:
			t.Errorf("%s: %v", name, err)
		case name == "" && got != Name(), name != "" && got != name:
			t.Errorf("%q: signer %s", name, got)
		}
	}
	if b := Builtin(); b[0] != NameGo || (Name() == NameOpenSSL) != strings.Contains(strings.Join(b, ","), NameOpenSSL) || HasPKCS11 != strings.Contains(strings.Join(b, ","), NamePKCS11) {
		t.Errorf("Builtin %v", b)
	}
}
