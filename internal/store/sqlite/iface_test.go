package sqlite_test

import (
	"github.com/cardgate/cardgate/internal/store"
	"github.com/cardgate/cardgate/internal/store/sqlite"
)

var _ store.Store = (*sqlite.Store)(nil)
