package main

import (
	"context"
	"flag"

	"github.com/cardgate/cardgate/internal/clock"
	"github.com/cardgate/cardgate/internal/gateway"
	"github.com/cardgate/cardgate/internal/keyring"
	"github.com/cardgate/cardgate/internal/store"
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
