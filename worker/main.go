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
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"photoflow"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command: it starts photoflow as args and the environment say, prints
// where everything is, and stops it when ctx ends. It returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "worker:", err)
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		fmt.Fprintln(stderr, "worker: --log-level:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)

	st, err := start(ctx, cfg, log)
	if err != nil {
		log.Error("photoflow did not start", "error", err)
		return 1
	}
	temporalKind, s3Kind := "embedded", "embedded"
	if cfg.ExternalTemporal {
		temporalKind = "external"
	}
	if cfg.S3Endpoint != "" {
		s3Kind = "external"
	}
	p := func(format string, args ...any) { fmt.Fprintf(stdout, format, args...) }
	p("photoflow is running (Ctrl-C stops it)\n")
	if st.HTTPAddr != "" {
		p("  HTTP API        http://%s\n", st.HTTPAddr)
	}
	p("  Temporal        %s (%s, namespace %s, task queue %s)\n", st.TemporalAddr, temporalKind, cfg.Namespace, photoflow.TaskQueue)
	if st.TemporalUIAddr != "" {
		p("  Temporal Web UI http://%s\n", st.TemporalUIAddr)
	}
	p("  S3              %s (%s, bucket %s)\n", st.S3Endpoint, s3Kind, cfg.Bucket)
	switch cfg.Store {
	case storeSQLite:
		p("  metadata store  %s (SQLite)\n", cfg.DatabasePath)
	case storePostgres:
		p("  metadata store  PostgreSQL\n")
	case storeDynamoDB:
		p("  metadata store  DynamoDB %s (tables %sImageMetadata, %sAlbumMetadata, …)\n",
			cmp.Or(cfg.DynamoEndpoint, cfg.DynamoRegion), cfg.DynamoTablePrefix, cfg.DynamoTablePrefix)
	}
	p("  vision          %s\n", cfg.Vision)
	if st.MetricsAddr != "" {
		p("  metrics         http://%s/metrics\n", st.MetricsAddr)
	}
	p("  roles           %s (thumbnails on task queue %s)\n", strings.Join(cfg.Roles, ", "), photoflow.ThumbnailTaskQueue)
	if cfg.Faults.Enabled() {
		p("  FAULTS          %s (injected into activities' backends)\n", cfg.Faults)
	}
	if !cfg.ExternalTemporal || cfg.S3Endpoint == "" {
		p("  data dir        %s\n", cfg.DataDir)
	}
	<-ctx.Done()
	log.Info("stopping")
	st.stop()
	log.Info("stopped")
	return 0
}
