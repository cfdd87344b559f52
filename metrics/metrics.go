// Package metrics exposes photoflow's Prometheus metrics: the Temporal SDK's own (through
// OpenTelemetry) and the pipeline's, which answer the workshop's CloudWatch question "were all
// images processed?" from a dashboard: images finished by status and error type, activity
// latency and attempts, pending reviews, import progress and trigger errors.
//
// Everything lives on a private prometheus.Registry, so two Metrics (tests, or two workers in
// one process) never collide on the global default registry.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"

	"photoflow"
)

// Outcomes of an activity attempt, the outcome label of the activity metrics.
const (
	OutcomeSuccess  = "success"
	OutcomeFailure  = "failure"
	OutcomeCanceled = "canceled"
)

// Trigger sources for TriggerError: where a run should have been started from.
const (
	SourceEvent   = "event"   // S3 event notification
	SourceWatcher = "watcher" // the bucket poller
	SourceUpload  = "upload"  // the web API's upload
)

// latencyBuckets suit activities from a millisecond store write to a minute-long vision call;
// OpenTelemetry's defaults (0–10000) assume milliseconds and would put every activity in the
// first two buckets.
var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// Metrics holds the meter provider, its registry and photoflow's instruments. Its methods are
// safe for concurrent use.
type Metrics struct {
	provider *sdkmetric.MeterProvider
	registry *prometheus.Registry
	sdk      client.MetricsHandler

	images           metric.Int64Counter
	activityDuration metric.Float64Histogram
	activityAttempts metric.Int64Counter
	pendingReviews   metric.Int64Gauge
	gaugeErrors      metric.Int64Counter
	importObjects    metric.Int64Gauge
	triggerErrors    metric.Int64Counter
}

// New builds the meter provider with a Prometheus exporter on its own registry.
func New() (*Metrics, error) {
	reg := prometheus.NewRegistry()
	// Scope labels would add otel_scope_* to every series, doubling what a query must name
	// for no operational gain: each metric name already says who emits it.
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, err
	}
	secondsView := sdkmetric.NewView(
		sdkmetric.Instrument{Name: "temporal_*", Kind: sdkmetric.InstrumentKindHistogram},
		sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: latencyBuckets}})
	m := &Metrics{
		provider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithView(secondsView)),
		registry: reg,
	}
	m.sdk = temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter: m.provider.Meter("temporal-sdk-go"),
		// The SDK's counters only go up; as up-down counters Prometheus would see gauges,
		// and rate() over them would be meaningless.
		UseMonotonicCounters: true,
		// The handler's default panics on an instrument error, which would take the worker
		// down over a metric.
		OnError: otel.Handle,
	})

	meter := m.provider.Meter("photoflow")
	errs := make([]error, 7)
	m.images, errs[0] = meter.Int64Counter("photoflow.images",
		metric.WithDescription("Images whose run ended, by final status and error type (empty when SUCCEEDED)."))
	m.activityDuration, errs[1] = meter.Float64Histogram("photoflow.activity.duration",
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(latencyBuckets...),
		metric.WithDescription("Latency of one activity attempt, by activity and outcome."))
	m.activityAttempts, errs[2] = meter.Int64Counter("photoflow.activity.attempts",
		metric.WithDescription("Activity attempts, by activity, outcome, error type and whether it was a retry."))
	m.pendingReviews, errs[3] = meter.Int64Gauge("photoflow.pending_reviews",
		metric.WithDescription("Images waiting for a human decision, as last counted in the store."))
	m.gaugeErrors, errs[4] = meter.Int64Counter("photoflow.gauge.errors",
		metric.WithDescription("Failed refreshes of a store-backed gauge, whose value is then stale."))
	m.importObjects, errs[5] = meter.Int64Gauge("photoflow.import.objects",
		metric.WithDescription("Objects of a bulk import, by import and state (listed, copied, failed)."))
	m.triggerErrors, errs[6] = meter.Int64Counter("photoflow.trigger.errors",
		metric.WithDescription("Runs that could not be started, by trigger source (the original's StartExecution invocation errors)."))
	if err := errors.Join(errs...); err != nil {
		_ = m.provider.Shutdown(context.Background())
		return nil, err
	}
	return m, nil
}

// Handler serves the registry in the Prometheus text format, for /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// SDKHandler is the Temporal client's MetricsHandler (client.Options.MetricsHandler): the SDK's
// temporal_* metrics on the same registry as photoflow's.
func (m *Metrics) SDKHandler() client.MetricsHandler { return m.sdk }

// Shutdown stops the meter provider; later recordings are dropped.
func (m *Metrics) Shutdown(ctx context.Context) error { return m.provider.Shutdown(ctx) }

// ImageFinished counts one image whose run ended with status (SUCCEEDED, REJECTED, FAILED).
func (m *Metrics) ImageFinished(status, errorType string) {
	m.images.Add(context.Background(), 1, metric.WithAttributes(
		attrStatus.String(status), attrErrorType.String(errorType)))
}

// ActivityDone records one attempt of activity name that took d and ended with err.
func (m *Metrics) ActivityDone(name string, attempt int32, d time.Duration, err error) {
	outcome, errType := Outcome(err)
	ctx := context.Background()
	m.activityDuration.Record(ctx, d.Seconds(), metric.WithAttributes(
		attrActivity.String(name), attrOutcome.String(outcome)))
	m.activityAttempts.Add(ctx, 1, metric.WithAttributes(attrActivity.String(name),
		attrOutcome.String(outcome), attrErrorType.String(errType),
		// The attempt number itself would be an unbounded label; first or retry is what
		// an alert on "retries are climbing" needs.
		attrRetry.String(strconv.FormatBool(attempt > 1))))
}

// Outcome classifies an activity's error for the outcome and error_type labels: the
// application error type when there is one, so the labels use the contract's names.
func Outcome(err error) (outcome, errorType string) {
	if err == nil {
		return OutcomeSuccess, ""
	}
	if errors.Is(err, context.Canceled) || temporal.IsCanceledError(err) {
		return OutcomeCanceled, "Canceled"
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() != "" {
		return OutcomeFailure, appErr.Type()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return OutcomeFailure, "Timeout"
	}
	return OutcomeFailure, "Unclassified"
}

// PendingReviews sets the pending-review gauge.
func (m *Metrics) PendingReviews(n int) {
	m.pendingReviews.Record(context.Background(), int64(n))
}

// StartPendingReviewGauge sets the pending-review gauge from count now and then every every,
// until ctx ends. A failed count leaves the last value and counts a gauge error, so a stale
// gauge is visible rather than silently zero.
func (m *Metrics) StartPendingReviewGauge(ctx context.Context, every time.Duration, count func(context.Context) (int, error)) {
	if every <= 0 {
		every = time.Minute
	}
	refresh := func() {
		// A hung store must not stop the gauge for good.
		cctx, cancel := context.WithTimeout(ctx, max(every, 10*time.Second))
		defer cancel()
		n, err := count(cctx)
		if err != nil {
			if ctx.Err() == nil {
				m.gaugeErrors.Add(context.Background(), 1, metric.WithAttributes(attrGauge.String("pending_reviews")))
			}
			return
		}
		m.PendingReviews(n)
	}
	go func() {
		refresh()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				refresh()
			}
		}
	}()
}

// ImportProgress sets the object counts of one bulk import.
func (m *Metrics) ImportProgress(importID string, listed, copied, failed int64) {
	ctx := context.Background()
	for _, v := range []struct {
		state string
		n     int64
	}{{"listed", listed}, {"copied", copied}, {"failed", failed}} {
		m.importObjects.Record(ctx, v.n, metric.WithAttributes(attrImport.String(importID), attrState.String(v.state)))
	}
}

// TriggerError counts a run that source could not start (SourceEvent, SourceWatcher,
// SourceUpload): without it, an image that never got a run is invisible to every other
// metric.
func (m *Metrics) TriggerError(source string) {
	m.triggerErrors.Add(context.Background(), 1, metric.WithAttributes(attrSource.String(source)))
}

var (
	attrStatus    = attribute.Key("status")
	attrErrorType = attribute.Key("error_type")
	attrActivity  = attribute.Key("activity")
	attrOutcome   = attribute.Key("outcome")
	attrRetry     = attribute.Key("retry")
	attrGauge     = attribute.Key("gauge")
	attrImport    = attribute.Key("import_id")
	attrState     = attribute.Key("state")
	attrSource    = attribute.Key("source")
)

// Interceptor measures every activity the worker runs (ActivityDone), and counts an image as
// finished (ImageFinished) when a PersistMetadata or RecordFailure attempt that writes a
// terminal record succeeds, so activity code stays free of metrics. Register it in
// worker.Options.Interceptors.
func (m *Metrics) Interceptor() interceptor.WorkerInterceptor {
	return &workerInterceptor{m: m}
}

type workerInterceptor struct {
	interceptor.WorkerInterceptorBase
	m *Metrics
}

func (w *workerInterceptor) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	a := &activityInterceptor{m: w.m}
	a.Next = next
	return a
}

type activityInterceptor struct {
	interceptor.ActivityInboundInterceptorBase
	m *Metrics
}

func (a *activityInterceptor) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	start := time.Now()
	res, err := a.Next.ExecuteActivity(ctx, in)
	info := activity.GetInfo(ctx)
	a.m.ActivityDone(info.ActivityType.Name, info.Attempt, time.Since(start), err)
	if err == nil {
		if rec, ok := finalRecord(info.ActivityType.Name, in.Args); ok {
			a.m.ImageFinished(string(rec.Status), rec.ErrorType)
		}
	}
	return res, err
}

// finalRecord finds the terminal record a successful PersistMetadata or RecordFailure wrote.
// Only a successful write counts: a failed one is retried (and counted when it succeeds), or
// the run moves on to RecordFailure, which counts the image as FAILED instead.
func finalRecord(activityName string, args []any) (photoflow.ImageRecord, bool) {
	if activityName != photoflow.PersistMetadataActivity && activityName != photoflow.RecordFailureActivity {
		return photoflow.ImageRecord{}, false
	}
	if len(args) != 1 {
		return photoflow.ImageRecord{}, false
	}
	var rec photoflow.ImageRecord
	switch v := args[0].(type) {
	case photoflow.ImageRecord:
		rec = v
	case *photoflow.ImageRecord:
		if v == nil {
			return rec, false
		}
		rec = *v
	default:
		return rec, false
	}
	return rec, rec.Status.Terminal()
}
