package store

import (
	"database/sql"
	"fmt"
)

// Prepared statements. SQLite compiles the text of a statement into a
// program before it runs it, and parsing was about a quarter of the CPU time
// of receiving a message. The store keeps the program of every query it has
// run and reuses it. The queries are a fixed set: constants of this package,
// with table names from the package's own calls, never from data.
//
// database/sql ties a prepared statement to a connection, and the store's
// one connection is held by the running transaction, so a statement cannot
// be prepared on the database from inside one. A query's first use prepares
// it for that transaction only; once the transaction has ended, runLocked
// prepares it on the database for good (prepareNew). Later transactions take
// it with sql.Tx.Stmt, which reuses SQLite's compiled statement.
//
// A statement runs once at a time: a query must not run again while rows of
// an earlier run of the same query are still open.

// stmt returns the statement for query within t.
func (t *Tx) stmt(query string) (*sql.Stmt, error) {
	if st, ok := t.stmts[query]; ok {
		return st, nil
	}
	var st *sql.Stmt
	if ps, ok := t.s.stmts[query]; ok {
		st = t.tx.Stmt(ps)
	} else {
		var err error
		if st, err = t.tx.Prepare(query); err != nil {
			return nil, err
		}
		t.unprepared = append(t.unprepared, query)
	}
	if t.stmts == nil {
		t.stmts = make(map[string]*sql.Stmt)
	}
	t.stmts[query] = st
	return st, nil
}

func (t *Tx) exec(query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.Exec(args...)
}

func (t *Tx) query(query string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.Query(args...)
}

// row is sql.Row with room for an error from preparing the statement.
type row struct {
	r   *sql.Row
	err error
}

func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.r.Scan(dest...)
}

func (t *Tx) queryRow(query string, args ...any) row {
	st, err := t.stmt(query)
	if err != nil {
		return row{err: err}
	}
	return row{r: st.QueryRow(args...)}
}

// prepareNew prepares on the database the queries a transaction used for
// the first time. It runs with s.mu held and no transaction open. A query
// that fails to prepare stays unprepared and is tried again after its next
// use.
func (s *Store) prepareNew(queries []string) {
	if s.closed {
		return
	}
	for _, q := range queries {
		if _, ok := s.stmts[q]; ok {
			continue
		}
		ps, err := s.db.Prepare(q)
		if err != nil {
			continue
		}
		if s.stmts == nil {
			s.stmts = make(map[string]*sql.Stmt)
		}
		s.stmts[q] = ps
	}
}

// closeStmts releases the prepared statements; closeDB calls it before it
// closes the database.
func (s *Store) closeStmts() error {
	var first error
	for q, ps := range s.stmts {
		if err := ps.Close(); err != nil && first == nil {
			first = fmt.Errorf("closing a prepared statement: %w", err)
		}
		delete(s.stmts, q)
	}
	return first
}
