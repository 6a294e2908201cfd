package protocol

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

// testPEM renders DER (given as bare base64) under label with 64-column lines.
func testPEM(t *testing.T, label, b64 string) string {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: label, Bytes: der}))
}

// testWrapLines inserts a newline every n characters, like a key pasted from a PEM file body.
func testWrapLines(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + "\r\n")
		s = s[n:]
	}
	b.WriteString(s)
	return b.String()
}

func TestGenerateKey(t *testing.T) {
	k := testGeneratedKey(t)
	if k.N.BitLen() != 2048 {
		t.Fatalf("bits = %d", k.N.BitLen())
	}
	if err := k.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestKeyEncodeParseRoundTrip(t *testing.T) {
	k := testGeneratedKey(t)
	p8, err := EncodePrivateKeyPKCS8(k)
	if err != nil {
		t.Fatal(err)
	}
	p1 := EncodePrivateKeyPKCS1(k)
	pub, err := EncodePublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPKCS1 := base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PublicKey(&k.PublicKey))
	for name, s := range map[string]string{"pkcs8": p8, "pkcs1": p1, "spki": pub} {
		if strings.ContainsAny(s, "\n\r -") {
			t.Errorf("%s: not bare base64: %q", name, s[:40])
		}
	}
	if p8 == p1 {
		t.Fatal("PKCS#8 and PKCS#1 encodings should differ")
	}

	privTests := []struct{ name, in string }{
		{"pkcs8 bare", p8},
		{"pkcs1 bare", p1},
		{"pkcs8 PEM", testPEM(t, "PRIVATE KEY", p8)},
		{"pkcs1 PEM", testPEM(t, "RSA PRIVATE KEY", p1)},
		{"pkcs8 body under RSA label (Python/PHP wrapping)", testPEM(t, "RSA PRIVATE KEY", p8)},
		{"pkcs8 with line breaks", testWrapLines(p8, 64)},
		{"pkcs8 surrounding whitespace", "\n  " + p8 + "  \n"},
		{"pkcs8 unpadded", strings.TrimRight(p8, "=")},
	}
	for _, tt := range privTests {
		t.Run("private/"+tt.name, func(t *testing.T) {
			got, err := ParsePrivateKey(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(k) {
				t.Fatal("parsed key differs")
			}
		})
	}
	pubTests := []struct{ name, in string }{
		{"spki bare", pub},
		{"spki PEM", testPEM(t, "PUBLIC KEY", pub)},
		{"pkcs1 public bare", pubPKCS1},
		{"pkcs1 public PEM", testPEM(t, "RSA PUBLIC KEY", pubPKCS1)},
		{"spki with line breaks", testWrapLines(pub, 76)},
	}
	for _, tt := range pubTests {
		t.Run("public/"+tt.name, func(t *testing.T) {
			got, err := ParsePublicKey(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(&k.PublicKey) {
				t.Fatal("parsed key differs")
			}
		})
	}

	// Re-encoding a parsed key reproduces the same string.
	k2, _ := ParsePrivateKey(p1)
	if again, _ := EncodePrivateKeyPKCS8(k2); again != p8 {
		t.Error("PKCS#1 -> parse -> PKCS#8 differs")
	}
}

// Keys made by openssl (testdata) parse in both private formats, and Go's
// encoders reproduce openssl's DER byte for byte.
func TestKeysOpenSSLTestdata(t *testing.T) {
	p8 := protoTestdata(t, "merchant_private_pkcs8.b64")
	p1 := protoTestdata(t, "merchant_private_pkcs1.b64")
	pub := protoTestdata(t, "merchant_public_spki.b64")
	k8, err := ParsePrivateKey(p8)
	if err != nil {
		t.Fatal(err)
	}
	k1, err := ParsePrivateKey(p1)
	if err != nil {
		t.Fatal(err)
	}
	if !k8.Equal(k1) {
		t.Fatal("PKCS#8 and PKCS#1 testdata keys differ")
	}
	pk, err := ParsePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if !pk.Equal(&k8.PublicKey) {
		t.Fatal("public key does not match private key")
	}
	if got, _ := EncodePrivateKeyPKCS8(k1); got != p8 {
		t.Error("EncodePrivateKeyPKCS8 differs from openssl")
	}
	if got := EncodePrivateKeyPKCS1(k8); got != p1 {
		t.Error("EncodePrivateKeyPKCS1 differs from openssl -traditional")
	}
	if got, _ := EncodePublicKey(pk); got != pub {
		t.Error("EncodePublicKey differs from openssl -pubout")
	}
}

func TestKeyParseErrors(t *testing.T) {
	k := testGeneratedKey(t)
	p8, _ := EncodePrivateKeyPKCS8(k)
	pub, _ := EncodePublicKey(&k.PublicKey)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecPriv, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecPub, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	ecPrivB64 := base64.StdEncoding.EncodeToString(ecPriv)
	ecPubB64 := base64.StdEncoding.EncodeToString(ecPub)

	tests := []struct {
		name  string
		parse func(string) error
		in    string
	}{
		{"private empty", testParsePriv, ""},
		{"private blank", testParsePriv, " \n "},
		{"private not base64", testParsePriv, "not base64!"},
		{"private base64 garbage", testParsePriv, base64.StdEncoding.EncodeToString([]byte("hello world"))},
		{"private truncated", testParsePriv, p8[:len(p8)/2]},
		{"private given public", testParsePriv, pub},
		{"private EC", testParsePriv, ecPrivB64},
		{"private broken PEM", testParsePriv, "-----BEGIN PRIVATE KEY-----\n" + p8[:64] + "\n"},
		{"private encrypted PEM", testParsePriv, "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00000000000000000000000000000000\n\n" + testWrapLines(p8, 64) + "\n-----END RSA PRIVATE KEY-----\n"},
		{"public empty", testParsePub, ""},
		{"public not base64", testParsePub, "@@@"},
		{"public given private", testParsePub, p8},
		{"public EC", testParsePub, ecPubB64},
		{"public garbage", testParsePub, "QUJDRA=="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.parse(tt.in); !errors.Is(err, ErrBadKey) {
				t.Fatalf("err = %v, want ErrBadKey", err)
			}
		})
	}

	if _, err := EncodePrivateKeyPKCS8(nil); err == nil {
		t.Error("EncodePrivateKeyPKCS8(nil) succeeded")
	}
	if _, err := EncodePublicKey(nil); err == nil {
		t.Error("EncodePublicKey(nil) succeeded")
	}
}

func testParsePriv(s string) error { _, err := ParsePrivateKey(s); return err }
func testParsePub(s string) error  { _, err := ParsePublicKey(s); return err }
