//go:build openssl && cgo

package signer

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"runtime"
	"testing"
)

// TestClose: a closed signer refuses to sign (its key is freed), and closing twice is harmless.
func TestClose(t *testing.T) {
	s, err := New(testKeys(t)[0].key)
	if err != nil {
		t.Fatal(err)
	}
	o := s.(*OpenSSL)
	d := sha256.Sum256([]byte("x"))
	if _, err := o.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	o.Close()
	o.Close()
	if _, err := o.Sign(rand.Reader, d[:], crypto.SHA256); err == nil {
		t.Fatal("signed after Close")
	}
}

// TestCollected: signers dropped without Close are freed by their cleanup (no crash, no leak
// worth seeing over many keys loaded and dropped).
func TestCollected(t *testing.T) {
	k := testKeys(t)[0].key
	d := sha256.Sum256([]byte("x"))
	for range 200 {
		s, err := New(k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.GC()
}
