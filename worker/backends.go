package main

import (
	"context"
	"errors"
	"fmt"

	"photoflow/store"
	"photoflow/vision"
)

// Metadata store backends, the values of --store.
const (
	storeSQLite   = store.KindSQLite
	storePostgres = store.KindPostgres
	storeDynamoDB = store.KindDynamoDB
)

// Vision backends.
const (
	visionOffline     = "offline"
	visionRekognition = "rekognition"
)

// openStore opens the configured metadata store; errors name the setting to fix.
func openStore(ctx context.Context, cfg config) (store.Backend, error) {
	return store.Open(ctx, store.OpenConfig{Kind: cfg.Store, SQLitePath: cfg.DatabasePath,
		PostgresDSN: cfg.PostgresDSN, DynamoEndpoint: cfg.DynamoEndpoint, DynamoRegion: cfg.DynamoRegion,
		DynamoTablePrefix: cfg.DynamoTablePrefix, CreateTables: cfg.CreateTables})
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
