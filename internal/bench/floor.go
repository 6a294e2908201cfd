package bench

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cardgate/cardgate/internal/store/postgres"
	"github.com/cardgate/cardgate/internal/store/sqlite"
	"github.com/cardgate/cardgate/internal/store/sqlstore"
	"github.com/cardgate/cardgate/protocol"
)

// FloorStore is where the minimal server makes its one durable write per call.
type FloorStore interface {
	// Insert commits one row in its own transaction.
	Insert(ctx context.Context, clientID, reqTime string, body []byte) error
	Describe() string
	Close() error
}

// The floor's store is opened through cardgate's own store packages, so its SQLite file has
// exactly the gateway's pragmas (WAL, synchronous=NORMAL, IMMEDIATE transactions, one
// connection) and its PostgreSQL pool the gateway's settings; the floor then writes to a table
// of its own, never to cardgate's tables.
const floorTable = `CREATE TABLE bench_floor (id BIGINT PRIMARY KEY, client_id TEXT NOT NULL,
	request_time TEXT NOT NULL, body TEXT NOT NULL)`

// floorDB is what the floor needs of a cardgate store: the store's own transaction helper and
// statement runner (sqlstore's, which both store packages embed), so that the floor's insert
// pays what a gateway write pays to reach the database and nothing more.
type floorDB interface {
	InTx(ctx context.Context, fn func(tx sqlstore.Conn) error) error
	Raw() sqlstore.Conn
	Describe() string
	Close() error
}

type storeFloor struct {
	st   floorDB
	drop func() // drops the floor's PostgreSQL schema; nil for SQLite
	seq  atomic.Int64
}

func newFloor(ctx context.Context, st floorDB, drop func()) (*storeFloor, error) {
	if _, err := st.Raw().Exec(ctx, floorTable); err != nil {
		st.Close()
		if drop != nil {
			drop()
		}
		return nil, fmt.Errorf("floor table: %w", err)
	}
	return &storeFloor{st: st, drop: drop}, nil
}

// OpenSQLiteFloor opens a floor store in dir (a fresh directory).
func OpenSQLiteFloor(ctx context.Context, dir string) (FloorStore, error) {
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("floor store: %w", err)
	}
	return newFloor(ctx, st, nil)
}

// OpenPostgresFloor opens a floor store in a new schema of the database at dbURL; Close drops
// the schema.
func OpenPostgresFloor(ctx context.Context, dbURL string) (FloorStore, error) {
	u, drop, err := TempSchema(ctx, dbURL, "cg_bench_floor")
	if err != nil {
		return nil, err
	}
	st, err := postgres.Open(ctx, u)
	if err != nil {
		drop()
		return nil, fmt.Errorf("floor store: %w", err)
	}
	return newFloor(ctx, st, drop)
}

func (f *storeFloor) Insert(ctx context.Context, clientID, reqTime string, body []byte) error {
	return f.st.InTx(ctx, func(tx sqlstore.Conn) error {
		if _, err := tx.Exec(ctx, `INSERT INTO bench_floor (id, client_id, request_time, body) VALUES (?,?,?,?)`,
			f.seq.Add(1), clientID, reqTime, string(body)); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		return nil
	})
}

func (f *storeFloor) Describe() string { return f.st.Describe() }

func (f *storeFloor) Close() error {
	err := f.st.Close()
	if f.drop != nil {
		f.drop()
	}
	return err
}

// TempSchema creates an empty schema (its name starts with prefix) in the database at dbURL and
// returns a URL whose connections use it, and a function that drops it.
func TempSchema(ctx context.Context, dbURL, prefix string) (string, func(), error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", nil, errors.New("invalid database URL") // the error could quote a password
	}
	// Parsed as a pool's URL, so that pool settings (pool_max_conns) are not sent to the server
	// as run-time parameters, which it refuses.
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return "", nil, errors.New("invalid database URL")
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return "", nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	schema := fmt.Sprintf("%s_%d_%d", prefix, time.Now().UnixNano(), rand.IntN(1_000_000))
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, fmt.Errorf("create schema: %w", err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		c, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// FloorHandler is the protocol floor of one API call (docs/design.md "Performance"): read the body,
// verify the merchant's RSA signature over it, decode the JSON, one durable insert, encode an
// answer, sign it. It answers every path alike, with a pay-shaped S/SUCCESS that carries a
// paymentId, so that a mix whose later calls need the id (capture, refund) runs unchanged.
func FloorHandler(st FloorStore, merchantPub *rsa.PublicKey, gatewayKey *rsa.PrivateKey) http.HandlerFunc {
	var seq atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		clientID, reqTime := r.Header.Get("client-id"), r.Header.Get("request-time")
		path := r.URL.EscapedPath()
		sh, err := protocol.ParseSignatureHeader(r.Header.Get("signature"))
		if err == nil {
			err = protocol.Verify(merchantPub, protocol.SigningContent(r.Method, path, clientID, reqTime, body), sh.Signature)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var req struct {
			PaymentRequestID string `json:"paymentRequestId"`
			PaymentID        string `json:"paymentId"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := st.Insert(r.Context(), clientID, reqTime, body); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		id := req.PaymentID
		if id == "" {
			id = "FLOOR" + strconv.FormatInt(seq.Add(1), 10)
		}
		out, err := json.Marshal(protocol.PayResponse{Result: protocol.SuccessResult(), PaymentRequestID: req.PaymentRequestID, PaymentID: id})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		respTime := strconv.FormatInt(time.Now().UnixMilli(), 10)
		sig, err := protocol.Sign(gatewayKey, protocol.SigningContent(http.MethodPost, path, clientID, respTime, out))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json; charset=UTF-8")
		h["client-id"] = []string{clientID}
		h["response-time"] = []string{respTime}
		h["signature"] = []string{protocol.SignatureHeader{KeyVersion: "1", Signature: sig}.String()}
		_, _ = w.Write(out)
	}
}
