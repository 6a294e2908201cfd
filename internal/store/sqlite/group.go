package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cardgate/cardgate/internal/store/sqlstore"
)

// maxGroup is the most transactions one commit records. A member waits for its group's commit
// before it answers, and a statement outside a transaction waits for the one connection until
// the group ends, so the bound is also the most either waits for: about 16 short writes.
const maxGroup = 16

// groupCommit runs the store's transactions on SQLite's one connection as members of a shared
// transaction, one after another, each after the first inside a savepoint, and commits them together
// when no other transaction is waiting to join (or maxGroup joined). A commit writes each page the
// group changed once to the WAL, however many members changed it, and the pages a pay changes
// are mostly the same hot ones (the right edges of the tables and of their indexes), so a group
// of k pays costs about one commit instead of k. A member's Commit returns once the group is
// durable, so nothing is answered before it is written, as with a transaction of its own.
//
// A member that rolls back undoes only its savepoint, and ends the group: some SQLite errors
// (I/O, a full disk, an interrupt) roll the whole transaction back, and a member must never run
// outside a transaction it believes it is in. The group then commits what the others released
// (COMMIT fails, for all of them, if SQLite already rolled it back).
type groupCommit struct {
	db      *sql.DB
	mu      sync.Mutex // held by the member running on the shared transaction
	waiting atomic.Int32
	cur     *group // the open group; guarded by mu

	// groups and members count the groups ended and the members they committed (Store.GroupStats).
	groups, members atomic.Int64
}

type group struct {
	tx      *sql.Tx
	members int
	done    chan struct{}
	err     error
}

// begin starts a member: it waits for the one running, then joins the open group or opens one.
func (c *groupCommit) begin(ctx context.Context) (*member, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.waiting.Add(1)
	c.mu.Lock()
	c.waiting.Add(-1)
	if c.cur == nil {
		// The transaction outlives any one member's context: database/sql would roll it back
		// when the context of its BeginTx ended.
		tx, err := c.db.BeginTx(context.Background(), nil)
		if err != nil {
			c.mu.Unlock()
			return nil, err
		}
		c.cur = &group{tx: tx, done: make(chan struct{})}
	}
	g := c.cur
	m := &member{querier: querier{detached{g.tx, ctx}}, c: c, g: g, ctx: ctx}
	// The group's first member is alone in the transaction while it runs, so its rollback can be
	// the transaction's; only the members after it need a savepoint of their own.
	if g.members > 0 {
		if _, err := g.tx.ExecContext(context.Background(), "SAVEPOINT member"); err != nil {
			c.end(g, err)
			c.mu.Unlock()
			return nil, fmt.Errorf("savepoint: %w", err)
		}
		m.savepoint = true
	}
	return m, nil
}

// end closes group g (mu held): it commits the released members' work unless err says the
// transaction is already lost.
func (c *groupCommit) end(g *group, err error) {
	c.cur = nil
	switch {
	case err != nil:
		_ = g.tx.Rollback()
	case g.members == 0:
		err = g.tx.Rollback()
	default:
		err = g.tx.Commit()
		if err == nil {
			c.groups.Add(1)
			c.members.Add(int64(g.members))
		}
	}
	g.err = err
	close(g.done)
}

// member is one store transaction in a group.
type member struct {
	querier
	c         *groupCommit
	g         *group
	ctx       context.Context
	savepoint bool // not the group's first member
	ended     bool
}

// Queue implements sqlstore.DriverTx: in process, the statements run at once.
func (m *member) Queue(ctx context.Context, stmts []sqlstore.Stmt) error {
	_, err := m.Batch(ctx, stmts)
	return err
}

// Commit releases the member's savepoint and waits until its group is committed. A member whose
// context ended is rolled back instead, as database/sql does with a transaction of its own.
func (m *member) Commit(ctx context.Context) error {
	if m.ended {
		return errors.New("transaction already ended")
	}
	if err := cmp.Or(m.ctx.Err(), ctx.Err()); err != nil {
		_ = m.Rollback(ctx)
		return err
	}
	m.ended = true
	g := m.g
	if m.savepoint {
		if _, err := g.tx.ExecContext(context.Background(), "RELEASE member"); err != nil {
			m.c.end(g, err)
			m.c.mu.Unlock()
			return err
		}
	}
	g.members++
	if m.c.waiting.Load() == 0 || g.members >= maxGroup {
		m.c.end(g, nil)
	}
	m.c.mu.Unlock()
	<-g.done
	return g.err
}

// Rollback undoes the member's savepoint and ends the group; after Commit it does nothing.
func (m *member) Rollback(context.Context) error {
	if m.ended {
		return nil
	}
	m.ended = true
	g := m.g
	var err error
	if m.savepoint {
		_, err = g.tx.ExecContext(context.Background(), "ROLLBACK TO member")
		if err == nil {
			_, err = g.tx.ExecContext(context.Background(), "RELEASE member")
		}
	}
	// The first member's rollback is the transaction's: end sees no member committed.
	m.c.end(g, err)
	m.c.mu.Unlock()
	return err
}

// detached runs a member's statements without its context's cancellation: SQLite answers an
// interrupted write inside a transaction by rolling the whole transaction back, which would take
// the other members' work with it. A statement asked for once the context has ended is given the
// ended context, so that database/sql refuses it before it reaches SQLite.
type detached struct {
	tx    *sql.Tx
	begin context.Context
}

func (d detached) ctx(ctx context.Context) context.Context {
	if d.begin.Err() != nil {
		return d.begin
	}
	if ctx.Err() != nil {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

func (d detached) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return d.tx.ExecContext(d.ctx(ctx), q, args...)
}

func (d detached) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return d.tx.QueryContext(d.ctx(ctx), q, args...)
}

func (d detached) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return d.tx.QueryRowContext(d.ctx(ctx), q, args...)
}

// exec runs a statement asked for outside a transaction as a member of its own, so that it
// queues with the transactions in turn (database/sql hands the one connection to whichever
// waiter it picks) and shares their commit instead of making one.
func (c *groupCommit) exec(ctx context.Context, q string, args ...any) (int64, error) {
	m, err := c.begin(ctx)
	if err != nil {
		return 0, err
	}
	n, err := m.Exec(ctx, q, args...)
	if err != nil {
		_ = m.Rollback(ctx)
		return 0, err
	}
	return n, m.Commit(ctx)
}

// queryRow is exec's for a write that returns a row (INSERT … RETURNING). The member ends when
// the row is scanned, which every caller does at once: a row left unscanned would keep the
// store's every writer waiting.
func (c *groupCommit) queryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	m, err := c.begin(ctx)
	if err != nil {
		return errRow{err}
	}
	return memberRow{m: m, ctx: ctx, row: m.QueryRow(ctx, q, args...)}
}

type memberRow struct {
	m   *member
	ctx context.Context
	row sqlstore.Row
}

func (r memberRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		_ = r.m.Rollback(r.ctx)
		return err
	}
	// No row (an UPDATE … RETURNING that matched none) is an answer, not a failure.
	if cerr := r.m.Commit(r.ctx); cerr != nil {
		return cerr
	}
	return err
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// isRead says whether q only reads: those run on the connection as they are.
func isRead(q string) bool {
	q = strings.TrimLeft(q, " \t\r\n(")
	return len(q) >= 6 && strings.EqualFold(q[:6], "SELECT")
}
