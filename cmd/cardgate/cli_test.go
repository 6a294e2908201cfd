package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestCommandLine: help at every level goes to stdout and is no error; a stray argument, an
// unknown flag or command is one line naming it; version and completion answer.
func TestCommandLine(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, tt := range []struct {
		args       []string
		help       bool   // errHelpShown: exit 0
		wantOut    string // in stdout
		wantErr    string // in the error
		notWantErr string
	}{
		{args: []string{"pay", "-h"}, help: true, wantOut: "Usage: cardgate pay [flags]"},
		{args: []string{"pay", "--help"}, help: true, wantOut: "-redirect-url"},
		{args: []string{"notifications", "-h"}, help: true, wantOut: "cardgate notifications resend --id N"},
		{args: []string{"sandbox", "--help"}, help: true, wantOut: "cardgate sandbox dispute"},
		{args: []string{"dispute", "help"}, help: true, wantOut: "cardgate dispute accept"},
		{args: []string{"serve", "-h"}, help: true, wantOut: "-addr"},
		{args: []string{"pay", "4000000000000002"}, wantErr: `pay: unexpected argument "4000000000000002": every value goes with its flag, such as --card 4000000000000002`},
		{args: []string{"pay", "--crd", "1"}, wantErr: `pay: flag provided but not defined: -crd (run "cardgate pay -h" for its flags)`},
		{args: []string{"refund", "--amount"}, wantErr: "flag needs an argument: -amount"},
		{args: []string{"frob"}, wantErr: `unknown command "frob" (run "cardgate help" for the commands)`},
		{args: []string{"version"}, wantOut: "cardgate "},
		{args: []string{"version"}, wantOut: " signers go"},
		{args: []string{"bench", "--signer", "boringssl"}, wantErr: `--signer "boringssl": go or openssl`},
		{args: []string{"bench", "--signer", "go", "--url", "http://127.0.0.1:1"}, wantErr: "--signer chooses the signer of the gateway bench starts"},
		{args: []string{"serve", "--gateway-key", "/etc/key.pem"}, wantErr: "--gateway-key: a PKCS#11 URI"},
		{args: []string{"init", "--gateway-key-version", "2"}, wantErr: "--gateway-key-version goes with a --gateway-key"},
		{args: []string{"completion", "bash"}, wantOut: "complete -o default -F _cardgate cardgate"},
		{args: []string{"completion", "zsh"}, wantOut: "#compdef cardgate"},
		{args: []string{"completion", "fish"}, wantErr: `unknown shell "fish"`},
		{args: []string{"__complete"}, wantOut: "dispute\n"},
		{args: []string{"__complete", "sandbox"}, wantOut: "dispute\nforce\nreset\n"},
		{args: []string{"__complete", "pay"}, wantOut: "--redirect-url\n"},
		{args: []string{"__complete", "dispute", "accept"}, wantOut: "--dispute-id\n"},
		{args: []string{"__complete", "serve"}, wantOut: "--log-format\n--log-level\n--mode\n"},
		{args: []string{"serve", "-h"}, help: true, wantOut: "--log-format string  ($CARDGATE_LOG_FORMAT)"},
		{args: []string{"serve", "--log-format", "xml"}, wantErr: `--log-format "xml": text or json`},
		// A command that only calls a gateway reads the sandbox merchant from --data, and never
		// creates the directory or a database there.
		{args: []string{"pay"}, wantErr: "no gateway store in ./data"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), tt.args, &out, &errOut)
		name := strings.Join(tt.args, " ")
		switch {
		case tt.help && !errors.Is(err, errHelpShown):
			t.Errorf("%s: %v, want help shown", name, err)
		case tt.wantErr == "" && !tt.help && err != nil:
			t.Errorf("%s: %v", name, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: error %v, want %q", name, err, tt.wantErr)
		}
		if !strings.Contains(out.String(), tt.wantOut) {
			t.Errorf("%s: stdout %q, want %q", name, out.String(), tt.wantOut)
		}
		if tt.wantErr != "" && strings.Count(err.Error(), "\n") > 0 {
			t.Errorf("%s: a many-line error %q", name, err)
		}
		if errOut.Len() > 0 {
			t.Errorf("%s: wrote to stderr %q", name, errOut.String())
		}
	}
	if _, err := os.Stat("data"); !os.IsNotExist(err) {
		t.Errorf("a client command created ./data: %v", err)
	}
}
