// Package softhsmtest makes a real SoftHSM2 token for the tests of the PKCS#11 gateway key (build
// tag pkcs11): a token directory of its own, initialised with softhsm2-util, and RSA key pairs
// generated in Go and imported, so that a test knows the private key the token signs with and
// can compare the token's signatures with crypto/rsa's. The module is $CARDGATE_TEST_SOFTHSM, else
// Debian's /usr/lib/softhsm/libsofthsm2.so; without it the tests fail, never skip (.ci/run
// installs softhsm2 and sets the variable).
//
// SoftHSM2 reads SOFTHSM2_CONF once, when the module is first initialised in a process, so
// Setup runs once per test binary, from TestMain, before any token is opened.
package softhsmtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Token is the test token: label "cardgate", user PIN 1234, SO PIN 5678.
const (
	Label = "cardgate"
	PIN   = "1234"
	SOPIN = "5678"
)

// DefaultModule is Debian's SoftHSM2 PKCS#11 module (package softhsm2).
const DefaultModule = "/usr/lib/softhsm/libsofthsm2.so"

// HSM is a token with imported keys.
type HSM struct {
	Module  string
	Dir     string
	PINFile string                     // holds PIN, for pin-source=file:
	Keys    map[string]*rsa.PrivateKey // by object label, as imported
}

// Module is the SoftHSM2 module to load: $CARDGATE_TEST_SOFTHSM or DefaultModule.
func Module() string {
	if m := os.Getenv("CARDGATE_TEST_SOFTHSM"); m != "" {
		return m
	}
	return DefaultModule
}

// Setup makes a token directory under a new temporary directory, points SOFTHSM2_CONF at it (for
// this process and the commands it runs), initialises the token and imports a fresh RSA-2048 key
// pair under each label, with CKA_ID its index + 1 (hex 01, 02, …). Call Close when done.
func Setup(labels ...string) (*HSM, error) {
	h := &HSM{Module: Module(), Keys: map[string]*rsa.PrivateKey{}}
	if _, err := os.Stat(h.Module); err != nil {
		return nil, fmt.Errorf("softhsm2 module %s: %w (install Debian's softhsm2 — apt-get install softhsm2; .ci/run does — or set CARDGATE_TEST_SOFTHSM)", h.Module, err)
	}
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		return nil, fmt.Errorf("softhsm2-util: %w (Debian package softhsm2)", err)
	}
	dir, err := os.MkdirTemp("", "cardgate-softhsm-")
	if err != nil {
		return nil, err
	}
	h.Dir = dir
	fail := func(err error) (*HSM, error) { h.Close(); return nil, err }
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		return fail(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"), 0o600); err != nil {
		return fail(err)
	}
	if err := os.Setenv("SOFTHSM2_CONF", conf); err != nil {
		return fail(err)
	}
	h.PINFile = filepath.Join(dir, "pin")
	if err := os.WriteFile(h.PINFile, []byte(PIN+"\n"), 0o600); err != nil {
		return fail(err)
	}
	if err := run("softhsm2-util", "--init-token", "--free", "--label", Label, "--pin", PIN, "--so-pin", SOPIN); err != nil {
		return fail(err)
	}
	for i, label := range labels {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return fail(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return fail(err)
		}
		file := filepath.Join(dir, label+".pem") // removed with dir by Close
		if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return fail(err)
		}
		err = run("softhsm2-util", "--import", file, "--token", Label, "--label", label,
			"--id", hex.EncodeToString([]byte{byte(i + 1)}), "--pin", PIN)
		_ = os.Remove(file)
		if err != nil {
			return fail(err)
		}
		h.Keys[label] = key
	}
	return h, nil
}

// URI is the PKCS#11 URI of the key pair labelled object, logging in with the PIN file; extra
// query attributes ("key-version=2") are appended.
func (h *HSM) URI(object string, extra ...string) string {
	q := []string{"module-path=" + h.Module, "pin-source=file:" + h.PINFile}
	q = append(q, extra...)
	return "pkcs11:token=" + Label + ";object=" + url.PathEscape(object) + "?" + strings.Join(q, "&")
}

// Close removes the token directory.
func (h *HSM) Close() {
	if h.Dir != "" {
		_ = os.RemoveAll(h.Dir)
	}
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return errors.Join(fmt.Errorf("%s %s: %w", name, args[0], err), errors.New(strings.TrimSpace(string(out))))
	}
	return nil
}

// Main is a test binary's TestMain: it makes the token with the labelled keys, stores it in *h
// for the tests, runs them and exits; without SoftHSM2 the binary fails, never skips.
func Main(m *testing.M, h **HSM, labels ...string) {
	var err error
	if *h, err = Setup(labels...); err != nil {
		fmt.Fprintln(os.Stderr, "softhsm:", err)
		os.Exit(1)
	}
	code := m.Run()
	(*h).Close()
	os.Exit(code)
}
