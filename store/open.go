package store

import (
	"context"
	"fmt"

	"photoflow"
)

// Backend is a metadata store that keeps both image records and accounts: what every
// supported backend is, and what the worker and the starter's operations open.
type Backend interface {
	Store
	Accounts
}

// Backend kinds, the values of the --store flag.
const (
	KindSQLite   = "sqlite"
	KindPostgres = "postgres"
	KindDynamoDB = "dynamodb"
)

// OpenConfig selects and reaches a backend; it mirrors the worker's store flags, so the worker
// and the starter read the same settings the same way.
type OpenConfig struct {
	// Kind is KindSQLite, KindPostgres or KindDynamoDB.
	Kind              string
	SQLitePath        string
	PostgresDSN       string
	DynamoEndpoint    string
	DynamoRegion      string
	DynamoTablePrefix string
	// CreateTables creates missing DynamoDB tables (the other backends migrate themselves).
	CreateTables bool
}

// Open opens the backend cfg names. Its errors name the flag to fix (--database,
// --postgres-dsn, --dynamodb-endpoint, --create-tables, --store), because the person reading
// them is an operator at a command line.
func Open(ctx context.Context, cfg OpenConfig) (Backend, error) {
	switch cfg.Kind {
	case KindSQLite:
		s, err := OpenSQLite(cfg.SQLitePath)
		if err != nil {
			return nil, fmt.Errorf("--database %s: %w", cfg.SQLitePath, err)
		}
		return s, nil
	case KindPostgres:
		if cfg.PostgresDSN == "" {
			return nil, fmt.Errorf("--store %s needs --postgres-dsn (or PHOTOFLOW_POSTGRES_DSN)", KindPostgres)
		}
		s, err := OpenPostgres(ctx, cfg.PostgresDSN)
		if err != nil {
			return nil, fmt.Errorf("--postgres-dsn: %w", err)
		}
		return s, nil
	case KindDynamoDB:
		s, err := OpenDynamo(ctx, DynamoConfig{Endpoint: cfg.DynamoEndpoint, Region: cfg.DynamoRegion, TablePrefix: cfg.DynamoTablePrefix})
		if err != nil {
			return nil, fmt.Errorf("--dynamodb-endpoint/--dynamodb-region: %w", err)
		}
		if cfg.CreateTables {
			if err := s.CreateTables(ctx); err != nil {
				_ = s.Close()
				return nil, fmt.Errorf("--create-tables: %w", err)
			}
		}
		return s, nil
	}
	return nil, fmt.Errorf("--store %q: want %s, %s or %s", cfg.Kind, KindSQLite, KindPostgres, KindDynamoDB)
}

// ListAll pages through every record matching f (f.Cursor is ignored) and calls fn for each,
// stopping at fn's first error. It is for operations that must see the whole table, such as
// reports and gauges; request paths page instead.
func ListAll(ctx context.Context, s Store, f Filter, fn func(photoflow.ImageRecord) error) error {
	f.Cursor = ""
	if f.Limit <= 0 {
		f.Limit = MaxLimit
	}
	for {
		page, err := s.List(ctx, f)
		if err != nil {
			return err
		}
		for _, rec := range page.Records {
			if err := fn(rec); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		f.Cursor = page.Next
	}
}

// Count counts the records matching f, e.g. Filter{Status: photoflow.StatusPendingReview}
// for the pending-review gauge.
func Count(ctx context.Context, s Store, f Filter) (int, error) {
	n := 0
	err := ListAll(ctx, s, f, func(photoflow.ImageRecord) error { n++; return nil })
	return n, err
}
