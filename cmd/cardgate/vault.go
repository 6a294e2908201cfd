package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/cardgate/cardgate/internal/rekey"
	"github.com/cardgate/cardgate/internal/vault"
)

// vaultCmd is `cardgate vault rotate`: a new key-encryption key, and every stored envelope
// rewrapped under it while the gateway keeps running.
func vaultCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rotate" {
		return errors.New("usage: cardgate vault rotate [--data DIR | --database URL] [--vault-keys KEYS] [--json]")
	}
	fs := newFlagSet("vault rotate")
	fs.SetOutput(stderr)
	var (
		sf        storeFlags
		vaultKeys = fs.String("vault-keys", os.Getenv("CARDGATE_VAULT_KEYS"),
			"the gateway's keys \"new:base64,old:base64\", the new one first ($CARDGATE_VAULT_KEYS); without it the sandbox's key file DATA/vault.key, or on PostgreSQL its database, gets a new key")
		settle = fs.Duration("settle", time.Second, "pause between passes, for requests that sealed under the old key as it changed")
		asJSON = fs.Bool("json", false, "print the report as JSON")
	)
	sf.register(fs)
	if err := parseArgs(fs, args[1:], stdout); err != nil {
		return err
	}
	st, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	var keys func() (*vault.Keyring, error)
	ks, sharedKeys := st.(vault.KeyStore)
	switch {
	case *vaultKeys != "":
		// Configured keys: the gateways must already run with the new key first (a rolling
		// restart), so that nothing new is sealed under the old one; this rewraps the rest.
		k, err := vault.ParseKeys(*vaultKeys)
		if err != nil {
			return fmt.Errorf("--vault-keys: %w", err)
		}
		keys = func() (*vault.Keyring, error) { return k, nil }
	case sharedKeys:
		// A sandbox on PostgreSQL: a fresh key goes into the database, which every instance
		// re-reads within a second. A production database keeps no keys and is refused.
		id, err := vault.RotateStore(ctx, ks)
		if errors.Is(err, vault.ErrNoStoredKeys) {
			return fmt.Errorf("%w: a production gateway's keys come from --vault-keys, give them here too (a sandbox's appear once it has served)", err)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "vault: new key %s is current in the database of %s\n", id, st.Describe())
		live, err := vault.LiveStore(ctx, ks, 0) // every pass sees the keys as they are
		if err != nil {
			return err
		}
		keys = live.Keyring
		// An instance may seal under the old key until its next re-read of the keys; the pause
		// between passes covers that too, so the pass that finds nothing left is the last word.
		*settle += vault.StoreRefresh
	default:
		// The sandbox key file: a fresh key goes first; running gateways follow the file.
		path := filepath.Join(sf.data, "vault.key")
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("no --vault-keys and no key file: %w", err)
		}
		id, err := vault.RotateFile(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "vault: new key %s is current in %s\n", id, path)
		live, err := vault.LiveFile(path)
		if err != nil {
			return err
		}
		keys = live.Keyring
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	rep, err := rekey.Rotate(ctx, st, keys, log, rekey.Options{Settle: *settle})
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(rep)
	}
	_, err = fmt.Fprintf(stdout, "every envelope is under key %s: %d saved cards and %d pending 3-D Secure cards rewrapped in %d passes\n",
		rep.KEK, rep.Rewrapped["card_tokens"], rep.Rewrapped["payments.sealed_card"], rep.Passes)
	return err
}
