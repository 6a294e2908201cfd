package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/gateway"
	"github.com/cardgate/cardgate/internal/keyring"
	"github.com/cardgate/cardgate/internal/store"
	"github.com/cardgate/cardgate/internal/store/sqlite"
)

// storeFlags are the flags that choose the store, shared by every command that opens one.
type storeFlags struct {
	data     string
	database string
	// gatewayKey is where the gateway key is when it is not the store's (an HSM: --gateway-key
	// of init and merchant create, $CARDGATE_GATEWAY_KEY of the client commands), so that the
	// gateway public key they print or verify with is the one serve signs with.
	gatewayKey gateway.KeyConfig
}

// registerGatewayKey adds serve's --gateway-key and --gateway-key-version; gatewayKeyEnv reads
// $CARDGATE_GATEWAY_KEY and $CARDGATE_GATEWAY_KEY_VERSION for those not given. (Not as the flags'
// defaults: help would print a pin-value.)
func (f *storeFlags) registerGatewayKey(fs *flag.FlagSet, envInUsage bool) {
	env := func(name string) string {
		if envInUsage {
			return " ($" + name + ")"
		}
		return "" // serve's help names every flag's variable itself
	}
	fs.StringVar(&f.gatewayKey.Spec, "gateway-key", "",
		"the gateway key in an HSM, a PKCS#11 URI: pkcs11:token=T;object=LABEL?module-path=LIB.so&pin-source=file:PATH[&key-version=N] (a -tags pkcs11 build; docs/security.md \"Gateway keys in an HSM\"); default: the key in the store"+env("CARDGATE_GATEWAY_KEY"))
	fs.StringVar(&f.gatewayKey.Version, "gateway-key-version", "",
		"the keyVersion of the --gateway-key HSM key in signature headers (default: the URI's key-version, else 1)"+env("CARDGATE_GATEWAY_KEY_VERSION"))
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.data, "data", "./data", "directory of the embedded SQLite store")
	fs.StringVar(&f.database, "database", "", "database URL (postgres://…) instead of the embedded store")
}

func (f *storeFlags) open(ctx context.Context) (store.Store, error) {
	return gateway.OpenStore(ctx, f.data, f.database)
}

// mustExist refuses a --data directory without a store: a command that only calls a gateway
// reads the sandbox merchant's keys there, and must not leave an empty database behind where it
// was run (a gateway started later in that directory would make a new sandbox merchant).
func (f *storeFlags) mustExist() error {
	if f.database != "" {
		return nil
	}
	if _, err := os.Stat(filepath.Join(f.data, sqlite.FileName)); err != nil {
		return fmt.Errorf("no gateway store in %s (no %s there): run the command where \"cardgate serve\" keeps its data, or pass --data DIR, or --client-id/--private-key/--gateway-public-key", f.data, sqlite.FileName)
	}
	return nil
}

// gatewayKeyEnv gives --gateway-key and --gateway-key-version their variables' values unless
// they were given, after fs is parsed.
func (f *storeFlags) gatewayKeyEnv(fs *flag.FlagSet) {
	given := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	if !given["gateway-key"] {
		f.gatewayKey.Spec = os.Getenv("CARDGATE_GATEWAY_KEY")
	}
	if !given["gateway-key-version"] {
		f.gatewayKey.Version = os.Getenv("CARDGATE_GATEWAY_KEY_VERSION")
	}
}

// openWithGatewayKey opens the store and makes sure the gateway key pair exists: the store's
// (created if missing), or the HSM's of f.gatewayKey. The key is for its public half only: an HSM
// session is closed again before it returns.
func (f *storeFlags) openWithGatewayKey(ctx context.Context) (store.Store, keyring.Key, error) {
	if err := f.gatewayKey.Check(); err != nil {
		return nil, keyring.Key{}, err
	}
	store, err := f.open(ctx)
	if err != nil {
		return nil, keyring.Key{}, err
	}
	lk, err := gateway.LoadKey(ctx, store, f.gatewayKey, clock.Wall{}.Now(), nil)
	if err != nil {
		store.Close()
		return nil, keyring.Key{}, err
	}
	if lk.Closer != nil {
		_ = lk.Closer.Close()
	}
	return store, lk.Key, nil
}
