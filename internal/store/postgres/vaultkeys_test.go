package postgres_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardgate/cardgate/internal/store/postgres"
	"github.com/cardgate/cardgate/internal/vault"
)

// The sandbox's vault keys on PostgreSQL (issue 11): every instance of a sandbox seals and opens
// with the keys kept in sandbox_vault_keys, wherever its working directory is.

func keyRows(t *testing.T, s *postgres.Store) int {
	t.Helper()
	var n int
	if err := s.Raw().QueryRow(context.Background(), `SELECT count(*) FROM sandbox_vault_keys`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// aad binds the test envelopes, as the gateway binds a card to its merchant and record.
var aad = []byte("merchant/record")

func kekOf(t *testing.T, envelope string) string {
	t.Helper()
	s, err := vault.ParseSealed(envelope)
	if err != nil {
		t.Fatal(err)
	}
	return s.KEKID
}

// TestSandboxKeysFirstStartsAgree: four instances (four pools) start at once on an empty schema;
// one seeds, and all end up with its key: what one seals, every other opens.
func TestSandboxKeysFirstStartsAgree(t *testing.T) {
	u := freshSchema(t)
	ctx := context.Background()
	const n = 4
	stores := make([]*postgres.Store, n)
	for i := range stores {
		stores[i] = openAt(t, u)
	}
	lives := make([]*vault.Live, n)
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := vault.SeedStore(ctx, s, ""); err != nil {
				t.Error(err)
				return
			}
			l, err := vault.LiveStore(ctx, s, time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			lives[i] = l
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if got := keyRows(t, stores[0]); got != 1 {
		t.Fatalf("%d stored keys after %d first starts, want 1", got, n)
	}
	for i, l := range lives {
		env, err := l.SealText([]byte("card of instance"), []byte("aad"))
		if err != nil {
			t.Fatal(err)
		}
		for j, other := range lives {
			if out, err := other.OpenText(env, []byte("aad")); err != nil || string(out) != "card of instance" {
				t.Errorf("instance %d cannot open what instance %d sealed: %v", j, i, err)
			}
		}
	}
}

// TestSandboxKeysAdoptKeyFile: a sandbox that kept its keys in DATA/vault.key moves them into
// the database on its first start with stored keys, so what it sealed keeps opening; the key
// file of a later instance, or none, changes nothing.
func TestSandboxKeysAdoptKeyFile(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, freshSchema(t))
	dir := t.TempDir()
	path := filepath.Join(dir, "vault.key")
	file, err := vault.LiveFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old, err := file.SealText([]byte("sealed before the rotation"), aad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vault.RotateFile(path); err != nil {
		t.Fatal(err)
	}
	recent, err := file.SealText([]byte("sealed after it"), aad)
	if err != nil {
		t.Fatal(err)
	}
	fileKeys, err := file.Keyring()
	if err != nil {
		t.Fatal(err)
	}

	other := filepath.Join(t.TempDir(), "vault.key")
	if _, err := vault.LoadOrCreateFile(other); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		adopt       string
		wantAdopted bool
	}{
		{"the first start adopts its key file", path, true},
		{"another instance's key file is not adopted", other, false},
		{"no key file", filepath.Join(t.TempDir(), "vault.key"), false},
		{"no data directory given", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			adopted, err := vault.SeedStore(ctx, s, tc.adopt)
			if err != nil {
				t.Fatal(err)
			}
			if adopted != tc.wantAdopted {
				t.Errorf("adopted %v, want %v", adopted, tc.wantAdopted)
			}
			l, err := vault.LiveStore(ctx, s, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			k, err := l.Keyring()
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.Join(k.IDs(), ","), strings.Join(fileKeys.IDs(), ","); got != want {
				t.Errorf("stored keys %s, want the first key file's %s (current first)", got, want)
			}
			for _, env := range []string{old, recent} {
				if _, err := l.OpenText(env, aad); err != nil {
					t.Errorf("envelope under %s sealed with the key file: %v", kekOf(t, env), err)
				}
			}
		})
	}
	if got := keyRows(t, s); got != 2 {
		t.Errorf("%d stored keys, want the key file's 2", got)
	}
}

// countingKeys counts the reads of a real store's keys.
type countingKeys struct {
	*postgres.Store
	reads atomic.Int64
}

func (c *countingKeys) SandboxKeys(ctx context.Context) ([]vault.KEK, error) {
	c.reads.Add(1)
	return c.Store.SandboxKeys(ctx)
}

// TestLiveStoreFollowsRotation: a rotation through one instance is followed by the others: at
// the next refresh before a seal, and at once when an envelope names the new key; within the
// refresh period seals do not read the database.
func TestLiveStoreFollowsRotation(t *testing.T) {
	ctx := context.Background()
	u := freshSchema(t)
	a := &countingKeys{Store: openAt(t, u)}
	b := openAt(t, u)
	if _, err := vault.SeedStore(ctx, b, ""); err != nil {
		t.Fatal(err)
	}
	slow, err := vault.LiveStore(ctx, a, time.Hour) // never due during the test
	if err != nil {
		t.Fatal(err)
	}
	eager, err := vault.LiveStore(ctx, b, 0) // due before every seal
	if err != nil {
		t.Fatal(err)
	}
	k, err := slow.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	first := k.CurrentID()

	next, err := vault.RotateStore(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if next == first {
		t.Fatalf("rotation kept key %s", first)
	}
	fresh, err := eager.SealText([]byte("after"), aad)
	if err != nil {
		t.Fatal(err)
	}
	if got := kekOf(t, fresh); got != next {
		t.Errorf("an instance past its refresh seals under %s, want the new %s", got, next)
	}
	reads := a.reads.Load()
	for range 50 {
		env, err := slow.SealText([]byte("meanwhile"), aad)
		if err != nil {
			t.Fatal(err)
		}
		if got := kekOf(t, env); got != first {
			t.Fatalf("within its refresh period an instance sealed under %s, want %s", got, first)
		}
	}
	if got := a.reads.Load() - reads; got != 0 {
		t.Errorf("50 seals within the refresh period read the keys %d times, want 0", got)
	}
	out, err := slow.OpenText(fresh, aad)
	if err != nil || string(out) != "after" {
		t.Fatalf("an envelope under the new key: %q, %v", out, err)
	}
	if got := a.reads.Load() - reads; got != 1 {
		t.Errorf("opening under an unknown key read the keys %d times, want 1", got)
	}
	env, err := slow.SealText([]byte("now"), aad)
	if err != nil {
		t.Fatal(err)
	}
	if got := kekOf(t, env); got != next {
		t.Errorf("after reloading for the new key an instance seals under %s, want %s", got, next)
	}
	// An unknown key that is nowhere still fails, after one read.
	other, err := vault.GenerateKEK("nowhere")
	if err != nil {
		t.Fatal(err)
	}
	kr, err := vault.NewKeyring(other)
	if err != nil {
		t.Fatal(err)
	}
	stray, err := vault.Fixed(kr).SealText([]byte("x"), aad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := slow.OpenText(stray, aad); !errors.Is(err, vault.ErrUnknownKEK) {
		t.Errorf("envelope under a key no instance has: %v, want ErrUnknownKEK", err)
	}
}

// TestRotateStoreConcurrent: two rotations at once both add their key, the last added current.
func TestRotateStoreConcurrent(t *testing.T) {
	ctx := context.Background()
	u := freshSchema(t)
	a, b := openAt(t, u), openAt(t, u)
	if _, err := vault.SeedStore(ctx, a, ""); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 2)
	var wg sync.WaitGroup
	for i, s := range []*postgres.Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := vault.RotateStore(ctx, s)
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		}()
	}
	wg.Wait()
	keys, err := a.SandboxKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 {
		t.Fatalf("%d keys after a seed and two rotations, want 3", len(keys))
	}
	if cur := keys[0].ID; cur != ids[0] && cur != ids[1] {
		t.Errorf("current key %s is neither rotation's (%v)", cur, ids)
	}
}

// TestRotateStoreRefusesProductionDatabase: a database without sandbox keys (a production one)
// gets none from a rotation, and a gateway cannot follow keys it does not have.
func TestRotateStoreRefusesProductionDatabase(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, freshSchema(t))
	if _, err := vault.RotateStore(ctx, s); !errors.Is(err, vault.ErrNoStoredKeys) {
		t.Errorf("rotate on a database without sandbox keys: %v, want ErrNoStoredKeys", err)
	}
	if _, err := vault.LiveStore(ctx, s, time.Second); !errors.Is(err, vault.ErrNoStoredKeys) {
		t.Errorf("live keys of a database without sandbox keys: %v, want ErrNoStoredKeys", err)
	}
	if got := keyRows(t, s); got != 0 {
		t.Errorf("%d keys stored, want none", got)
	}
}

// TestSandboxKeysSchemaRefusesBadKeys: the table holds 32-byte keys with vault ids only.
func TestSandboxKeysSchemaRefusesBadKeys(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, freshSchema(t))
	good, err := vault.GenerateKEK("good")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		kek  vault.KEK
	}{
		{"short key", vault.KEK{ID: "short", Key: good.Key[:16]}},
		{"empty id", vault.KEK{ID: "", Key: good.Key}},
		{"id with a dot", vault.KEK{ID: "a.b", Key: good.Key}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.AddSandboxKey(ctx, tc.kek); err == nil {
				t.Errorf("stored %v", tc.kek)
			}
		})
	}
	if got := keyRows(t, s); got != 0 {
		t.Errorf("%d keys stored, want none", got)
	}
}
