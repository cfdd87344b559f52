package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"photoflow"
	"photoflow/metrics"
	"photoflow/pipeline"

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

// sampleImports feeds the bulk-import gauges: every interval it finds the running BucketSync
// runs and asks each for its progress. Reading through the query keeps workflow code free
// of metrics.
func sampleImports(ctx context.Context, p *pipeline.Pipeline, m *metrics.Metrics, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		resp, err := p.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: p.Namespace, PageSize: 100,
			Query: fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", photoflow.BucketSyncWorkflow)})
		if err != nil {
			if ctx.Err() == nil {
				log.Debug("import metrics: list", "error", err)
			}
			continue
		}
		for _, e := range resp.GetExecutions() {
			id := strings.TrimPrefix(e.GetExecution().GetWorkflowId(), photoflow.BucketSyncWorkflowID(""))
			prog, err := p.ImportProgress(ctx, id)
			if err != nil {
				continue
			}
			m.ImportProgress(id, int64(prog.Listed), int64(prog.Copied), int64(prog.Failed))
		}
	}
}
