package sqlite

import "testing"

func TestIsRead(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT 1":                           true,
		"  select generation FROM x":         true,
		"\n\t(SELECT 1) UNION (SELECT 2)":    true,
		"INSERT INTO t VALUES (1) RETURNING": false,
		"UPDATE t SET a = 1 RETURNING a":     false,
		"DELETE FROM t RETURNING id":         false,
		"WITH x AS (SELECT 1) DELETE FROM t": false,
		"SELEC":                              false,
		"":                                   false,
	} {
		if got := isRead(q); got != want {
			t.Errorf("isRead(%q) = %t, want %t", q, got, want)
		}
	}
}
