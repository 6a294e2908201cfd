package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRoutingCLI: `cardgate routing set|get` against the running binary, signed with the
// merchant's credentials given as flags: a document set from a file or stdin comes back in
// canonical form, a bad one is refused with exit 1 naming its field and leaves the old rules,
// and the command's flags behave like every client command's.
func TestRoutingCLI(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	creds := []string{"--url", g.url, "--client-id", g.creds.ClientID, "--private-key", g.creds.MerchantPrivateKey,
		"--gateway-public-key", g.creds.GatewayPublicKey}
	run := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(binary, append(args, creds...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		code := 0
		switch {
		case errors.As(err, &ee):
			code = ee.ExitCode()
		case err != nil:
			t.Fatalf("cardgate %v: %v", args, err)
		}
		return out.String(), errb.String(), code
	}
	// doc runs a call that must exit want and returns the routing document it printed, compact.
	doc := func(want int, stdin string, args ...string) (string, map[string]any) {
		t.Helper()
		out, errOut, code := run(stdin, args...)
		if code != want {
			t.Fatalf("cardgate %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errOut)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("cardgate %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
		}
		d, _ := json.Marshal(map[string]any{"rules": m["rules"], "default": m["default"]})
		return string(d), m
	}

	const (
		rules     = `{"rules":[{"match":{"currency":["SGD"],"amountMin":"1000"},"route":["CHECKOUT","ADYEN"]}],"default":{"weights":{"CHECKOUT":1,"ALIPAY":3}}}`
		canonical = `{"default":{"weights":{"ALIPAY":3,"CHECKOUT":1}},"rules":[{"match":{"amountMin":"1000","currency":["SGD"]},"route":["CHECKOUT","ADYEN"]}]}`
	)
	if got, _ := doc(0, "", "routing", "get"); got != `{"default":null,"rules":[]}` {
		t.Errorf("before any set: %s", got)
	}
	file := filepath.Join(t.TempDir(), "rules.json")
	if err := os.WriteFile(file, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	got, set := doc(0, "", "routing", "set", "--file", file)
	if got != canonical || set["updatedAt"] == nil {
		t.Errorf("set printed %s (updatedAt %v), want %s", got, set["updatedAt"], canonical)
	}
	if got, _ := doc(0, "", "routing", "get"); got != canonical {
		t.Errorf("get printed %s, want %s", got, canonical)
	}

	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"rules":[{"match":{},"route":["ADYEN","STRIPE"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, refused := doc(1, "", "routing", "set", "--file", bad)
	if res, _ := refused["result"].(map[string]any); res["resultCode"] != "PARAM_ILLEGAL" || res["resultMessage"] != `rules[0].route[1]: unknown acquirer "STRIPE"` {
		t.Errorf("bad document answered %v", refused["result"])
	}
	_, refused = doc(1, `{"rules":[`, "routing", "set") // stdin, and not even JSON
	if res, _ := refused["result"].(map[string]any); !strings.HasPrefix(res["resultMessage"].(string), "document: ") {
		t.Errorf("malformed document answered %v", refused["result"])
	}
	if got, _ := doc(0, "", "routing", "get"); got != canonical {
		t.Errorf("after refused sets get printed %s, want the old %s", got, canonical)
	}

	if got, _ := doc(0, `{}`, "routing", "set"); got != `{"default":null,"rules":[]}` {
		t.Errorf("{} on stdin: %s, want no rules", got)
	}

	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"routing", "set", "--rules", file}, "flag provided but not defined: -rules"},
		{[]string{"routing", "get", "extra"}, `unexpected argument "extra"`},
		{[]string{"routing", "list"}, `unknown routing command "list"`},
		{[]string{"routing", "set", "--file", filepath.Join(t.TempDir(), "missing.json")}, "missing.json"},
	} {
		if out, errOut, code := run("", tc.args...); code != 2 || !strings.Contains(errOut, tc.stderr) || out != "" {
			t.Errorf("cardgate %s: exit %d, stdout %q, stderr %q; want exit 2 and %q", strings.Join(tc.args, " "), code, out, errOut, tc.stderr)
		}
	}
	// Help is asked for: it goes to stdout and exits 0.
	if out, errOut, code := run("", "routing", "set", "--help"); code != 0 || !strings.Contains(out, "usage: cardgate routing set [--file rules.json]") || errOut != "" {
		t.Errorf("cardgate routing set --help: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
