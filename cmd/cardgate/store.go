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

// openWithGatewayKey opens the store and makes sure the gateway key pair exists.
func (f *storeFlags) openWithGatewayKey(ctx context.Context) (store.Store, keyring.Key, error) {
	store, err := f.open(ctx)
	if err != nil {
		return nil, keyring.Key{}, err
	}
	gw, err := keyring.Ensure(ctx, store, clock.Wall{}.Now())
	if err != nil {
		store.Close()
		return nil, keyring.Key{}, err
	}
	return store, gw, nil
}
