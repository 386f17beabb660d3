package audit

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the driver skyd's store uses
)

// Table is every row of one table, as a seizure reads it.
type Table struct {
	Name    string
	Columns []string
	Rows    [][]any // values as the driver returns them ([]byte, string, int64, bool, nil, …)
}

// SQLiteTables copies the database at path, with its -wal and -shm files
// as they are on disk right now, to a directory of its own and reads every
// table of the copy (the copy applies the WAL: what a seizure reads). The
// original is not touched. The three files are copied one after another
// while the server may be writing or checkpointing, so a copy can be torn
// (the WAL newer than the main file it was read with); such a copy is taken
// again, as someone imaging a running server would, a few times at most.
func SQLiteTables(path string) ([]Table, error) {
	var err error
	for range 5 {
		var ts []Table
		if ts, err = sqliteTablesOnce(path); err == nil {
			return ts, nil
		}
		if !strings.Contains(err.Error(), "malformed") {
			return nil, err
		}
	}
	return nil, err
}

func sqliteTablesOnce(path string) ([]Table, error) {
	dir, err := os.MkdirTemp("", "sky-audit-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	dst := filepath.Join(dir, "seized.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := copyFile(path+suffix, dst+suffix); err != nil && !os.IsNotExist(err) {
			return nil, err
		}
	}
	db, err := sql.Open("sqlite", dst)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("audit: listing tables: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, n)
	}
	rows.Close()
	var out []Table
	for _, n := range names {
		t, err := dumpTable(context.Background(), sqlQuerier{db}, n, `"`+n+`"`)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// PostgresTables reads every table of the public schema of the database at
// url.
func PostgresTables(ctx context.Context, url string) ([]Table, error) {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	var out []Table
	for _, n := range names {
		t, err := dumpTable(ctx, pgQuerier{c}, n, pgx.Identifier{n}.Sanitize())
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// querier runs SELECT * on one table and hands back columns and rows.
type querier interface {
	all(ctx context.Context, table string) ([]string, [][]any, error)
}

type sqlQuerier struct{ db *sql.DB }

func (q sqlQuerier) all(ctx context.Context, table string) ([]string, [][]any, error) {
	rows, err := q.db.QueryContext(ctx, "SELECT * FROM "+table)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		out = append(out, vals)
	}
	return cols, out, rows.Err()
}

type pgQuerier struct{ c *pgx.Conn }

func (q pgQuerier) all(ctx context.Context, table string) ([]string, [][]any, error) {
	rows, err := q.c.Query(ctx, "SELECT * FROM "+table)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var cols []string
	for _, f := range rows.FieldDescriptions() {
		cols = append(cols, f.Name)
	}
	var out [][]any
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, nil, err
		}
		out = append(out, vals)
	}
	return cols, out, rows.Err()
}

func dumpTable(ctx context.Context, q querier, name, quoted string) (Table, error) {
	cols, rows, err := q.all(ctx, quoted)
	if err != nil {
		return Table{}, fmt.Errorf("audit: reading table %s: %w", name, err)
	}
	return Table{Name: name, Columns: cols, Rows: rows}, nil
}

// Column returns the index of the named column, or -1.
func (t Table) Column(name string) int { return slices.Index(t.Columns, name) }

// Columns reads an allow-list: one "table.column" per line, then (after
// white space) why the server keeps it; '#' starts a comment. It returns
// the reasons by "table.column"; an entry without a reason is an error.
func Columns(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		col, why, _ := strings.Cut(line, " ")
		why = strings.TrimSpace(why)
		if !strings.Contains(col, ".") || why == "" {
			return nil, fmt.Errorf("audit: allow-list line %d: want \"table.column  why it is kept\", got %q", n, line)
		}
		if _, dup := out[col]; dup {
			return nil, fmt.Errorf("audit: allow-list line %d: %s listed twice", n, col)
		}
		out[col] = why
	}
	return out, sc.Err()
}
