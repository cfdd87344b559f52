package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"photoflow"
)

func newMetrics(t *testing.T) *Metrics {
	t.Helper()
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown(context.Background()) })
	return m
}

// scrape reads Handler() as Prometheus would and returns the families by name.
func scrape(t *testing.T, m *Metrics) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	rr := httptest.NewRecorder()
	m.Handler().ServeHTTP(rr, httptest.NewRequest("GET", "/metrics", nil))
	if rr.Code != 200 {
		t.Fatalf("GET /metrics: %d %s", rr.Code, rr.Body)
	}
	body := rr.Body.String()
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("scrape does not parse: %v\n%s", err, body)
	}
	return fams, body
}

// sample finds the series of family name whose labels are exactly want.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return m
		}
	}
	return nil
}

func labelsOf(f *dto.MetricFamily) []string {
	var out []string
	for _, m := range f.GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		out = append(out, strings.Join(ls, ","))
	}
	sort.Strings(out)
	return out
}

func counterValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	m := sample(fams, name, labels)
	if m == nil {
		var have []string
		if f := fams[name]; f != nil {
			have = labelsOf(f)
		}
		t.Fatalf("no %s%v in the scrape; series: %v", name, labels, have)
	}
	if m.GetCounter() == nil {
		t.Fatalf("%s%v is not a counter", name, labels)
	}
	return m.GetCounter().GetValue()
}

func TestImageFinishedByStatusAndErrorType(t *testing.T) {
	m := newMetrics(t)
	m.ImageFinished("FAILED", "FileNotSupported")
	m.ImageFinished("SUCCEEDED", "")
	m.ImageFinished("SUCCEEDED", "")
	fams, body := scrape(t, m)
	if !strings.Contains(body, `photoflow_images_total{error_type="FileNotSupported",status="FAILED"} 1`) {
		t.Errorf("scrape lacks the FAILED line:\n%s", body)
	}
	if got := counterValue(t, fams, "photoflow_images_total", map[string]string{"status": "SUCCEEDED", "error_type": ""}); got != 2 {
		t.Errorf("SUCCEEDED = %v, want 2", got)
	}
}

func TestActivityDoneRecordsLatencyAndAttempts(t *testing.T) {
	m := newMetrics(t)
	m.ActivityDone("DetectLabels", 1, 300*time.Millisecond, nil)
	m.ActivityDone("DetectLabels", 2, 2*time.Second,
		temporal.NewApplicationError("slow down", photoflow.ErrThrottled))
	fams, _ := scrape(t, m)

	h := sample(fams, "photoflow_activity_duration_seconds", map[string]string{"activity": "DetectLabels", "outcome": "success"})
	if h == nil || h.GetHistogram() == nil {
		t.Fatalf("no success histogram for DetectLabels; families: %v", labelsOf(fams["photoflow_activity_duration_seconds"]))
	}
	if h.GetHistogram().GetSampleCount() != 1 || h.GetHistogram().GetSampleSum() != 0.3 {
		t.Errorf("histogram count %d sum %v, want 1 and 0.3", h.GetHistogram().GetSampleCount(), h.GetHistogram().GetSampleSum())
	}
	// 0.3 s must land in a bucket below one second, or the buckets are in the wrong unit.
	for _, b := range h.GetHistogram().GetBucket() {
		if b.GetUpperBound() == 0.5 && b.GetCumulativeCount() != 1 {
			t.Errorf("le=0.5 bucket holds %d, want 1", b.GetCumulativeCount())
		}
	}
	if got := counterValue(t, fams, "photoflow_activity_attempts_total", map[string]string{
		"activity": "DetectLabels", "outcome": "failure", "error_type": photoflow.ErrThrottled, "retry": "true"}); got != 1 {
		t.Errorf("throttled retries = %v, want 1", got)
	}
	if got := counterValue(t, fams, "photoflow_activity_attempts_total", map[string]string{
		"activity": "DetectLabels", "outcome": "success", "error_type": "", "retry": "false"}); got != 1 {
		t.Errorf("first-attempt successes = %v, want 1", got)
	}
}

func TestOutcome(t *testing.T) {
	for _, tc := range []struct {
		err              error
		outcome, errType string
	}{
		{nil, OutcomeSuccess, ""},
		{temporal.NewNonRetryableApplicationError("gif", photoflow.ErrFileNotSupported, nil), OutcomeFailure, photoflow.ErrFileNotSupported},
		{fmt.Errorf("wrapped: %w", context.Canceled), OutcomeCanceled, "Canceled"},
		{context.DeadlineExceeded, OutcomeFailure, "Timeout"},
		{errors.New("boom"), OutcomeFailure, "Unclassified"},
	} {
		o, e := Outcome(tc.err)
		if o != tc.outcome || e != tc.errType {
			t.Errorf("Outcome(%v) = %s, %s; want %s, %s", tc.err, o, e, tc.outcome, tc.errType)
		}
	}
}

func TestPendingReviewGaugeFollowsTheStore(t *testing.T) {
	m := newMetrics(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	counts := make(chan int, 1)
	counts <- 7
	m.StartPendingReviewGauge(ctx, 10*time.Millisecond, func(context.Context) (int, error) {
		select {
		case n := <-counts:
			return n, nil
		default:
			return 0, errors.New("store unreachable")
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		fams, _ := scrape(t, m)
		g := sample(fams, "photoflow_pending_reviews", map[string]string{})
		e := sample(fams, "photoflow_gauge_errors_total", map[string]string{"gauge": "pending_reviews"})
		if g != nil && e != nil {
			// The failed refreshes after the first count keep the value, not reset it.
			if g.GetGauge().GetValue() != 7 {
				t.Fatalf("pending reviews = %v, want 7", g.GetGauge().GetValue())
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gauge %v, errors %v never both appeared", g, e)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestImportProgressAndTriggerErrors(t *testing.T) {
	m := newMetrics(t)
	m.ImportProgress("imp-1", 10, 7, 1)
	m.ImportProgress("imp-1", 10, 9, 1)
	m.TriggerError(SourceWatcher)
	m.TriggerError(SourceWatcher)
	m.TriggerError(SourceUpload)
	fams, _ := scrape(t, m)
	for state, want := range map[string]float64{"listed": 10, "copied": 9, "failed": 1} {
		g := sample(fams, "photoflow_import_objects", map[string]string{"import_id": "imp-1", "state": state})
		if g == nil || g.GetGauge().GetValue() != want {
			t.Errorf("import %s = %v, want %v", state, g, want)
		}
	}
	if got := counterValue(t, fams, "photoflow_trigger_errors_total", map[string]string{"source": "watcher"}); got != 2 {
		t.Errorf("watcher trigger errors = %v, want 2", got)
	}
}

// The SDK reports its own counters through SDKHandler: a dial to nowhere still counts the
// failed request, and it must come out as a Prometheus counter (monotonic), not a gauge.
func TestSDKHandlerCountersAreTemporalCounters(t *testing.T) {
	m := newMetrics(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{HostPort: "127.0.0.1:1", MetricsHandler: m.SDKHandler()})
	if err == nil {
		c.Close()
		t.Fatal("dial to port 1 succeeded")
	}
	fams, body := scrape(t, m)
	// The SDK's own failed GetSystemInfo call, not anything this test recorded.
	f := fams["temporal_request_failure_total"]
	if f == nil {
		t.Fatalf("no temporal_request_failure_total in the scrape:\n%s", body)
	}
	if f.GetType() != dto.MetricType_COUNTER {
		t.Errorf("temporal_request_failure_total is a %v, want a counter (monotonic)", f.GetType())
	}
	if !strings.Contains(strings.Join(labelsOf(f), " "), "operation=GetSystemInfo") {
		t.Errorf("the SDK's tags are lost: %v", labelsOf(f))
	}
	var counters []string
	for name, f := range fams {
		if strings.HasPrefix(name, "temporal_") && f.GetType() == dto.MetricType_COUNTER {
			counters = append(counters, name)
		}
	}
	t.Logf("SDK counters: %v", counters)
}

// The interceptor measures activities it knows nothing about, and counts an image only when
// a write of its terminal record succeeded.
func TestInterceptorMeasuresActivitiesAndFinishedImages(t *testing.T) {
	m := newMetrics(t)
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{m.Interceptor()}})
	failRecord := true
	env.RegisterActivityWithOptions(func(context.Context, photoflow.ImageRecord) error { return nil },
		activityOptions(photoflow.PersistMetadataActivity))
	env.RegisterActivityWithOptions(func(context.Context, photoflow.ImageRecord) error {
		if failRecord {
			return temporal.NewApplicationError("store down", photoflow.ErrUnavailable)
		}
		return nil
	}, activityOptions(photoflow.RecordFailureActivity))

	rec := photoflow.ImageRecord{ImageID: "alice/trip/a.jpg", Status: photoflow.StatusProcessing}
	if _, err := env.ExecuteActivity(photoflow.PersistMetadataActivity, rec); err != nil {
		t.Fatal(err)
	}
	rec.Status = photoflow.StatusSucceeded
	if _, err := env.ExecuteActivity(photoflow.PersistMetadataActivity, rec); err != nil {
		t.Fatal(err)
	}
	failed := photoflow.ImageRecord{ImageID: "alice/trip/b.gif", Status: photoflow.StatusFailed, ErrorType: photoflow.ErrFileNotSupported}
	if _, err := env.ExecuteActivity(photoflow.RecordFailureActivity, failed); err == nil {
		t.Fatal("RecordFailure should have failed")
	}
	failRecord = false
	if _, err := env.ExecuteActivity(photoflow.RecordFailureActivity, failed); err != nil {
		t.Fatal(err)
	}

	fams, _ := scrape(t, m)
	if got := counterValue(t, fams, "photoflow_images_total", map[string]string{"status": "SUCCEEDED", "error_type": ""}); got != 1 {
		t.Errorf("SUCCEEDED images = %v, want 1 (the PROCESSING write is not an end)", got)
	}
	if got := counterValue(t, fams, "photoflow_images_total", map[string]string{"status": "FAILED", "error_type": photoflow.ErrFileNotSupported}); got != 1 {
		t.Errorf("FAILED images = %v, want 1 (the failed write is not counted)", got)
	}
	if n := len(fams["photoflow_images_total"].GetMetric()); n != 2 {
		t.Errorf("images series: %v", labelsOf(fams["photoflow_images_total"]))
	}
	if got := counterValue(t, fams, "photoflow_activity_attempts_total", map[string]string{
		"activity": photoflow.PersistMetadataActivity, "outcome": "success", "error_type": "", "retry": "false"}); got != 2 {
		t.Errorf("PersistMetadata attempts = %v, want 2", got)
	}
	if got := counterValue(t, fams, "photoflow_activity_attempts_total", map[string]string{
		"activity": photoflow.RecordFailureActivity, "outcome": "failure", "error_type": photoflow.ErrUnavailable, "retry": "false"}); got != 1 {
		t.Errorf("RecordFailure failures = %v, want 1", got)
	}
	h := sample(fams, "photoflow_activity_duration_seconds", map[string]string{"activity": photoflow.RecordFailureActivity, "outcome": "failure"})
	if h == nil || h.GetHistogram().GetSampleCount() != 1 {
		t.Errorf("RecordFailure failure latency not recorded: %v", h)
	}
}

func TestFinalRecordIgnoresOtherActivitiesAndShapes(t *testing.T) {
	done := photoflow.ImageRecord{Status: photoflow.StatusRejected}
	for _, tc := range []struct {
		name string
		args []any
		want bool
	}{
		{photoflow.RecordFailureActivity, []any{done}, true},
		{photoflow.PersistMetadataActivity, []any{&done}, true},
		{photoflow.DetectLabelsActivity, []any{done}, false},
		{photoflow.PersistMetadataActivity, []any{photoflow.ImageRecord{Status: photoflow.StatusPendingReview}}, false},
		{photoflow.PersistMetadataActivity, []any{"not a record"}, false},
		{photoflow.PersistMetadataActivity, nil, false},
		{photoflow.PersistMetadataActivity, []any{(*photoflow.ImageRecord)(nil)}, false},
	} {
		if _, ok := finalRecord(tc.name, tc.args); ok != tc.want {
			t.Errorf("finalRecord(%s, %#v) = %v, want %v", tc.name, tc.args, ok, tc.want)
		}
	}
}

func activityOptions(name string) activity.RegisterOptions {
	return activity.RegisterOptions{Name: name}
}
