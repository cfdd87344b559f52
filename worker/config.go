package main

import (
	"errors"
	"flag"
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/interceptor"

	"photoflow"
	"photoflow/activities"
	"photoflow/faults"
)

// Roles a worker process can take.
const (
	roleWorkflows  = "workflows"
	roleActivities = "activities"
	roleThumbnails = "thumbnails"
)

// config is everything the worker can be told. Flags win over PHOTOFLOW_* variables, which
// win over the defaults; TEMPORAL_* variables (envconfig) reach an external Temporal.
type config struct {
	DataDir        string
	HTTPAddr       string
	TemporalAddr   string // embedded frontend
	TemporalUIAddr string
	S3Addr         string // embedded S3
	Namespace      string
	Bucket         string

	// External services; when set, nothing of that kind is embedded.
	ExternalTemporal bool   // TEMPORAL_ADDRESS or TEMPORAL_PROFILE set
	S3Endpoint       string // PHOTOFLOW_S3_ENDPOINT; "aws" for AWS's own endpoints
	S3Region         string
	S3PathStyle      bool
	DatabasePath     string // SQLite file of the metadata store

	// Store is sqlite, postgres or dynamodb.
	Store             string
	PostgresDSN       string
	DynamoEndpoint    string
	DynamoRegion      string
	DynamoTablePrefix string
	CreateTables      bool
	// Vision is offline or rekognition.
	Vision              string
	RekognitionEndpoint string
	RekognitionS3Object bool

	// Roles says what this process runs: workflows, activities (the light ones on the
	// main task queue) and thumbnails (the CPU-heavy queue), so they can scale apart.
	Roles                []string
	ThumbnailConcurrency int
	// MetricsAddr serves Prometheus /metrics; empty for none.
	MetricsAddr string
	// ImportSampleEvery is how often running imports' progress is read into metrics.
	ImportSampleEvery time.Duration
	// EventsSecret enables POST /api/s3-events; empty disables it.
	EventsSecret string
	// WatchInterval is how often the bucket watcher lists Incoming/ (0: no watcher);
	// WatchSettle is how old an object must be before the watcher starts it.
	WatchInterval, WatchSettle time.Duration

	Settings              photoflow.Settings
	Limits                activities.Limits
	MaxConcurrentActivity int
	LogLevel              string
	// DevAccounts creates the documented development accounts (loopback only).
	DevAccounts bool
	// Faults are injected into the activities' object store, metadata store and vision
	// (chaos testing); the zero Spec injects nothing.
	Faults faults.Spec
	// ThrottleBackoff is the first step of the delay after a throttling error.
	ThrottleBackoff time.Duration

	// interceptors are added to every Temporal worker (tests observe activity attempts).
	interceptors []interceptor.WorkerInterceptor
}

func defaultConfig() config {
	return config{
		DataDir:               "data",
		HTTPAddr:              photoflow.DefaultHTTPAddr,
		TemporalAddr:          photoflow.DefaultTemporalAddr,
		TemporalUIAddr:        photoflow.DefaultTemporalUIAddr,
		S3Addr:                photoflow.DefaultS3Addr,
		Namespace:             photoflow.Namespace,
		Bucket:                photoflow.DefaultBucket,
		S3Region:              photoflow.DefaultS3Region,
		Settings:              photoflow.DefaultSettings(),
		Limits:                activities.DefaultLimits,
		MaxConcurrentActivity: 2 * runtime.GOMAXPROCS(0),
		LogLevel:              "info",
		Store:                 "sqlite",
		Vision:                "offline",
		Roles:                 []string{roleWorkflows, roleActivities, roleThumbnails},
		ThumbnailConcurrency:  runtime.GOMAXPROCS(0),
		MetricsAddr:           photoflow.DefaultMetricsAddr,
		ImportSampleEvery:     10 * time.Second,
		WatchInterval:         photoflow.DefaultWatchInterval,
		WatchSettle:           photoflow.DefaultSettleAge,
		ThrottleBackoff:       activities.DefaultThrottleBackoff,
	}
}

// parseConfig reads flags and the environment.
func parseConfig(args []string, getenv func(string) string) (config, error) {
	c := defaultConfig()
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	env := func(name, def string) string {
		if v := getenv("PHOTOFLOW_" + name); v != "" {
			return v
		}
		return def
	}
	s := &c.Settings
	// A PHOTOFLOW_* value that does not parse is an error, as the same value in a flag is;
	// falling back to the default would run with a setting nobody chose.
	var badEnv []error
	fs.StringVar(&c.DataDir, "data-dir", env("DATA_DIR", c.DataDir), "where the embedded Temporal, S3 and SQLite keep their files")
	fs.StringVar(&c.HTTPAddr, "http-addr", env("HTTP_ADDR", c.HTTPAddr), "HTTP API and web app address; empty for none (a worker-only process)")
	fs.StringVar(&c.TemporalAddr, "temporal-addr", env("TEMPORAL_ADDR", c.TemporalAddr), "embedded Temporal frontend (gRPC) address")
	fs.StringVar(&c.TemporalUIAddr, "temporal-ui-addr", env("TEMPORAL_UI_ADDR", c.TemporalUIAddr), "embedded Temporal Web UI address; empty for none")
	fs.StringVar(&c.S3Addr, "s3-addr", env("S3_ADDR", c.S3Addr), "embedded S3 server address")
	fs.StringVar(&c.Namespace, "namespace", env("NAMESPACE", c.Namespace), "Temporal namespace")
	fs.StringVar(&c.Bucket, "bucket", env("BUCKET", c.Bucket), "landing bucket (created if missing)")
	fs.StringVar(&c.S3Endpoint, "s3-endpoint", env("S3_ENDPOINT", ""), "external S3 endpoint URL (MinIO etc.), or \"aws\"; empty embeds one")
	fs.StringVar(&c.S3Region, "s3-region", env("S3_REGION", c.S3Region), "S3 region")
	pathStyle := fs.Bool("s3-path-style", envBool(env, &badEnv, "S3_PATH_STYLE", true), "path-style bucket addressing (MinIO needs it)")
	fs.StringVar(&c.DatabasePath, "database", env("DATABASE", ""), "SQLite file of the metadata store (default <data-dir>/photoflow.db)")
	fs.StringVar(&c.Store, "store", env("STORE", c.Store), "metadata store: sqlite, postgres or dynamodb")
	fs.StringVar(&c.PostgresDSN, "postgres-dsn", env("POSTGRES_DSN", ""), "PostgreSQL connection string, with --store postgres")
	fs.StringVar(&c.DynamoEndpoint, "dynamodb-endpoint", env("DYNAMODB_ENDPOINT", ""), "DynamoDB endpoint URL (dynalite, DynamoDB Local); empty for AWS")
	fs.StringVar(&c.DynamoRegion, "dynamodb-region", env("DYNAMODB_REGION", c.S3Region), "DynamoDB region")
	fs.StringVar(&c.DynamoTablePrefix, "dynamodb-table-prefix", env("DYNAMODB_TABLE_PREFIX", "photoflow-"), "prefix of the DynamoDB table names")
	fs.BoolVar(&c.CreateTables, "create-tables", envBool(env, &badEnv, "CREATE_TABLES", false), "create missing DynamoDB tables at start")
	fs.StringVar(&c.Vision, "vision", env("VISION", c.Vision), "labels and moderation: offline or rekognition")
	fs.StringVar(&c.RekognitionEndpoint, "rekognition-endpoint", env("REKOGNITION_ENDPOINT", ""), "Rekognition endpoint URL; empty for AWS")
	fs.BoolVar(&c.RekognitionS3Object, "rekognition-s3-object", envBool(env, &badEnv, "REKOGNITION_S3_OBJECT", false), "send Rekognition an S3 reference instead of bytes (the bucket must be in AWS S3, same region)")
	roles := fs.String("roles", env("ROLES", strings.Join(c.Roles, ",")), "what this process runs: workflows, activities, thumbnails (comma-separated); none for the HTTP API alone")
	fs.IntVar(&c.ThumbnailConcurrency, "thumbnail-concurrency", envInt(env, &badEnv, "THUMBNAIL_CONCURRENCY", c.ThumbnailConcurrency), "thumbnails made at once by this process")
	fs.Float64Var(&s.RejectThreshold, "reject-threshold", envFloat(env, &badEnv, "REJECT_THRESHOLD", s.RejectThreshold), "moderation score (0–100) at or above which an image is rejected")
	fs.Float64Var(&s.ReviewThreshold, "review-threshold", envFloat(env, &badEnv, "REVIEW_THRESHOLD", s.ReviewThreshold), "moderation score at or above which a human must decide")
	fs.DurationVar(&s.ReviewDeadline, "review-deadline", envDuration(env, &badEnv, "REVIEW_DEADLINE", s.ReviewDeadline), "how long a review waits before the default decision")
	fs.StringVar(&s.DefaultDecision, "default-decision", env("DEFAULT_DECISION", s.DefaultDecision), "decision applied at the deadline: approve or reject")
	fs.IntVar(&s.MaxLabels, "max-labels", envInt(env, &badEnv, "MAX_LABELS", s.MaxLabels), "labels kept per image")
	fs.Float64Var(&s.MinConfidence, "min-confidence", envFloat(env, &badEnv, "MIN_CONFIDENCE", s.MinConfidence), "lowest label confidence kept")
	fs.IntVar(&s.ThumbnailSize, "thumbnail-size", envInt(env, &badEnv, "THUMBNAIL_SIZE", s.ThumbnailSize), "thumbnail box, pixels")
	fs.Int64Var(&c.Limits.MaxBytes, "max-bytes", int64(envInt(env, &badEnv, "MAX_BYTES", int(c.Limits.MaxBytes))), "largest image accepted, bytes")
	fs.Int64Var(&c.Limits.MaxPixels, "max-pixels", int64(envInt(env, &badEnv, "MAX_PIXELS", int(c.Limits.MaxPixels))), "largest image accepted, width×height")
	fs.IntVar(&c.MaxConcurrentActivity, "max-concurrent-activities", envInt(env, &badEnv, "MAX_CONCURRENT_ACTIVITIES", c.MaxConcurrentActivity), "activities run at once by this worker")
	fs.BoolVar(&c.DevAccounts, "dev-accounts", env("DEV_ACCOUNTS", "") == "true", "create the development accounts demo/demo-password and reviewer/reviewer-password (loopback only)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", env("METRICS_ADDR", c.MetricsAddr), "Prometheus /metrics address; empty for none")
	fs.StringVar(&c.EventsSecret, "events-secret", env("EVENTS_SECRET", ""), "shared secret of POST /api/s3-events (S3, MinIO, SNS, EventBridge notifications); empty disables it")
	fs.DurationVar(&c.WatchInterval, "watch-interval", envDuration(env, &badEnv, "WATCH_INTERVAL", c.WatchInterval), "how often the bucket watcher lists Incoming/ for objects without a record; 0 for no watcher")
	fs.DurationVar(&c.WatchSettle, "watch-settle", envDuration(env, &badEnv, "WATCH_SETTLE", c.WatchSettle), "how old an object must be before the watcher starts it")
	faultSpec := fs.String("faults", env("FAULTS", ""), "inject faults into the activities' backends, e.g. throttle=0.1,5xx=0.1,hang=0.02,permanent=0,targets=objects+store+vision (chaos testing; never in production)")
	fs.DurationVar(&c.ThrottleBackoff, "throttle-backoff", envDuration(env, &badEnv, "THROTTLE_BACKOFF", c.ThrottleBackoff), "first delay after a throttling error; it doubles per attempt (jittered) up to 60 times this")
	fs.StringVar(&c.LogLevel, "log-level", env("LOG_LEVEL", c.LogLevel), "debug, info, warn or error")
	fs.Func("activity-timeout", "NAME=DURATION: an activity's StartToClose timeout, e.g. ExtractImageMetadata=1s (repeatable)", func(v string) error {
		return setPolicy(s, v, func(p *photoflow.ActivityPolicy, val string) error {
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 {
				return fmt.Errorf("bad duration %q", val)
			}
			p.StartToClose = d
			return nil
		})
	})
	fs.Func("activity-attempts", "NAME=N: an activity's maximum attempts, counting the first; 0 is unlimited (repeatable)", func(v string) error {
		return setPolicy(s, v, func(p *photoflow.ActivityPolicy, val string) error {
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return fmt.Errorf("bad attempt count %q", val)
			}
			p.MaximumAttempts = int32(n)
			return nil
		})
	})
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if err := errors.Join(badEnv...); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	c.S3PathStyle = *pathStyle
	var err error
	if c.Faults, err = faults.ParseSpec(*faultSpec); err != nil {
		return c, fmt.Errorf("--faults: %w", err)
	}
	c.ExternalTemporal = getenv("TEMPORAL_ADDRESS") != "" || getenv("TEMPORAL_PROFILE") != ""
	c.Roles = nil
	for _, r := range strings.Split(*roles, ",") {
		if r = strings.TrimSpace(r); r == "" || r == "none" {
			continue // a web-only process runs no Temporal worker
		}
		r = strings.TrimSpace(r)
		if r != roleWorkflows && r != roleActivities && r != roleThumbnails {
			return c, fmt.Errorf("--roles: unknown role %q (want workflows, activities, thumbnails)", r)
		}
		if !slices.Contains(c.Roles, r) {
			c.Roles = append(c.Roles, r)
		}
	}
	switch c.Store {
	case storeSQLite, storeDynamoDB:
	case storePostgres:
		if c.PostgresDSN == "" {
			return c, errors.New("--store postgres needs --postgres-dsn (or PHOTOFLOW_POSTGRES_DSN)")
		}
	default:
		return c, fmt.Errorf("--store: want sqlite, postgres or dynamodb, got %q", c.Store)
	}
	if c.Vision != visionOffline && c.Vision != visionRekognition {
		return c, fmt.Errorf("--vision: want offline or rekognition, got %q", c.Vision)
	}
	if c.RekognitionS3Object && c.S3Endpoint != "aws" {
		return c, errors.New("--rekognition-s3-object needs the bucket in AWS S3 (--s3-endpoint aws): Rekognition cannot read other stores")
	}
	if c.ThumbnailConcurrency <= 0 || c.MaxConcurrentActivity <= 0 {
		return c, errors.New("--thumbnail-concurrency and --max-concurrent-activities must be positive")
	}
	if c.EventsSecret != "" && len(c.EventsSecret) < 16 {
		return c, errors.New("--events-secret: use at least 16 characters")
	}
	if c.ThrottleBackoff <= 0 {
		return c, errors.New("--throttle-backoff must be positive")
	}
	if c.WatchInterval < 0 || c.WatchSettle < 0 {
		return c, errors.New("--watch-interval and --watch-settle must not be negative")
	}
	if c.DevAccounts {
		host, _, err := net.SplitHostPort(c.HTTPAddr)
		if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			return c, fmt.Errorf("--dev-accounts needs a loopback --http-addr, not %q: development passwords are public", c.HTTPAddr)
		}
	}
	if c.DatabasePath == "" {
		c.DatabasePath = filepath.Join(c.DataDir, "photoflow.db")
	}
	if s.DefaultDecision != photoflow.DecisionApprove && s.DefaultDecision != photoflow.DecisionReject {
		return c, fmt.Errorf("--default-decision must be approve or reject, got %q", s.DefaultDecision)
	}
	if s.ReviewThreshold < 0 || s.RejectThreshold > 100 || s.ReviewThreshold > s.RejectThreshold {
		return c, fmt.Errorf("need 0 ≤ --review-threshold (%g) ≤ --reject-threshold (%g) ≤ 100", s.ReviewThreshold, s.RejectThreshold)
	}
	if s.ReviewDeadline <= 0 || s.MaxLabels <= 0 || s.ThumbnailSize <= 0 || s.MinConfidence < 0 || s.MinConfidence > 100 {
		return c, errors.New("--review-deadline, --max-labels and --thumbnail-size must be positive, --min-confidence within 0–100")
	}
	return c, nil
}

func setPolicy(s *photoflow.Settings, v string, set func(*photoflow.ActivityPolicy, string) error) error {
	name, val, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want NAME=VALUE, got %q", v)
	}
	p, known := s.Activities[name]
	if !known {
		// Listed from the map, so the hint never drifts from what is accepted.
		return fmt.Errorf("unknown activity %q (one of %s)", name, strings.Join(slices.Sorted(maps.Keys(s.Activities)), ", "))
	}
	if err := set(&p, val); err != nil {
		return err
	}
	s.Activities[name] = p
	return nil
}

// envValue parses PHOTOFLOW_<name> when set, recording a value that does not parse.
func envValue[T any](env func(string, string) string, bad *[]error, name string, def T, parse func(string) (T, error)) T {
	v := env(name, "")
	if v == "" {
		return def
	}
	x, err := parse(v)
	if err != nil {
		*bad = append(*bad, fmt.Errorf("PHOTOFLOW_%s: bad value %q", name, v))
		return def
	}
	return x
}

func envFloat(env func(string, string) string, bad *[]error, name string, def float64) float64 {
	return envValue(env, bad, name, def, func(v string) (float64, error) { return strconv.ParseFloat(v, 64) })
}

func envInt(env func(string, string) string, bad *[]error, name string, def int) int {
	return envValue(env, bad, name, def, strconv.Atoi)
}

func envDuration(env func(string, string) string, bad *[]error, name string, def time.Duration) time.Duration {
	return envValue(env, bad, name, def, time.ParseDuration)
}

func envBool(env func(string, string) string, bad *[]error, name string, def bool) bool {
	return envValue(env, bad, name, def, strconv.ParseBool)
}
