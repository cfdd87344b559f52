// Command worker runs photoflow. With no configuration it embeds everything: a Temporal server
// (SQLite file and Web UI), an S3-compatible store, the SQLite metadata store, the HTTP API and
// the worker itself. Given TEMPORAL_ADDRESS and --s3-endpoint it embeds nothing of those.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"photoflow"
)

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(2)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		fmt.Fprintln(os.Stderr, "worker: --log-level:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := start(ctx, cfg, log)
	if err != nil {
		log.Error("photoflow did not start", "error", err)
		os.Exit(1)
	}
	temporalKind, s3Kind := "embedded", "embedded"
	if cfg.ExternalTemporal {
		temporalKind = "external"
	}
	if cfg.S3Endpoint != "" {
		s3Kind = "external"
	}
	fmt.Printf("photoflow is running (Ctrl-C stops it)\n")
	if st.HTTPAddr != "" {
		fmt.Printf("  HTTP API        http://%s\n", st.HTTPAddr)
	}
	fmt.Printf("  Temporal        %s (%s, namespace %s, task queue %s)\n", st.TemporalAddr, temporalKind, cfg.Namespace, photoflow.TaskQueue)
	if st.TemporalUIAddr != "" {
		fmt.Printf("  Temporal Web UI http://%s\n", st.TemporalUIAddr)
	}
	fmt.Printf("  S3              %s (%s, bucket %s)\n", st.S3Endpoint, s3Kind, cfg.Bucket)
	switch cfg.Store {
	case storeSQLite:
		fmt.Printf("  metadata store  %s (SQLite)\n", cfg.DatabasePath)
	case storePostgres:
		fmt.Printf("  metadata store  PostgreSQL\n")
	case storeDynamoDB:
		fmt.Printf("  metadata store  DynamoDB %s (tables %sImageMetadata, %sAlbumMetadata, …)\n",
			cmp.Or(cfg.DynamoEndpoint, cfg.DynamoRegion), cfg.DynamoTablePrefix, cfg.DynamoTablePrefix)
	}
	fmt.Printf("  vision          %s\n", cfg.Vision)
	if st.MetricsAddr != "" {
		fmt.Printf("  metrics         http://%s/metrics\n", st.MetricsAddr)
	}
	fmt.Printf("  roles           %s (thumbnails on task queue %s)\n", strings.Join(cfg.Roles, ", "), photoflow.ThumbnailTaskQueue)
	if !cfg.ExternalTemporal || cfg.S3Endpoint == "" {
		fmt.Printf("  data dir        %s\n", cfg.DataDir)
	}
	<-ctx.Done()
	log.Info("stopping")
	st.stop()
	log.Info("stopped")
}
