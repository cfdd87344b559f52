package main

import (
	"context"
	"errors"
	"fmt"

	"photoflow/store"
	"photoflow/vision"
)

// metadataStore is a backend that keeps both image records and accounts.
type metadataStore interface {
	store.Store
	store.Accounts
}

// Metadata store backends.
const (
	storeSQLite   = "sqlite"
	storePostgres = "postgres"
	storeDynamoDB = "dynamodb"
)

// Vision backends.
const (
	visionOffline     = "offline"
	visionRekognition = "rekognition"
)

// openStore opens the configured metadata store; errors name the setting to fix.
func openStore(ctx context.Context, cfg config) (metadataStore, error) {
	switch cfg.Store {
	case storeSQLite:
		s, err := store.OpenSQLite(cfg.DatabasePath)
		if err != nil {
			return nil, fmt.Errorf("--database %s: %w", cfg.DatabasePath, err)
		}
		return s, nil
	case storePostgres:
		s, err := store.OpenPostgres(ctx, cfg.PostgresDSN)
		if err != nil {
			return nil, fmt.Errorf("--postgres-dsn: %w", err)
		}
		return s, nil
	case storeDynamoDB:
		s, err := store.OpenDynamo(ctx, store.DynamoConfig{Endpoint: cfg.DynamoEndpoint, Region: cfg.DynamoRegion, TablePrefix: cfg.DynamoTablePrefix})
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
	return nil, fmt.Errorf("--store %q: want %s, %s or %s", cfg.Store, storeSQLite, storePostgres, storeDynamoDB)
}

// openVision builds the configured analyzer.
func openVision(ctx context.Context, cfg config) (vision.Analyzer, error) {
	switch cfg.Vision {
	case visionOffline:
		return vision.NewOffline(), nil
	case visionRekognition:
		r, err := vision.NewRekognition(ctx, vision.RekognitionConfig{Endpoint: cfg.RekognitionEndpoint,
			Region: cfg.S3Region, UseS3Object: cfg.RekognitionS3Object})
		if err != nil {
			return nil, fmt.Errorf("--vision rekognition: %w", err)
		}
		return r, nil
	}
	return nil, errors.New("--vision: want offline or rekognition, got " + cfg.Vision)
}
