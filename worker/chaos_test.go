package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"

	"photoflow"
	"photoflow/faults"
	"photoflow/media"
	"photoflow/media/mediatest"
	"photoflow/objstore"
	"photoflow/pipeline"
)

// The chaos tests run short in CI; PHOTOFLOW_CHAOS_IMAGES and PHOTOFLOW_CHAOS_KILLS give the
// full runs (see docs/RELIABILITY.md).
func chaosInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, name)
	return n
}

// childArgsEnv carries a child worker's arguments: the test binary re-runs itself as the
// worker command, so crash tests can kill -9 a real process.
const childArgsEnv = "PHOTOFLOW_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if v := os.Getenv(childArgsEnv); v != "" {
		var args []string
		if err := json.Unmarshal([]byte(v), &args); err != nil {
			fmt.Fprintln(os.Stderr, "child args:", err)
			os.Exit(2)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, args, os.Getenv, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	// This package's end-to-end suite (bulk imports, chaos runs, browser) takes about eight
	// minutes on two cores, close to go test's default ten-minute limit per package; a
	// limit the caller chose is kept.
	flag.Parse()
	if t := flag.Lookup("test.timeout"); t != nil && t.Value.String() == (10*time.Minute).String() {
		_ = flag.Set("test.timeout", (40 * time.Minute).String())
	}
	os.Exit(m.Run())
}

// attempt is one execution of an activity, as a worker interceptor saw it end.
type attempt struct {
	WorkflowID, RunID, ActivityID, Type string
	Attempt                             int32
	Err                                 string
	ErrType                             string
	NonRetryable                        bool
	TimedOut                            bool // its context's deadline passed: a hung call
}

// attemptLog records every activity attempt of the workers it is installed in.
type attemptLog struct {
	interceptor.WorkerInterceptorBase
	mu       sync.Mutex
	attempts []attempt
}

func (l *attemptLog) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	a := &attemptRecorder{log: l}
	a.Next = next
	return a
}

type attemptRecorder struct {
	interceptor.ActivityInboundInterceptorBase
	log *attemptLog
}

func (a *attemptRecorder) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	res, err := a.Next.ExecuteActivity(ctx, in)
	info := activity.GetInfo(ctx)
	rec := attempt{WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID,
		ActivityID: info.ActivityID, Type: info.ActivityType.Name, Attempt: info.Attempt}
	if err != nil {
		rec.Err = err.Error()
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) {
			rec.ErrType, rec.NonRetryable = appErr.Type(), appErr.NonRetryable()
		}
		rec.TimedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
	}
	a.log.mu.Lock()
	a.log.attempts = append(a.log.attempts, rec)
	a.log.mu.Unlock()
	return res, err
}

// attemptStats is what the attempt log shows about retries.
type attemptStats struct {
	Attempts, Retries, Failed, TimedOut, NonRetryable int
	MaxAttempt                                        int32
}

// check holds the log to the retry rules: no attempt follows a non-retryable failure of
// the same activity, and every hung attempt of an activity that finally succeeded was
// followed by another attempt.
func (l *attemptLog) check(t *testing.T) attemptStats {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	type key struct{ wf, run, id string }
	byActivity := map[key][]attempt{}
	var st attemptStats
	for _, a := range l.attempts {
		k := key{a.WorkflowID, a.RunID, a.ActivityID}
		byActivity[k] = append(byActivity[k], a)
		st.Attempts++
		st.MaxAttempt = max(st.MaxAttempt, a.Attempt)
		if a.Attempt > 1 {
			st.Retries++
		}
		if a.Err != "" {
			st.Failed++
		}
		if a.TimedOut {
			st.TimedOut++
		}
		if a.NonRetryable {
			st.NonRetryable++
		}
	}
	for k, as := range byActivity {
		slices.SortFunc(as, func(a, b attempt) int { return int(a.Attempt - b.Attempt) })
		succeeded := as[len(as)-1].Err == ""
		for i, a := range as {
			if a.NonRetryable {
				require.Equal(t, len(as)-1, i, "%s %s in %s was retried after a non-retryable %s: %s", a.Type, k.id, k.wf, a.ErrType, a.Err)
			}
			if a.TimedOut && succeeded {
				require.Less(t, i, len(as)-1, "%s %s in %s hung and was not retried", a.Type, k.id, k.wf)
			}
		}
	}
	return st
}

// chaosPolicies make every activity retry without limit (within 10 minutes) and time out
// after startToClose, so injected faults cost seconds, not the production minutes.
func chaosPolicies(s *photoflow.Settings, startToClose time.Duration) {
	for name, p := range s.Activities {
		p.StartToClose = startToClose
		p.ScheduleToClose = 10 * time.Minute
		p.MaximumAttempts = 0
		p.InitialInterval = 100 * time.Millisecond
		p.MaximumInterval = 2 * time.Second
		s.Activities[name] = p
	}
}

// chaosImage is one generated upload and what its record must say.
type chaosImage struct {
	name        string
	data        []byte
	w, h        int
	orientation int
	image       bool // false: a text file named .jpg
}

// chaosImages makes n camera JPEGs of varied sizes and orientations, and junk text files.
func chaosImages(n, junk int) []chaosImage {
	sizes := [][2]int{{320, 240}, {480, 320}, {640, 480}, {800, 600}, {600, 800}, {512, 512}}
	out := make([]chaosImage, n, n+junk)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { // each goroutine writes its own element
			sz, o := sizes[i%len(sizes)], 1+i%8
			out[i] = chaosImage{name: fmt.Sprintf("IMG_%04d.jpg", i), w: sz[0], h: sz[1], orientation: o, image: true,
				data: mediatest.CameraJPEG(sz[0], sz[1], o)}
		})
	}
	wg.Wait()
	for i := range junk {
		out = append(out, chaosImage{name: fmt.Sprintf("notes-%02d.jpg", i),
			data: fmt.Appendf(nil, "not a photo, line %d\n", i)})
	}
	return out
}

// submitAll uploads and starts every image through p, eight at a time.
func submitAll(t *testing.T, p *pipeline.Pipeline, user, album string, imgs []chaosImage) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, 8)
	for _, img := range imgs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := p.Submit(ctx, user, album, img.name, img.data); err != nil {
				mu.Lock()
				firstErr = cmpErr(firstErr, fmt.Errorf("submit %s: %w", img.name, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.NoError(t, firstErr)
}

// checkChaosRecords holds every record to its upload: images SUCCEEDED with their size,
// orientation, camera, labels and a thumbnail that exists; junk FAILED as FileNotSupported;
// one run per upload and one thumbnail object per image.
func checkChaosRecords(t *testing.T, st *stack, user, album string, imgs []chaosImage, recs map[string]photoflow.ImageRecord) {
	t.Helper()
	ctx := context.Background()
	images := 0
	for _, img := range imgs {
		id := user + "/" + album + "/" + img.name
		rec, ok := recs[id]
		require.True(t, ok, "no record for %s", id)
		if !img.image {
			require.Equal(t, photoflow.StatusFailed, rec.Status, id)
			require.Equal(t, photoflow.ErrFileNotSupported, rec.ErrorType, id)
			require.Contains(t, rec.ErrReason, photoflow.ErrImageIdentify, id)
			continue
		}
		images++
		require.Equal(t, photoflow.StatusSucceeded, rec.Status, "%s: %s %s", id, rec.ErrorType, rec.ErrReason)
		require.Equal(t, media.FormatJPEG, rec.Format, id)
		require.Equal(t, &photoflow.Dimensions{Width: img.w, Height: img.h}, rec.Dimensions, id)
		require.Equal(t, img.orientation, rec.Orientation, id)
		require.NotEmpty(t, rec.ExifMake, id)
		require.NotEmpty(t, rec.Labels, id)
		require.NotNil(t, rec.Thumbnail, id)
		ow, oh := media.OrientedSize(img.w, img.h, img.orientation)
		require.LessOrEqual(t, max(rec.Thumbnail.Width, rec.Thumbnail.Height), st.cfg.Settings.ThumbnailSize, id)
		require.InDelta(t, float64(ow)/float64(oh), float64(rec.Thumbnail.Width)/float64(rec.Thumbnail.Height), 0.02, "%s: thumbnail upright", id)
		info, err := st.objects.Head(ctx, st.cfg.Bucket, rec.Thumbnail.Key)
		require.NoError(t, err, "thumbnail of %s", id)
		require.Positive(t, info.Size)
	}
	thumbs := 0
	err := st.objects.ListAll(ctx, st.cfg.Bucket, photoflow.ThumbnailKey(user+"/"+album+"/"), func(objstore.ListedObject) error {
		thumbs++
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, images, thumbs, "one thumbnail object per image")
	runs := runsPerImage(t, st, user, album, len(imgs))
	require.Len(t, runs, len(imgs), "uploads with a run")
	for id, n := range runs {
		require.Equal(t, 1, n, "ImageProcessing runs of %s", id)
	}
}

// TestChaosFaults runs images through the pipeline while 30% of the calls activities make to
// S3, the metadata store and vision fail: throttled, 5xx (half of them after the write was
// made) or hung until the activity's timeout. Every image must still succeed with a correct
// record, non-retryable errors must not be retried, and hung calls must be retried.
func TestChaosFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	n := chaosInt(t, "PHOTOFLOW_CHAOS_IMAGES", 500)
	cfg := testConfig(t, t.TempDir())
	spec, err := faults.ParseSpec("throttle=0.14,5xx=0.13,hang=0.03,seed=20261204")
	require.NoError(t, err)
	cfg.Faults, cfg.ThrottleBackoff = spec, 100*time.Millisecond
	// Hung calls hold a slot until their timeout without using the CPU.
	cfg.MaxConcurrentActivity, cfg.WatchInterval = 48, 0
	// Faults are the subject: the offline heuristic may not hold a photo for review.
	cfg.Settings.ReviewThreshold, cfg.Settings.RejectThreshold = 100, 100
	chaosPolicies(&cfg.Settings, 3*time.Second)
	log := &attemptLog{}
	cfg.interceptors = []interceptor.WorkerInterceptor{log}
	st := startStack(t, cfg)
	defer st.stop()

	imgs := chaosImages(n, 20)
	began := time.Now()
	submitAll(t, st.pipeline, "chaos", "faults", imgs)
	recs := waitSettled(t, st, "chaos", "faults", len(imgs), 15*time.Minute)
	took := time.Since(began)
	checkChaosRecords(t, st, "chaos", "faults", imgs, recs)

	counts := st.faults.Counts()
	for _, target := range []string{faults.Objects, faults.Store, faults.Vision} {
		for _, kind := range []string{faults.Throttle, faults.ServerError, faults.Hang} {
			require.Positive(t, counts.Faults[target][kind], "%s faults injected into %s", kind, target)
		}
	}
	stats := log.check(t)
	require.Positive(t, stats.TimedOut, "hung calls timed out")
	require.Positive(t, stats.NonRetryable, "the junk files failed for good")
	calls := counts.Calls[faults.Objects] + counts.Calls[faults.Store] + counts.Calls[faults.Vision]
	t.Logf("chaos faults: %d images + 20 junk files in %s; %d backend calls, %d faults (%.1f%%): throttle %d, 5xx %d, hang %d; "+
		"%d activity attempts, %d retries, %d timed out, %d non-retryable (none retried), highest attempt %d; images lost 0",
		n, took.Round(time.Second), calls, counts.Total(), 100*float64(counts.Total())/float64(calls),
		counts.Kind(faults.Throttle), counts.Kind(faults.ServerError), counts.Kind(faults.Hang),
		stats.Attempts, stats.Retries, stats.TimedOut, stats.NonRetryable, stats.MaxAttempt)
}

// child is a worker process the test can kill -9.
type child struct {
	t      *testing.T
	args   []string
	logDir string
	cmd    *exec.Cmd
	done   chan error
	starts int
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// start runs the child, without the parent's Temporal settings, logging to a file per start.
func (c *child) start() {
	c.t.Helper()
	args, err := json.Marshal(c.args)
	require.NoError(c.t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEMPORAL_") && !strings.HasPrefix(kv, "PHOTOFLOW_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, childArgsEnv+"="+string(args))
	c.starts++
	out, err := os.Create(filepath.Join(c.logDir, fmt.Sprintf("child-%d.log", c.starts)))
	require.NoError(c.t, err)
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(c.t, cmd.Start())
	c.cmd, c.done = cmd, make(chan error, 1)
	go func() { c.done <- cmd.Wait(); out.Close() }()
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *child) kill() {
	c.t.Helper()
	require.NoError(c.t, c.cmd.Process.Signal(syscall.SIGKILL))
	<-c.done
}

// stop asks the child to stop and waits for it.
func (c *child) stop() {
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	c.cmd = nil
}

// waitTemporal waits until the child has started (it prints its banner once search
// attributes are registered) and Temporal answers, failing if the child exits first.
func (c *child) waitTemporal(cl client.Client) {
	c.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := cl.CheckHealth(ctx, &client.CheckHealthRequest{})
		cancel()
		if err == nil {
			out, _ := os.ReadFile(filepath.Join(c.logDir, fmt.Sprintf("child-%d.log", c.starts)))
			if strings.Contains(string(out), "photoflow is running") {
				return
			}
			err = errors.New("no banner yet")
		}
		select {
		case err := <-c.done:
			c.t.Fatalf("child exited during start: %v (see %s)", err, c.logDir)
		default:
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("child not ready after 2 minutes: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func dialLazy(t *testing.T, addr string) client.Client {
	t.Helper()
	cl, err := client.NewLazyClient(client.Options{HostPort: addr, Namespace: photoflow.Namespace})
	require.NoError(t, err)
	return cl
}

// TestChaosKillWorker kill -9s the whole photoflow process (worker, embedded Temporal, S3 and
// SQLite) several times while images are in flight, restarting it on the same data dir each
// time. Every image must end SUCCEEDED once, with one run, one record and one thumbnail.
func TestChaosKillWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Temporal servers")
	}
	n, kills := chaosInt(t, "PHOTOFLOW_CHAOS_IMAGES", 120), chaosInt(t, "PHOTOFLOW_CHAOS_KILLS", 3)
	dataDir := t.TempDir()
	temporalAddr, s3Addr := freeAddr(t), freeAddr(t)
	c := &child{t: t, logDir: t.TempDir(), args: []string{"--data-dir", dataDir, "--temporal-addr", temporalAddr,
		"--s3-addr", s3Addr, "--http-addr", "", "--temporal-ui-addr", "", "--metrics-addr", "",
		"--review-threshold", "100", "--reject-threshold", "100", "--log-level", "warn"}}
	for name := range photoflow.DefaultActivityPolicies() {
		// A run's activity in flight at the kill is retried after its timeout.
		c.args = append(c.args, "--activity-timeout", name+"=5s")
	}
	c.start()
	defer c.stop()
	cl := dialLazy(t, temporalAddr)
	defer cl.Close()
	c.waitTemporal(cl)
	objs, err := objstore.New(context.Background(), objstore.Config{Endpoint: "http://" + s3Addr, Region: photoflow.DefaultS3Region,
		AccessKey: photoflow.DefaultS3AccessKey, SecretKey: photoflow.DefaultS3SecretKey, PathStyle: true})
	require.NoError(t, err)
	p := &pipeline.Pipeline{Temporal: cl, Objects: objs, Bucket: photoflow.DefaultBucket, Namespace: photoflow.Namespace}

	imgs := chaosImages(n, 0)
	began := time.Now()
	submitAll(t, p, "chaos", "kills", imgs)
	for i := range kills {
		time.Sleep(time.Duration(1500+700*i%2000) * time.Millisecond)
		done := countClosed(t, cl, "Completed")
		c.kill()
		t.Logf("kill -9 #%d after %s: %d of %d runs completed", i+1, time.Since(began).Round(time.Millisecond), done, n)
		c.start()
		c.waitTemporal(cl)
	}
	deadline := time.Now().Add(10 * time.Minute)
	for countClosed(t, cl, "Completed") < n {
		require.True(t, time.Now().Before(deadline), "runs did not complete within 10 minutes of the last restart")
		time.Sleep(time.Second)
	}
	took := time.Since(began)
	c.stop()

	// Check from a fresh start on the same data dir: what is on disk is what counts.
	cfg := testConfig(t, dataDir)
	cfg.WatchInterval = 0
	st := startStack(t, cfg)
	defer st.stop()
	recs := waitSettled(t, st, "chaos", "kills", n, time.Minute)
	checkChaosRecords(t, st, "chaos", "kills", imgs, recs)
	t.Logf("chaos kills: %d images through %d kill -9s of the whole process in %s; images lost 0, duplicated 0", n, kills, took.Round(time.Second))
}

// countClosed counts ImageProcessing runs closed with status (visibility's spelling).
func countClosed(t *testing.T, cl client.Client, status string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cl.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: photoflow.Namespace,
		Query: fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = '%s'", photoflow.ImageProcessingWorkflow, status)})
	if err != nil {
		return 0 // the server is restarting
	}
	return int(resp.GetCount())
}

// TestChaosRestartTemporal kill -9s the Temporal server, twice, while a worker in this
// process has images in flight; the worker reconnects on its own and every run completes.
func TestChaosRestartTemporal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Temporal servers")
	}
	n, kills := chaosInt(t, "PHOTOFLOW_CHAOS_IMAGES", 80), max(2, chaosInt(t, "PHOTOFLOW_CHAOS_KILLS", 2))
	temporalAddr := freeAddr(t)
	c := &child{t: t, logDir: t.TempDir(), args: []string{"--data-dir", t.TempDir(), "--temporal-addr", temporalAddr,
		"--roles", "none", "--s3-addr", "127.0.0.1:0", "--http-addr", "", "--temporal-ui-addr", "", "--metrics-addr", "",
		"--log-level", "warn"}}
	c.start()
	defer c.stop()
	probe := dialLazy(t, temporalAddr)
	defer probe.Close()
	c.waitTemporal(probe)

	t.Setenv("TEMPORAL_ADDRESS", temporalAddr)
	cfg := testConfig(t, t.TempDir())
	cfg.ExternalTemporal, cfg.WatchInterval = true, 0
	cfg.Settings.ReviewThreshold, cfg.Settings.RejectThreshold = 100, 100
	chaosPolicies(&cfg.Settings, 5*time.Second)
	st := startStack(t, cfg)
	defer st.stop()

	imgs := chaosImages(n, 0)
	began := time.Now()
	submitAll(t, st.pipeline, "chaos", "restarts", imgs)
	for i := range kills {
		time.Sleep(time.Duration(1000+1000*i) * time.Millisecond)
		done := countClosed(t, probe, "Completed")
		c.kill()
		t.Logf("Temporal server kill -9 #%d after %s: %d of %d runs completed", i+1, time.Since(began).Round(time.Millisecond), done, n)
		time.Sleep(time.Second) // the worker meets a dead server for a while
		c.start()
		c.waitTemporal(probe)
	}
	recs := waitSettled(t, st, "chaos", "restarts", n, 10*time.Minute)
	checkChaosRecords(t, st, "chaos", "restarts", imgs, recs)
	t.Logf("chaos restarts: %d images through %d kill -9s of the Temporal server in %s; images lost 0, duplicated 0",
		n, kills, time.Since(began).Round(time.Second))
}
