package main

import (
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"photoflow"
	"photoflow/activities"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := parseConfig(nil, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	// The README's Configuration section documents these.
	want := config{
		DataDir:               "data",
		HTTPAddr:              "127.0.0.1:8080",
		TemporalAddr:          "127.0.0.1:7233",
		TemporalUIAddr:        "127.0.0.1:8233",
		S3Addr:                "127.0.0.1:9000",
		Namespace:             "default",
		Bucket:                "photoflow",
		S3Region:              "us-east-1",
		S3PathStyle:           true,
		DatabasePath:          filepath.Join("data", "photoflow.db"),
		Settings:              photoflow.DefaultSettings(),
		Limits:                activities.Limits{MaxBytes: 100 << 20, MaxPixels: 100_000_000},
		MaxConcurrentActivity: 2 * runtime.GOMAXPROCS(0),
		LogLevel:              "info",
		Store:                 "sqlite",
		DynamoRegion:          "us-east-1",
		DynamoTablePrefix:     "photoflow-",
		Vision:                "offline",
		Roles:                 []string{"workflows", "activities", "thumbnails"},
		ThumbnailConcurrency:  runtime.GOMAXPROCS(0),
		MetricsAddr:           "127.0.0.1:9090",
		ImportSampleEvery:     10 * time.Second,
		WatchInterval:         5 * time.Minute,
		WatchSettle:           2 * time.Minute,
		ThrottleBackoff:       time.Second,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults\n got %+v\nwant %+v", c, want)
	}
	s := c.Settings
	if s.RejectThreshold != 90 || s.ReviewThreshold != 60 || s.ReviewDeadline != 72*time.Hour ||
		s.DefaultDecision != photoflow.DecisionApprove || s.MaxLabels != 10 || s.MinConfidence != 60 || s.ThumbnailSize != 250 {
		t.Errorf("settings differ from the documented workshop values: %+v", s)
	}
}

func TestParseConfigPrecedence(t *testing.T) {
	env := envMap(map[string]string{
		"PHOTOFLOW_HTTP_ADDR":        "127.0.0.1:1111",
		"PHOTOFLOW_BUCKET":           "from-env",
		"PHOTOFLOW_REJECT_THRESHOLD": "95",
		"PHOTOFLOW_REVIEW_DEADLINE":  "1h",
		"PHOTOFLOW_MAX_LABELS":       "7",
		"PHOTOFLOW_S3_PATH_STYLE":    "false",
		"PHOTOFLOW_DATA_DIR":         "envdata",
	})
	c, err := parseConfig([]string{"--http-addr", "127.0.0.1:2222", "--max-labels=3", "--data-dir", "flagdata"}, env)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"flag over env", c.HTTPAddr, "127.0.0.1:2222"},
		{"flag over env (int)", c.Settings.MaxLabels, 3},
		{"flag over env (data dir)", c.DataDir, "flagdata"},
		{"env over default", c.Bucket, "from-env"},
		{"env over default (float)", c.Settings.RejectThreshold, 95.0},
		{"env over default (duration)", c.Settings.ReviewDeadline, time.Hour},
		{"env over default (bool)", c.S3PathStyle, false},
		{"default", c.Namespace, photoflow.Namespace},
		{"database follows the data dir", c.DatabasePath, filepath.Join("flagdata", "photoflow.db")},
		{"no TEMPORAL_* set", c.ExternalTemporal, false},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}

	c, err = parseConfig([]string{"--database", "elsewhere.db"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabasePath != "elsewhere.db" || c.DataDir != "envdata" {
		t.Errorf("database %q, data dir %q", c.DatabasePath, c.DataDir)
	}
}

func TestParseConfigExternalTemporal(t *testing.T) {
	for _, k := range []string{"TEMPORAL_ADDRESS", "TEMPORAL_PROFILE"} {
		c, err := parseConfig(nil, envMap(map[string]string{k: "x"}))
		if err != nil {
			t.Fatal(err)
		}
		if !c.ExternalTemporal {
			t.Errorf("%s set: ExternalTemporal false", k)
		}
	}
}

func TestParseConfigActivityPolicies(t *testing.T) {
	c, err := parseConfig([]string{
		"--activity-timeout", "ExtractImageMetadata=1s",
		"--activity-attempts", "GenerateThumbnail=3",
		"--activity-timeout=GenerateThumbnail=50ms",
		"--activity-attempts", "RecordFailure=0",
	}, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	def := photoflow.DefaultActivityPolicies()
	want := photoflow.DefaultActivityPolicies()
	p := want[photoflow.ExtractImageMetadataActivity]
	p.StartToClose = time.Second
	want[photoflow.ExtractImageMetadataActivity] = p
	p = want[photoflow.GenerateThumbnailActivity]
	p.MaximumAttempts, p.StartToClose = 3, 50*time.Millisecond
	want[photoflow.GenerateThumbnailActivity] = p
	p = want[photoflow.RecordFailureActivity]
	p.MaximumAttempts = 0
	want[photoflow.RecordFailureActivity] = p
	if !reflect.DeepEqual(c.Settings.Activities, want) {
		t.Errorf("activities\n got %+v\nwant %+v", c.Settings.Activities, want)
	}
	// Only the named field changes: the rest of the retry block stays as it was.
	if got := c.Settings.Activities[photoflow.GenerateThumbnailActivity]; got.Heartbeat != def[photoflow.GenerateThumbnailActivity].Heartbeat {
		t.Errorf("heartbeat changed to %v", got.Heartbeat)
	}
}

// DefaultSettings hands out a fresh map each time; a parse that wrote into a shared one
// would leak one worker's flags into the next configuration.
func TestParseConfigDoesNotShareActivities(t *testing.T) {
	a, err := parseConfig([]string{"--activity-timeout", "DetectLabels=2s", "--activity-attempts", "DetectLabels=9"}, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseConfig([]string{"--activity-timeout", "DetectLabels=5s"}, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	def := photoflow.DefaultActivityPolicies()[photoflow.DetectLabelsActivity]
	if got := a.Settings.Activities[photoflow.DetectLabelsActivity]; got.StartToClose != 2*time.Second || got.MaximumAttempts != 9 {
		t.Errorf("first config was changed by the second parse: %+v", got)
	}
	if got := b.Settings.Activities[photoflow.DetectLabelsActivity]; got.StartToClose != 5*time.Second || got.MaximumAttempts != def.MaximumAttempts {
		t.Errorf("second config inherited the first's flags: %+v", got)
	}
	c, err := parseConfig(nil, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Settings.Activities, photoflow.DefaultActivityPolicies()) {
		t.Errorf("defaults changed after earlier parses: %+v", c.Settings.Activities)
	}
	if !reflect.DeepEqual(photoflow.DefaultSettings().Activities, photoflow.DefaultActivityPolicies()) {
		t.Error("DefaultSettings changed after parses")
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		mentions []string
	}{
		{[]string{"--activity-timeout", "Thumbnailer=1s"}, []string{`unknown activity "Thumbnailer"`, "LoadSettings", "GenerateThumbnail"}},
		{[]string{"--activity-attempts", "extractimagemetadata=3"}, []string{"extractimagemetadata", "ExtractImageMetadata"}},
		{[]string{"--activity-timeout", "ExtractImageMetadata=1"}, []string{`bad duration "1"`}},
		{[]string{"--activity-timeout", "ExtractImageMetadata=-1s"}, []string{`bad duration "-1s"`}},
		{[]string{"--activity-timeout", "ExtractImageMetadata=0s"}, []string{`bad duration "0s"`}},
		{[]string{"--activity-timeout", "ExtractImageMetadata"}, []string{"NAME=VALUE", `"ExtractImageMetadata"`}},
		{[]string{"--activity-attempts", "GenerateThumbnail:3"}, []string{"NAME=VALUE"}},
		{[]string{"--activity-attempts", "GenerateThumbnail=three"}, []string{`bad attempt count "three"`}},
		{[]string{"--activity-attempts", "GenerateThumbnail=-1"}, []string{`bad attempt count "-1"`}},
		{[]string{"--default-decision", "maybe"}, []string{"--default-decision", `"maybe"`}},
		{[]string{"--review-threshold", "95"}, []string{"--review-threshold (95)", "--reject-threshold (90)"}},
		{[]string{"--reject-threshold", "101"}, []string{"--reject-threshold (101)"}},
		{[]string{"--review-threshold", "-1"}, []string{"--review-threshold (-1)"}},
		{[]string{"--review-deadline", "0s"}, []string{"--review-deadline"}},
		{[]string{"--max-labels", "0"}, []string{"--max-labels"}},
		{[]string{"--min-confidence", "101"}, []string{"--min-confidence"}},
		{[]string{"--faults", "slow=0.1"}, []string{"--faults", `unknown kind "slow"`}},
		{[]string{"--faults", "throttle=0.7,5xx=0.7"}, []string{"--faults", "more than 1"}},
		{[]string{"--throttle-backoff", "0s"}, []string{"--throttle-backoff"}},
		{[]string{"--no-such-flag"}, []string{"no-such-flag"}},
		{[]string{"stray"}, []string{"unexpected arguments", "stray"}},
	} {
		_, err := parseConfig(tc.args, envMap(nil))
		if err == nil {
			t.Errorf("parseConfig(%q) succeeded", tc.args)
			continue
		}
		for _, m := range tc.mentions {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("parseConfig(%q) = %q, want it to mention %q", tc.args, err, m)
			}
		}
	}

	// The same checks apply to values from the environment.
	c, err := parseConfig([]string{"--throttle-backoff", "250ms"}, envMap(map[string]string{"PHOTOFLOW_FAULTS": "hang=0.01,targets=vision"}))
	if err != nil || !c.Faults.Injects("vision") || c.Faults.Injects("store") || c.ThrottleBackoff != 250*time.Millisecond {
		t.Errorf("PHOTOFLOW_FAULTS=hang=0.01,targets=vision --throttle-backoff 250ms: %+v, %v", c.Faults, err)
	}
	if c, _ := parseConfig(nil, envMap(nil)); c.Faults.Enabled() {
		t.Errorf("faults are on by default: %+v", c.Faults)
	}
	_, err = parseConfig(nil, envMap(map[string]string{"PHOTOFLOW_DEFAULT_DECISION": "maybe"}))
	if err == nil || !strings.Contains(err.Error(), "maybe") {
		t.Errorf("PHOTOFLOW_DEFAULT_DECISION=maybe: %v", err)
	}
}

func TestParseConfigBadEnvironment(t *testing.T) {
	for name, val := range map[string]string{
		"PHOTOFLOW_REVIEW_DEADLINE":  "72", // no unit: once silently the 72h default
		"PHOTOFLOW_REJECT_THRESHOLD": "ninety",
		"PHOTOFLOW_MAX_BYTES":        "10MB",
		"PHOTOFLOW_S3_PATH_STYLE":    "yes",
	} {
		_, err := parseConfig(nil, envMap(map[string]string{name: val}))
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), val) {
			t.Errorf("%s=%s: %v, want an error naming the variable and value", name, val, err)
		}
	}
	for val, want := range map[string]bool{"true": true, "1": true, "false": false, "0": false} {
		c, err := parseConfig(nil, envMap(map[string]string{"PHOTOFLOW_S3_PATH_STYLE": val}))
		if err != nil || c.S3PathStyle != want {
			t.Errorf("PHOTOFLOW_S3_PATH_STYLE=%s: %v, %v; want %v", val, c.S3PathStyle, err, want)
		}
	}
}

func TestParseConfigBackendsAndRoles(t *testing.T) {
	c, err := parseConfig([]string{"--store", "postgres", "--postgres-dsn", "postgres://x", "--roles", "thumbnails, thumbnails", "--http-addr="}, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Store != "postgres" || c.PostgresDSN != "postgres://x" || !reflect.DeepEqual(c.Roles, []string{"thumbnails"}) || c.HTTPAddr != "" {
		t.Errorf("got store %q dsn %q roles %v http %q", c.Store, c.PostgresDSN, c.Roles, c.HTTPAddr)
	}
	c, err = parseConfig([]string{"--roles", "none"}, envMap(nil))
	if err != nil || len(c.Roles) != 0 {
		t.Errorf("--roles none: %v, %v", c.Roles, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--store", "postgres"}, "--postgres-dsn"},
		{[]string{"--store", "mysql"}, "--store"},
		{[]string{"--vision", "clip"}, "--vision"},
		{[]string{"--roles", "workflows,cooking"}, "--roles"},
		{[]string{"--rekognition-s3-object"}, "--rekognition-s3-object"},
		{[]string{"--thumbnail-concurrency", "0"}, "--thumbnail-concurrency"},
	} {
		if _, err := parseConfig(tc.args, envMap(nil)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v should name %s", tc.args, err, tc.want)
		}
	}
}
