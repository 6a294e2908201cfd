package pgtest

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
)

// Wire counts what a client sends PostgreSQL, by reading the frontend protocol on the wire of
// every connection it dials (pgxpool.Config.ConnConfig.DialFunc = w.Dial): round trips (each
// Sync of the extended protocol, each simple Query) and Parse messages (statements prepared).
// It needs sslmode=disable, the test server's.
type Wire struct {
	mu                    sync.Mutex
	syncs, queries, parse int
}

// Counts are what Wire has seen since it was made or last Reset.
type Counts struct {
	RoundTrips int // Sync + simple Query messages: the client waits for an answer after each
	Parses     int // statements prepared
}

// Counts returns the counts so far.
func (w *Wire) Counts() Counts {
	w.mu.Lock()
	defer w.mu.Unlock()
	return Counts{RoundTrips: w.syncs + w.queries, Parses: w.parse}
}

// Reset zeroes the counts.
func (w *Wire) Reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.syncs, w.queries, w.parse = 0, 0, 0
}

// Dial is a pgconn.DialFunc.
func (w *Wire) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &wireConn{Conn: c, w: w}, nil
}

type wireConn struct {
	net.Conn
	w       *Wire
	buf     []byte
	started bool // past the untyped startup message
}

func (c *wireConn) Write(p []byte) (int, error) {
	c.buf = append(c.buf, p...)
	for {
		if !c.started {
			if len(c.buf) < 4 {
				break
			}
			n := int(binary.BigEndian.Uint32(c.buf))
			if len(c.buf) < n {
				break
			}
			c.buf, c.started = c.buf[n:], true
			continue
		}
		if len(c.buf) < 5 {
			break
		}
		n := 1 + int(binary.BigEndian.Uint32(c.buf[1:5]))
		if len(c.buf) < n {
			break
		}
		c.w.mu.Lock()
		switch c.buf[0] {
		case 'S':
			c.w.syncs++
		case 'Q':
			c.w.queries++
		case 'P':
			c.w.parse++
		}
		c.w.mu.Unlock()
		c.buf = c.buf[n:]
	}
	return c.Conn.Write(p)
}
