package protocol

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
)

// Worked examples from docs/wire.md §2.2.
const (
	exPath         = "/ams/sandbox/api/v1/payments/inquiryPayment"
	exClientID     = "SANDBOX_5YEXAMPLE00001"
	exRequestTime  = "1685599933871"
	exRequestBody  = `{"paymentRequestId":"PAY_001"}`
	exResponseTime = "2024-01-01T12:00:00+08:00"
	exResponseBody = `{"result":{"resultCode":"ORDER_NOT_EXIST","resultStatus":"F","resultMessage":"order not exist"}}`
)

func protoTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// Test-only key pair generated with openssl (testdata/merchant_*); never use it for anything real.
func testMerchantKeys(t testing.TB) (priv *rsa.PrivateKey, pub *rsa.PublicKey) {
	t.Helper()
	k, err := ParsePrivateKey(protoTestdata(t, "merchant_private_pkcs8.b64"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePublicKey(protoTestdata(t, "merchant_public_spki.b64"))
	if err != nil {
		t.Fatal(err)
	}
	return k, p
}

var (
	testOtherKeyOnce sync.Once
	testOtherKey     *rsa.PrivateKey
	testOtherKeyErr  error
)

func testGeneratedKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	testOtherKeyOnce.Do(func() { testOtherKey, testOtherKeyErr = GenerateKey() })
	if testOtherKeyErr != nil {
		t.Fatal(testOtherKeyErr)
	}
	return testOtherKey
}

func TestSigningContentWorkedExamples(t *testing.T) {
	tests := []struct {
		name      string
		timeValue string
		body      string
		want      string
		wantLen   int
		wantSHA   string
	}{
		{
			name:      "request",
			timeValue: exRequestTime,
			body:      exRequestBody,
			want:      "POST " + exPath + "\n" + exClientID + "." + exRequestTime + "." + exRequestBody,
			wantLen:   116,
			wantSHA:   "ff6b8e97ec2362f68c9da057b8c7cae0c8de64110db675f28dfdd0f2899edc03",
		},
		{
			name:      "response",
			timeValue: exResponseTime,
			body:      exResponseBody,
			want:      "POST " + exPath + "\n" + exClientID + "." + exResponseTime + "." + exResponseBody,
			wantLen:   -1,
			wantSHA:   "3fe1c8fd965685e6e22814b6f873c2c7556ed33e8667541b184e55c151e781f6",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SigningContent("POST", exPath, exClientID, tt.timeValue, []byte(tt.body))
			if string(got) != tt.want {
				t.Fatalf("content = %q, want %q", got, tt.want)
			}
			if tt.wantLen >= 0 && len(got) != tt.wantLen {
				t.Errorf("len = %d, want %d", len(got), tt.wantLen)
			}
			sum := sha256.Sum256(got)
			if h := hex.EncodeToString(sum[:]); h != tt.wantSHA {
				t.Errorf("sha256 = %s, want %s", h, tt.wantSHA)
			}
		})
	}
}

func TestSigningContentLayout(t *testing.T) {
	tests := []struct {
		name                           string
		method, path, client, tm, body string
		want                           string
	}{
		{"empty body", "POST", "/p", "c", "1", "", "POST /p\nc.1."},
		{"all empty", "", "", "", "", "", " \n.."},
		{"double slash path kept", "POST", "/ams/api//v1/payments/retrievePaymentSession", "C", "T", "{}",
			"POST /ams/api//v1/payments/retrievePaymentSession\nC.T.{}"},
		{"body not canonicalised", "POST", "/p", "c", "t", "{\n   \"a\": 1\n}\n",
			"POST /p\nc.t.{\n   \"a\": 1\n}\n"},
		{"dots in parts", "POST", "/p", "a.b", "2024-01-01T00:00:00.5Z", "x.y", "POST /p\na.b.2024-01-01T00:00:00.5Z.x.y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SigningContent(tt.method, tt.path, tt.client, tt.tm, []byte(tt.body))
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// PKCS#1 v1.5 signatures are deterministic: Sign must reproduce the signature
// openssl made ("openssl dgst -sha256 -sign") over the §2.2 request example.
func TestSignGoldenOpenSSL(t *testing.T) {
	priv, pub := testMerchantKeys(t)
	content := SigningContent("POST", exPath, exClientID, exRequestTime, []byte(exRequestBody))
	want := protoTestdata(t, "request_example.sig.b64")
	got, err := Sign(priv, content)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("signature mismatch\n got %s\nwant %s", got, want)
	}
	if len(got) != 344 || !strings.HasSuffix(got, "==") {
		t.Errorf("2048-bit signature should be 344 base64 chars ending ==, got %d", len(got))
	}
	if err := Verify(pub, content, want); err != nil {
		t.Fatal(err)
	}
}

func TestSignVerify(t *testing.T) {
	priv, pub := testMerchantKeys(t)
	other := testGeneratedKey(t)
	content := SigningContent("POST", exPath, exClientID, exResponseTime, []byte(exResponseBody))
	sig, err := Sign(priv, content)
	if err != nil {
		t.Fatal(err)
	}
	tampered := SigningContent("POST", exPath, exClientID, exResponseTime,
		[]byte(strings.Replace(exResponseBody, `"F"`, `"S"`, 1)))
	raw, _ := base64.StdEncoding.DecodeString(sig)
	flipped := append([]byte(nil), raw...)
	flipped[len(flipped)/2] ^= 1

	tests := []struct {
		name    string
		key     *rsa.PublicKey
		content []byte
		sig     string
		wantErr error
	}{
		{"ok", pub, content, sig, nil},
		{"ok with derived public key", &priv.PublicKey, content, sig, nil},
		{"tampered body", pub, tampered, sig, ErrSignatureInvalid},
		{"tampered path", pub, SigningContent("POST", "/ams/api/v1/payments/inquiryPayment", exClientID, exResponseTime, []byte(exResponseBody)), sig, ErrSignatureInvalid},
		{"tampered time", pub, SigningContent("POST", exPath, exClientID, "2024-01-01T12:00:01+08:00", []byte(exResponseBody)), sig, ErrSignatureInvalid},
		{"wrong key", &other.PublicKey, content, sig, ErrSignatureInvalid},
		{"truncated signature (valid base64)", pub, content, base64.StdEncoding.EncodeToString(raw[:len(raw)-3]), ErrSignatureInvalid},
		{"truncated signature (chars cut)", pub, content, sig[:len(sig)-5], ErrSignatureMalformed},
		{"bit flipped", pub, content, base64.StdEncoding.EncodeToString(flipped), ErrSignatureInvalid},
		{"url-encoded not decoded", pub, content, url.QueryEscape(sig), ErrSignatureMalformed},
		{"empty", pub, content, "", ErrSignatureMissing},
		{"nil key", nil, content, sig, ErrSignatureInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.key, tt.content, tt.sig)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify err = %v, want %v", err, tt.wantErr)
			}
		})
	}

	if _, err := Sign(nil, content); err == nil {
		t.Error("Sign(nil) succeeded")
	}
}

// testLowerHex turns %2B/%2F/%3D into %2b/%2f/%3d as the .NET SDK sends them.
func testLowerHex(s string) string {
	return strings.NewReplacer("%2B", "%2b", "%2F", "%2f", "%3D", "%3d").Replace(s)
}

func TestParseSignatureHeader(t *testing.T) {
	sig := protoTestdata(t, "request_example.sig.b64") // contains '+', '/', "=="
	if !strings.ContainsAny(sig, "+/") {
		t.Fatal("golden signature should contain + and /")
	}
	enc := url.QueryEscape(sig)
	want := SignatureHeader{Algorithm: "RSA256", KeyVersion: "1", Signature: sig}
	withKV := func(kv string) SignatureHeader { h := want; h.KeyVersion = kv; return h }

	tests := []struct {
		name    string
		in      string
		want    SignatureHeader
		wantErr error
	}{
		{"SDK form", "algorithm=RSA256,keyVersion=1,signature=" + enc, want, nil},
		{"docs form, spaces after commas", "algorithm=RSA256, keyVersion=1, signature=" + enc, want, nil},
		{"tabs and multiple spaces", "algorithm=RSA256 ,\t keyVersion = 1 ,  signature=" + enc + " \t", want, nil},
		{".NET lowercase hex", "algorithm=RSA256,keyVersion=1,signature=" + testLowerHex(enc), want, nil},
		{"keyVersion 2", "algorithm=RSA256,keyVersion=2,signature=" + enc, withKV("2"), nil},
		{"missing keyVersion", "algorithm=RSA256,signature=" + enc, want, nil},
		{"missing algorithm", "keyVersion=3,signature=" + enc, withKV("3"), nil},
		{"signature only", "signature=" + enc, want, nil},
		{"leading space", "  signature=" + enc, want, nil},
		{"unknown item ignored", "algorithm=RSA256,keyVersion=1,foo=bar,signature=" + enc, want, nil},
		{"raw base64, '+' kept literally", "algorithm=RSA256,keyVersion=1,signature=" + sig, want, nil},
		{"mixed raw + and encoded", "signature=ab+%2Fcd%3d%3D", SignatureHeader{"RSA256", "1", "ab+/cd=="}, nil},
		{"signature= inside another value is not the item", "x=signature=QUJD,signature=QkNE", SignatureHeader{"RSA256", "1", "QkNE"}, nil},

		{"empty header", "", SignatureHeader{}, ErrSignatureMissing},
		{"blank header", " \t ", SignatureHeader{}, ErrSignatureMissing},
		{"no signature part", "algorithm=RSA256,keyVersion=1", SignatureHeader{}, ErrSignatureMissing},
		{"empty value", "algorithm=RSA256,keyVersion=1,signature=", SignatureHeader{}, ErrSignatureMissing},
		{"blank value", "algorithm=RSA256,keyVersion=1,signature=  ", SignatureHeader{}, ErrSignatureMissing},
		{"key case differs", "algorithm=RSA256,keyVersion=1,Signature=" + enc, SignatureHeader{}, ErrSignatureMissing},
		{"prefixed key", "algorithm=RSA256,keyVersion=1,xsignature=" + enc, SignatureHeader{}, ErrSignatureMissing},
		{"only inside a value", "keyVersion=signature=QUJD", SignatureHeader{}, ErrSignatureMissing},
		{"garbage words", "hello world", SignatureHeader{}, ErrSignatureMissing},

		{"algorithm RSA", "algorithm=RSA,keyVersion=1,signature=" + enc, SignatureHeader{}, ErrSignatureMalformed},
		{"algorithm SHA256withRSA", "algorithm=SHA256withRSA,keyVersion=1,signature=" + enc, SignatureHeader{}, ErrSignatureMalformed},
		{"algorithm lowercase", "algorithm=rsa256,keyVersion=1,signature=" + enc, SignatureHeader{}, ErrSignatureMalformed},
		{"algorithm empty", "algorithm=,keyVersion=1,signature=" + enc, SignatureHeader{}, ErrSignatureMalformed},
		{"keyVersion empty", "algorithm=RSA256,keyVersion=,signature=" + enc, SignatureHeader{}, ErrSignatureMalformed},
		{"keyVersion with space", "algorithm=RSA256,keyVersion=1 2,signature=" + enc, SignatureHeader{}, ErrSignatureMalformed},
		{"duplicate keyVersion", "keyVersion=1,keyVersion=2,signature=" + enc, SignatureHeader{}, ErrSignatureMalformed},
		{"empty item", "algorithm=RSA256,,signature=" + enc, SignatureHeader{}, ErrSignatureMalformed},
		{"item without =", "garbage,signature=" + enc, SignatureHeader{}, ErrSignatureMalformed},
		{"bad percent escape", "signature=%zzabc", SignatureHeader{}, ErrSignatureMalformed},
		{"truncated percent escape", "signature=QUJD%3", SignatureHeader{}, ErrSignatureMalformed},
		{"not base64", "signature=not*base64!", SignatureHeader{}, ErrSignatureMalformed},
		{"form-decoded '+' as space would be invalid", "signature=ab%20cd==", SignatureHeader{}, ErrSignatureMalformed},
		{"signature not last", "signature=" + enc + ",algorithm=RSA256", SignatureHeader{}, ErrSignatureMalformed},
		{"unpadded base64", "signature=QUI", SignatureHeader{}, ErrSignatureMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSignatureHeader(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v (got %+v)", err, tt.wantErr, got)
				}
				if got != (SignatureHeader{}) {
					t.Errorf("non-zero header on error: %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSignatureHeaderString(t *testing.T) {
	sig := protoTestdata(t, "request_example.sig.b64")
	tests := []struct {
		name string
		h    SignatureHeader
		want string
	}{
		{"uppercase hex", SignatureHeader{"RSA256", "1", "ab+/cd=="}, "algorithm=RSA256,keyVersion=1,signature=ab%2B%2Fcd%3D%3D"},
		{"defaults", SignatureHeader{Signature: "QUJD"}, "algorithm=RSA256,keyVersion=1,signature=QUJD"},
		{"keyVersion", SignatureHeader{"RSA256", "7", "QUJD"}, "algorithm=RSA256,keyVersion=7,signature=QUJD"},
		{"golden", SignatureHeader{"RSA256", "1", sig}, "algorithm=RSA256,keyVersion=1,signature=" + url.QueryEscape(sig)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.h.String()
			if s != tt.want {
				t.Fatalf("String() = %q, want %q", s, tt.want)
			}
			// Java DefaultHttpRPC: split on ',' ⇒ ≥3 items, item[2] split on '=' ⇒ exactly 2 parts.
			items := strings.Split(s, ",")
			if len(items) != 3 || len(strings.Split(items[2], "=")) != 2 {
				t.Errorf("Java parser would skip verification for %q", s)
			}
			// PHP: value = text after the last '=' on the line.
			if php := s[strings.LastIndex(s, "=")+1:]; php != url.QueryEscape(tt.h.Signature) {
				t.Errorf("PHP parser would read %q", php)
			}
			// Go/Python/.NET: split on "signature=", take [1], form-decode.
			if v, err := url.QueryUnescape(strings.Split(s, "signature=")[1]); err != nil || v != tt.h.Signature {
				t.Errorf("Go-style parser reads %q, %v", v, err)
			}
			back, err := ParseSignatureHeader(s)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.h
			if want.Algorithm == "" {
				want.Algorithm = AlgorithmRSA256
			}
			if want.KeyVersion == "" {
				want.KeyVersion = DefaultKeyVersion
			}
			if back != want {
				t.Fatalf("re-parsed %+v, want %+v", back, want)
			}
		})
	}
}

func TestSignatureHeaderEndToEnd(t *testing.T) {
	priv, pub := testMerchantKeys(t)
	content := SigningContent("POST", exPath, exClientID, exRequestTime, []byte(exRequestBody))
	sig, err := Sign(priv, content)
	if err != nil {
		t.Fatal(err)
	}
	for _, hv := range []string{
		SignatureHeader{Signature: sig}.String(),
		testLowerHex(SignatureHeader{Signature: sig}.String()),
		"algorithm=RSA256, keyVersion=1, signature=" + sig, // non-encoding client
	} {
		h, err := ParseSignatureHeader(hv)
		if err != nil {
			t.Fatalf("%q: %v", hv, err)
		}
		if err := Verify(pub, content, h.Signature); err != nil {
			t.Fatalf("%q: %v", hv, err)
		}
	}
}

func FuzzParseSignatureHeader(f *testing.F) {
	for _, s := range []string{
		"",
		"algorithm=RSA256,keyVersion=1,signature=ab%2B%2Fcd%3D%3D",
		"algorithm=RSA256, keyVersion=1, signature=ab%2b%2fcd%3d%3d",
		"signature=ab+/cd==",
		"keyVersion=2,signature=QUJD",
		"algorithm=RSA,signature=QUJD",
		"x=signature=QUJD,signature=QkNE",
		"signature=%zz",
		"signature=QU%0AJD",
		",signature=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		h, err := ParseSignatureHeader(in)
		if err != nil {
			if !errors.Is(err, ErrSignatureMissing) && !errors.Is(err, ErrSignatureMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if h.Algorithm != AlgorithmRSA256 || h.KeyVersion == "" || h.Signature == "" {
			t.Fatalf("incomplete header %+v", h)
		}
		if _, err := base64.StdEncoding.DecodeString(h.Signature); err != nil {
			return // (the parser currently rejects these, so this is unreachable)
		}
		s := h.String()
		back, err := ParseSignatureHeader(s)
		if err != nil {
			t.Fatalf("String() %q does not re-parse: %v", s, err)
		}
		if back != h {
			t.Fatalf("round trip: %+v -> %q -> %+v", h, s, back)
		}
	})
}

// TestSignHashIsSign: a body hashed as it is spooled signs and verifies exactly as the whole
// content does, whichever way each side goes, and a tampered body or time does not verify.
func TestSignHashIsSign(t *testing.T) {
	priv, pub := testMerchantKeys(t)
	content := SigningContent("POST", exPath, exClientID, exResponseTime, []byte(exResponseBody))
	whole, err := Sign(priv, content)
	if err != nil {
		t.Fatal(err)
	}
	spooled := func(timeValue, body string) hash.Hash {
		h := ContentHash("POST", exPath, exClientID, timeValue)
		for _, chunk := range strings.SplitAfter(body, ",") { // written in pieces, as a spool is
			h.Write([]byte(chunk))
		}
		return h
	}
	streamed, err := SignHash(priv, spooled(exResponseTime, exResponseBody))
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(pub, content, streamed); err != nil {
		t.Errorf("a spooled signature does not verify over the whole content: %v", err)
	}
	if err := VerifyHash(pub, spooled(exResponseTime, exResponseBody), whole); err != nil {
		t.Errorf("a whole-content signature does not verify spooled: %v", err)
	}
	for name, h := range map[string]hash.Hash{
		"tampered body": spooled(exResponseTime, strings.Replace(exResponseBody, `"F"`, `"S"`, 1)),
		"tampered time": spooled("2024-01-01T12:00:01+08:00", exResponseBody),
	} {
		if err := VerifyHash(pub, h, whole); !errors.Is(err, ErrSignatureInvalid) {
			t.Errorf("%s: %v, want ErrSignatureInvalid", name, err)
		}
	}
	if err := VerifyHash(pub, spooled(exResponseTime, exResponseBody), ""); !errors.Is(err, ErrSignatureMissing) {
		t.Errorf("no signature: %v", err)
	}
	if _, err := SignHash(nil, spooled(exResponseTime, exResponseBody)); err == nil {
		t.Error("SignHash(nil) succeeded")
	}
}

// wrappedSigner hides the *rsa.PrivateKey behind another type, as internal/signer's OpenSSL signer does.
type wrappedSigner struct{ crypto.Signer }

func TestSignWith(t *testing.T) {
	priv, pub := testMerchantKeys(t)
	content := SigningContent("POST", exPath, exClientID, exRequestTime, []byte(exRequestBody))
	want := protoTestdata(t, "request_example.sig.b64")
	got, err := SignWith(wrappedSigner{priv}, content)
	if err != nil || got != want {
		t.Fatalf("SignWith = %q, %v; want the golden signature", got, err)
	}
	h := ContentHash("POST", exPath, exClientID, exRequestTime)
	h.Write([]byte(exRequestBody))
	if got, err := SignHashWith(wrappedSigner{priv}, h); err != nil || got != want {
		t.Fatalf("SignHashWith = %q, %v; want the golden signature", got, err)
	}
	if err := Verify(pub, content, got); err != nil {
		t.Fatal(err)
	}
	var nilKey *rsa.PrivateKey
	for name, s := range map[string]crypto.Signer{"nil": nil, "nil key": nilKey} {
		if _, err := SignWith(s, content); err == nil {
			t.Errorf("SignWith(%s) succeeded", name)
		}
	}
}
