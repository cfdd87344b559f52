package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"photoflow"
	"photoflow/activities"
	"photoflow/devserver"
	"photoflow/faults"
	"photoflow/metrics"
	"photoflow/objstore"
	"photoflow/pipeline"
	"photoflow/store"
	"photoflow/web"
	"photoflow/workflows"
)

// stack is one running photoflow: what it embeds, what it dials, and the worker.
type stack struct {
	cfg         config
	log         *slog.Logger
	temporal    *devserver.Server // nil when external
	s3          *objstore.Embedded
	objects     *objstore.Store
	store       store.Backend
	metrics     *metrics.Metrics
	metricsHTTP *http.Server
	stopGauge   context.CancelFunc
	MetricsAddr string
	client      client.Client
	workers     []worker.Worker
	http        *http.Server
	httpLn      net.Listener
	pipeline    *pipeline.Pipeline
	// faults is the fault injector when --faults is set, for its counts.
	faults *faults.Injector
	// acts are the activities the workers run (benchmarks call them directly).
	acts *activities.Activities
	// Addresses, for the banner and tests.
	TemporalAddr, TemporalUIAddr, S3Endpoint, HTTPAddr string
}

// start brings every part up in dependency order; on error it stops what it started.
func start(ctx context.Context, cfg config, log *slog.Logger) (st *stack, err error) {
	st = &stack{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			st.stop()
			st = nil
		}
	}()

	// Claim the HTTP port first and check the embedded ones, so a taken port is reported
	// by its flag before minutes of start-up.
	if cfg.HTTPAddr != "" {
		if st.httpLn, err = listen("--http-addr", cfg.HTTPAddr); err != nil {
			return st, err
		}
		st.HTTPAddr = st.httpLn.Addr().String()
	}
	if !cfg.ExternalTemporal {
		if err := portFree("--temporal-addr", cfg.TemporalAddr); err != nil {
			return st, err
		}
		if cfg.TemporalUIAddr != "" {
			if err := portFree("--temporal-ui-addr", cfg.TemporalUIAddr); err != nil {
				return st, err
			}
		}
	}

	// Metrics: Temporal SDK metrics plus photoflow's own, on a listener of their own so
	// worker-only processes (no HTTP API) are scraped too.
	if st.metrics, err = metrics.New(); err != nil {
		return st, fmt.Errorf("metrics: %w", err)
	}
	if cfg.MetricsAddr != "" {
		ln, err := listen("--metrics-addr", cfg.MetricsAddr)
		if err != nil {
			return st, err
		}
		st.MetricsAddr = ln.Addr().String()
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", st.metrics.Handler())
		// The goroutine keeps its own server: st is nil once a failed start has cleaned up.
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		st.metricsHTTP = srv
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server stopped", "error", err)
			}
		}()
	}

	// Object store.
	s3cfg := objstore.Config{Endpoint: cfg.S3Endpoint, Region: cfg.S3Region, PathStyle: cfg.S3PathStyle}
	switch cfg.S3Endpoint {
	case "":
		st.s3, err = objstore.StartEmbedded(filepath.Join(cfg.DataDir, "s3.bolt"), cfg.S3Addr)
		if err != nil {
			return st, portError("--s3-addr", cfg.S3Addr, err)
		}
		s3cfg = objstore.Config{Endpoint: st.s3.Endpoint(), Region: photoflow.DefaultS3Region,
			AccessKey: photoflow.DefaultS3AccessKey, SecretKey: photoflow.DefaultS3SecretKey, PathStyle: true}
	case "aws":
		s3cfg.Endpoint, s3cfg.PathStyle = "", false
	}
	st.S3Endpoint = cmp.Or(s3cfg.Endpoint, "AWS S3 ("+cfg.S3Region+")")
	if st.objects, err = objstore.New(ctx, s3cfg); err != nil {
		return st, err
	}
	if err := st.objects.EnsureBucket(ctx, cfg.Bucket); err != nil {
		return st, err
	}

	// Metadata store and vision.
	if st.store, err = openStore(ctx, cfg); err != nil {
		return st, err
	}
	analyzer, err := openVision(ctx, cfg)
	if err != nil {
		return st, err
	}
	// Faults go only into what activities call: the pipeline must survive them, and the
	// HTTP API and the health check stay truthful.
	actObjects, actStore := st.objects, store.Store(st.store)
	if cfg.Faults.Enabled() {
		st.faults = faults.New(cfg.Faults)
		log.Warn("injecting faults into activities' backends", "faults", cfg.Faults.String())
		fcfg := s3cfg
		fcfg.WrapTransport = st.faults.Transport
		if actObjects, err = objstore.New(ctx, fcfg); err != nil {
			return st, err
		}
		actStore, analyzer = st.faults.Store(st.store), st.faults.Analyzer(analyzer)
	}

	// Temporal.
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return st, fmt.Errorf("temporal client config: %w", err)
	}
	if !cfg.ExternalTemporal {
		st.temporal, err = devserver.Start(devserver.Options{
			DatabaseFile: filepath.Join(cfg.DataDir, "temporal.db"),
			FrontendAddr: cfg.TemporalAddr,
			UIAddr:       cfg.TemporalUIAddr,
			Namespace:    cfg.Namespace,
			LogFile:      filepath.Join(cfg.DataDir, "temporal.log"),
		})
		if err != nil {
			return st, fmt.Errorf("embedded temporal (--temporal-addr %s): %w", cfg.TemporalAddr, err)
		}
		opts.HostPort = st.temporal.FrontendAddr()
		opts.Namespace = cfg.Namespace
		st.TemporalUIAddr = st.temporal.UIAddr()
	}
	if opts.Namespace == "" {
		opts.Namespace = cfg.Namespace
	}
	st.TemporalAddr = cmp.Or(opts.HostPort, client.DefaultHostPort)
	opts.Logger = sdklog.NewStructuredLogger(log.With("component", "temporal-sdk"))
	opts.MetricsHandler = st.metrics.SDKHandler()
	dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if st.client, err = client.DialContext(dialCtx, opts); err != nil {
		return st, fmt.Errorf("dial temporal at %s: %w", st.TemporalAddr, err)
	}
	if err := registerSearchAttributes(ctx, st.client, opts.Namespace); err != nil {
		if !cfg.ExternalTemporal {
			return st, err
		}
		log.Warn("search attributes not registered; create them with `temporal operator search-attribute create`", "error", err)
	}

	// Workers, by role: the main task queue (workflows and light activities) and the
	// thumbnail queue (CPU-heavy), each with its own concurrency.
	st.pipeline = &pipeline.Pipeline{Temporal: st.client, Objects: st.objects, Bucket: cfg.Bucket, Namespace: opts.Namespace}
	acts := &activities.Activities{Objects: actObjects, Store: actStore, Accounts: st.store,
		Starter:  pipeline.Starter{P: st.pipeline},
		Temporal: st.client, Vision: analyzer, Settings: cfg.Settings, Limits: cfg.Limits}
	st.acts = acts
	has := func(r string) bool { return slices.Contains(cfg.Roles, r) }
	actCtx := activities.WithThrottleBackoff(context.Background(), cfg.ThrottleBackoff)
	if has(roleWorkflows) || has(roleActivities) {
		w := worker.New(st.client, photoflow.TaskQueue, worker.Options{
			MaxConcurrentActivityExecutionSize: cfg.MaxConcurrentActivity,
			// Let activities in flight finish on Ctrl-C rather than wait out their timeouts.
			WorkerStopTimeout:         10 * time.Second,
			BackgroundActivityContext: actCtx,
			DisableWorkflowWorker:     !has(roleWorkflows),
			LocalActivityWorkerOnly:   !has(roleActivities),
			Interceptors:              append([]interceptor.WorkerInterceptor{st.metrics.Interceptor()}, cfg.interceptors...),
		})
		w.RegisterWorkflowWithOptions(workflows.ImageProcessing, workflow.RegisterOptions{Name: photoflow.ImageProcessingWorkflow})
		w.RegisterWorkflowWithOptions(workflows.DeleteAlbum, workflow.RegisterOptions{Name: photoflow.DeleteAlbumWorkflow})
		w.RegisterWorkflowWithOptions(workflows.BucketWatcher, workflow.RegisterOptions{Name: photoflow.BucketWatcherWorkflow})
		w.RegisterWorkflowWithOptions(workflows.BucketSync, workflow.RegisterOptions{Name: photoflow.BucketSyncWorkflow})
		w.RegisterActivity(acts)
		st.workers = append(st.workers, w)
	}
	if has(roleThumbnails) {
		w := worker.New(st.client, photoflow.ThumbnailTaskQueue, worker.Options{
			MaxConcurrentActivityExecutionSize: cfg.ThumbnailConcurrency,
			WorkerStopTimeout:                  10 * time.Second,
			BackgroundActivityContext:          actCtx,
			DisableWorkflowWorker:              true,
			Interceptors:                       append([]interceptor.WorkerInterceptor{st.metrics.Interceptor()}, cfg.interceptors...),
		})
		w.RegisterActivityWithOptions(acts.GenerateThumbnail, activity.RegisterOptions{Name: photoflow.GenerateThumbnailActivity})
		st.workers = append(st.workers, w)
	}
	for _, w := range st.workers {
		if err := w.Start(); err != nil {
			return st, fmt.Errorf("start worker: %w", err)
		}
	}
	// The bucket watcher heals missed events: one run per bucket, joined if it exists.
	if cfg.WatchInterval > 0 && has(roleWorkflows) {
		_, err := st.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: photoflow.BucketWatcherWorkflowID(cfg.Bucket), TaskQueue: photoflow.TaskQueue,
			WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		}, photoflow.BucketWatcherWorkflow, photoflow.WatcherInput{Bucket: cfg.Bucket,
			Interval: cfg.WatchInterval, SettleAge: cfg.WatchSettle})
		if err != nil {
			return st, fmt.Errorf("start bucket watcher: %w", err)
		}
	}

	// The pending-review gauge reads the store once a minute.
	gctx, stopGauge := context.WithCancel(context.Background())
	st.stopGauge = stopGauge
	st.metrics.StartPendingReviewGauge(gctx, time.Minute, func(ctx context.Context) (int, error) {
		return store.Count(ctx, st.store, store.Filter{Status: photoflow.StatusPendingReview})
	})
	go sampleImports(gctx, st.pipeline, st.metrics, cfg.ImportSampleEvery, log)

	// HTTP API.
	if cfg.DevAccounts {
		if err := createDevAccounts(ctx, st.store, log); err != nil {
			return st, err
		}
	}
	api := &web.API{Pipeline: st.pipeline, Store: st.store, Accounts: st.store, Ready: st.ready,
		MaxUpload: cfg.Limits.MaxBytes, Log: log, TriggerError: st.metrics.TriggerError}
	if st.TemporalUIAddr != "" {
		api.TemporalUI = "http://" + st.TemporalUIAddr
	}
	if st.httpLn == nil {
		return st, nil
	}
	mux := http.NewServeMux()
	mux.Handle("POST /api/s3-events", &web.EventsHandler{Pipeline: st.pipeline, Secret: cfg.EventsSecret,
		Log: log.With("component", "s3-events"),
		Metrics: func(_, _, _, failed int) {
			for range failed {
				st.metrics.TriggerError(metrics.SourceEvent)
			}
		}})
	mux.Handle("/", api.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	st.http = srv
	ln := st.httpLn
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "error", err)
		}
	}()
	return st, nil
}

// ready is the health check: Temporal answers, the store answers, the bucket exists.
func (st *stack) ready(ctx context.Context) error {
	if _, err := st.client.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return fmt.Errorf("temporal: %w", err)
	}
	if err := st.store.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if _, err := st.objects.Head(ctx, st.cfg.Bucket, "healthz-probe"); err != nil && !errors.Is(err, objstore.ErrNotFound) {
		return fmt.Errorf("bucket %s: %w", st.cfg.Bucket, err)
	}
	return nil
}

// stop shuts down in reverse order: stop taking requests, let activities finish, then the
// backends.
func (st *stack) stop() {
	if st.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = st.http.Shutdown(ctx)
		cancel()
	} else if st.httpLn != nil {
		_ = st.httpLn.Close()
	}
	for _, w := range st.workers {
		w.Stop()
	}
	if st.stopGauge != nil {
		st.stopGauge()
	}
	if st.metricsHTTP != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = st.metricsHTTP.Shutdown(ctx)
		cancel()
	}
	if st.metrics != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = st.metrics.Shutdown(ctx)
		cancel()
	}
	if st.client != nil {
		st.client.Close()
	}
	if st.temporal != nil {
		st.temporal.Stop()
	}
	if st.store != nil {
		_ = st.store.Close()
	}
	if st.s3 != nil {
		_ = st.s3.Close()
	}
}

// registerSearchAttributes adds the custom search attributes the namespace lacks. A new
// SQLite file, an old one and an external cluster all take the same path.
func registerSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for _, key := range photoflow.SearchAttributeKeys() {
		if _, ok := resp.GetCustomAttributes()[key.GetName()]; !ok {
			missing[key.GetName()] = enumspb.IndexedValueType(key.GetValueType())
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing})
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		return fmt.Errorf("add search attributes: %w", err)
	}
	// Visibility picks new attributes up through the namespace cache; wait until a query
	// that names them is accepted, or the first run's start would be refused.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: namespace, PageSize: 1,
			Query: photoflow.StatusSearchAttribute.GetName() + " = 'x' AND " + photoflow.ImageIDSearchAttribute.GetName() + " = 'x'"})
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("search attributes not usable yet: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func listen(flagName, addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, portError(flagName, addr, err)
	}
	return l, nil
}

func portFree(flagName, addr string) error {
	l, err := listen(flagName, addr)
	if err != nil {
		return err
	}
	return l.Close()
}

func portError(flagName, addr string, err error) error {
	if strings.Contains(err.Error(), "address already in use") {
		return fmt.Errorf("%s %s: address already in use (is another worker running? choose another with %s)", flagName, addr, flagName)
	}
	return fmt.Errorf("%s %s: %w", flagName, addr, err)
}

// devAccounts are the documented development accounts: name, password, role.
var devAccounts = [][3]string{{"demo", "demo-password", store.RoleUser}, {"reviewer", "reviewer-password", store.RoleReviewer}}

// createDevAccounts adds the development accounts that are missing.
func createDevAccounts(ctx context.Context, accounts store.Accounts, log *slog.Logger) error {
	for _, acc := range devAccounts {
		if _, err := accounts.GetUser(ctx, acc[0]); err == nil {
			continue
		}
		hash, err := web.HashPassword(acc[1])
		if err != nil {
			return err
		}
		err = accounts.CreateUser(ctx, store.User{Name: acc[0], Role: acc[2], PasswordHash: hash, CreatedAt: time.Now()}, false)
		if err != nil && !errors.Is(err, store.ErrExists) {
			return fmt.Errorf("dev account %s: %w", acc[0], err)
		}
		log.Warn("development account created; do not use --dev-accounts where others can reach the app", "user", acc[0], "role", acc[2])
	}
	return nil
}
