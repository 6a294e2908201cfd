package main

import (
	"flag"
	"io"
	"strings"
	"testing"
)

// TestEnvDefaults: every flag reads CARDGATE_<FLAG> (upper case, "-" as "_"), a flag given on the
// command line wins, and a variable the flag refuses names the variable.
func TestEnvDefaults(t *testing.T) {
	t.Setenv("CARDGATE_FEE_BPS", "150")
	t.Setenv("CARDGATE_FX_RATES", "/etc/rates.csv")
	t.Setenv("CARDGATE_LOG_LEVEL", "debug")
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	bps := fs.Int64("fee-bps", 0, "")
	rates := fs.String("fx-rates", "", "")
	level := fs.String("log-level", "info", "")
	fixed := fs.Int64("fee-fixed", 0, "")
	if err := envDefaults(fs); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"--log-level", "warn"}); err != nil {
		t.Fatal(err)
	}
	if *bps != 150 || *rates != "/etc/rates.csv" || *level != "warn" || *fixed != 0 {
		t.Fatalf("fee-bps %d, fx-rates %q, log-level %q, fee-fixed %d", *bps, *rates, *level, *fixed)
	}

	t.Setenv("CARDGATE_FEE_FIXED", "thirty")
	bad := flag.NewFlagSet("serve", flag.ContinueOnError)
	bad.Int64("fee-fixed", 0, "")
	if err := envDefaults(bad); err == nil || !strings.Contains(err.Error(), "$CARDGATE_FEE_FIXED") {
		t.Fatalf("a malformed variable: %v", err)
	}
}
