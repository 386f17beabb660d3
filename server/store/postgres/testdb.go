package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/skymsg/sky/internal/testenv"
)

// AdminURL is the PostgreSQL server tests use: 127.0.0.1:5432, user
// postgres, trust authentication (see .ci/services).
const AdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// TestDatabase creates a fresh database for one test, drops it when the test
// ends, and returns its URL. When PostgreSQL is unreachable it calls
// testenv.Unavailable (skip locally, fail under CI).
func TestDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, AdminURL)
	if err != nil {
		testenv.Unavailable(t, "POSTGRES", "cannot connect to "+AdminURL+": "+err.Error()+"; start PostgreSQL (bash .ci/services)")
	}
	defer admin.Close(context.Background())
	b := make([]byte, 8)
	rand.Read(b)
	name := "sky_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, AdminURL)
		if err != nil {
			t.Errorf("dropping test database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping test database %s: %v", name, err)
		}
	})
	return "postgres://postgres@127.0.0.1:5432/" + name + "?sslmode=disable"
}

// TestSchema creates a fresh schema inside the database at dbURL (made by
// TestDatabase) and returns a URL whose connections use it. Schemas are much
// cheaper than databases, so suites with many subtests share one database.
func TestSchema(t testing.TB, dbURL string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connecting to test database: %v", err)
	}
	defer c.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	name := "s_" + hex.EncodeToString(b)
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("creating test schema: %v", err)
	}
	return dbURL + "&search_path=" + name
}
