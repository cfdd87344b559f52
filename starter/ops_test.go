package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	"photoflow"
	"photoflow/objstore"
	"photoflow/pipeline"
	"photoflow/store"
)

// opsEnv is an embedded S3 with the landing bucket and a SQLite store file: everything
// failures and report read, and what redrive reads besides Temporal.
type opsEnv struct {
	ctx      context.Context
	objects  *objstore.Store
	endpoint string
	dbPath   string
	st       store.Backend
	etags    map[string]string
}

const testBucket = "photoflow"

func newOpsEnv(t *testing.T) *opsEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	dir := t.TempDir()
	s3, err := objstore.StartEmbedded(filepath.Join(dir, "s3.db"), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s3.Close() })
	// The embedded server checks no signatures, but the SDK wants credentials to sign with;
	// the commands under test read them from the environment like any deployment.
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	objects, err := objstore.New(ctx, objstore.Config{Endpoint: s3.Endpoint(), Region: "us-east-1", PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := objects.EnsureBucket(ctx, testBucket); err != nil {
		t.Fatal(err)
	}
	e := &opsEnv{ctx: ctx, objects: objects, endpoint: s3.Endpoint(), dbPath: filepath.Join(dir, "photoflow.db"),
		etags: map[string]string{}}
	e.st, err = store.Open(ctx, store.OpenConfig{Kind: store.KindSQLite, SQLitePath: e.dbPath})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.st.Close() })
	return e
}

func (e *opsEnv) object(t *testing.T, imageID string) string {
	t.Helper()
	key := photoflow.IncomingPrefix + imageID
	etag, err := e.objects.Put(e.ctx, testBucket, key, []byte("bytes of "+imageID), "image/jpeg", nil)
	if err != nil {
		t.Fatal(err)
	}
	e.etags[imageID] = etag
	return etag
}

func (e *opsEnv) record(t *testing.T, imageID string, status photoflow.Status, errType string, updated time.Time) photoflow.ImageRecord {
	t.Helper()
	rec := photoflow.ImageRecord{ImageID: imageID, UserID: "alice", AlbumID: "trip", S3Bucket: testBucket,
		S3Key: photoflow.IncomingPrefix + imageID, ETag: e.etags[imageID], UploadTime: updated.Add(-time.Minute),
		UpdateTime: updated, Status: status, ErrorType: errType}
	if errType != "" {
		rec.ErrReason = errType + " at " + updated.Format(time.RFC3339)
	}
	if err := e.st.Put(e.ctx, rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

// run runs a starter command against this environment.
func (e *opsEnv) run(args ...string) (string, error) {
	args = append(args, "--database", e.dbPath, "--s3-endpoint", e.endpoint, "--bucket", testBucket,
		"--temporal-addr", "127.0.0.1:1")
	var out bytes.Buffer
	err := run(e.ctx, args, &out)
	return out.String(), err
}

func TestReportFindsUnrecordedObjectsAndRecordsWithoutObject(t *testing.T) {
	e := newOpsEnv(t)
	now := time.Now().UTC()
	e.object(t, "alice/trip/ok.jpg")
	e.record(t, "alice/trip/ok.jpg", photoflow.StatusSucceeded, "", now)
	e.object(t, "alice/trip/never-started.jpg")
	e.object(t, "alice/trip/stuck.jpg")
	e.record(t, "alice/trip/stuck.jpg", photoflow.StatusProcessing, "", now.Add(-2*time.Hour))
	e.record(t, "alice/trip/deleted.jpg", photoflow.StatusSucceeded, "", now)
	// Failed because its object vanished: the record already says so.
	e.record(t, "alice/trip/vanished.jpg", photoflow.StatusFailed, photoflow.ErrObjectNotFound, now)
	// Waiting for a reviewer within its deadline is accounted for.
	e.object(t, "alice/trip/review.jpg")
	deadline := now.Add(24 * time.Hour)
	rev := e.record(t, "alice/trip/review.jpg", photoflow.StatusPendingReview, "", now.Add(-3*time.Hour))
	rev.Moderation = &photoflow.ModerationRecord{Score: 70, DeadlineAt: &deadline}
	if err := e.st.Put(e.ctx, rev); err != nil {
		t.Fatal(err)
	}
	// Thumbnails are not uploads.
	if _, err := e.objects.Put(e.ctx, testBucket, photoflow.ThumbnailKey("alice/trip/ok.jpg"), []byte("t"), "image/jpeg", nil); err != nil {
		t.Fatal(err)
	}

	// --stale 0s: the object uploaded a moment ago counts at once.
	out, err := e.run("report", "--json", "--stale", "0s")
	var ue *unaccountedError
	if !errors.As(err, &ue) {
		t.Fatalf("report = %v, want an unaccountedError\n%s", err, out)
	}
	if ue.ExitCode() != 3 {
		t.Errorf("exit code %d, want 3", ue.ExitCode())
	}
	var rep pipeline.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var keys []string
	for _, u := range rep.Unaccounted {
		keys = append(keys, u.ImageID)
	}
	slices.Sort(keys)
	if want := []string{"alice/trip/never-started.jpg", "alice/trip/stuck.jpg"}; !slices.Equal(keys, want) {
		t.Errorf("unaccounted %v (%+v), want %v", keys, rep.Unaccounted, want)
	}
	if len(rep.MissingObjects) != 1 || rep.MissingObjects[0].ImageID != "alice/trip/deleted.jpg" {
		t.Errorf("missing objects %+v, want alice/trip/deleted.jpg alone", rep.MissingObjects)
	}
	if rep.Objects != 4 || rep.Records != 5 || rep.Counts[photoflow.StatusSucceeded] != 2 || rep.Counts[photoflow.StatusPendingReview] != 1 {
		t.Errorf("objects %d, records %d, counts %v", rep.Objects, rep.Records, rep.Counts)
	}

	// The text form names each problem too.
	out, err = e.run("report", "--stale", "0s")
	if !errors.As(err, &ue) {
		t.Fatalf("report = %v", err)
	}
	for _, want := range []string{"Incoming/alice/trip/never-started.jpg", "no record", "PROCESSING with no progress",
		"alice/trip/deleted.jpg", "records whose object is gone (1)"} {
		if !strings.Contains(out, want) {
			t.Errorf("report text lacks %q:\n%s", want, out)
		}
	}
}

func TestReportAllAccountedExitsZero(t *testing.T) {
	e := newOpsEnv(t)
	now := time.Now().UTC()
	e.object(t, "alice/trip/a.jpg")
	e.record(t, "alice/trip/a.jpg", photoflow.StatusSucceeded, "", now)
	e.object(t, "alice/trip/b.gif")
	e.record(t, "alice/trip/b.gif", photoflow.StatusFailed, photoflow.ErrFileNotSupported, now)
	// Just uploaded, no record yet: in flight under the default --stale 10m.
	e.object(t, "alice/trip/new.jpg")
	out, err := e.run("report")
	if err != nil {
		t.Fatalf("report = %v\n%s", err, out)
	}
	if !strings.Contains(out, "all images accounted for") || !strings.Contains(out, "1 object(s) uploaded in the last 10m0s") {
		t.Errorf("report:\n%s", out)
	}
}

func TestReportRefusesAMissingDatabase(t *testing.T) {
	e := newOpsEnv(t)
	var out bytes.Buffer
	err := run(e.ctx, []string{"report", "--database", filepath.Join(t.TempDir(), "nope.db"), "--s3-endpoint", e.endpoint}, &out)
	var ue *unaccountedError
	if err == nil || errors.As(err, &ue) || !strings.Contains(err.Error(), "--database") {
		t.Errorf("report on a missing store = %v, want an error naming --database", err)
	}
}

func TestFailuresGroupsByErrorType(t *testing.T) {
	e := newOpsEnv(t)
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for i, id := range []string{"a.jpg", "b.jpg", "c.jpg", "d.jpg"} {
		e.record(t, "alice/trip/"+id, photoflow.StatusFailed, photoflow.ErrTimeout, t0.Add(time.Duration(i)*time.Hour))
	}
	e.record(t, "alice/trip/e.gif", photoflow.StatusFailed, photoflow.ErrFileNotSupported, t0)
	e.record(t, "alice/trip/f.jpg", photoflow.StatusSucceeded, "", t0)
	e.record(t, "alice/trip/g.jpg", photoflow.StatusRejected, photoflow.ErrInappropriate, t0)

	out, err := e.run("failures", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var groups []failureGroup
	if err := json.Unmarshal([]byte(out), &groups); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(groups) != 2 {
		t.Fatalf("groups %+v, want Timeout and FileNotSupported only", groups)
	}
	tg, fg := groups[0], groups[1]
	if tg.ErrorType != photoflow.ErrTimeout || tg.Count != 4 || !tg.Rerunnable || len(tg.Examples) != failureExamples {
		t.Errorf("first group %+v, want 4 re-runnable Timeouts with %d examples", tg, failureExamples)
	}
	if tg.LatestImageID != "alice/trip/d.jpg" || !strings.Contains(tg.LatestReason, "15:00:00") {
		t.Errorf("latest Timeout %s %q, want d.jpg's", tg.LatestImageID, tg.LatestReason)
	}
	if fg.ErrorType != photoflow.ErrFileNotSupported || fg.Count != 1 || fg.Rerunnable {
		t.Errorf("second group %+v, want 1 FileNotSupported, not re-runnable", fg)
	}

	out, err = e.run("failures")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "re-runnable") || !strings.Contains(out, "starter redrive --error-type Timeout") ||
		strings.Contains(out, "--error-type FileNotSupported") {
		t.Errorf("failures text:\n%s", out)
	}
}

// redriveEnv has two Timeout failures and one FileNotSupported, all with their objects.
func redriveEnv(t *testing.T) (*opsEnv, *mocks.Client, *pipeline.Pipeline) {
	e := newOpsEnv(t)
	t0 := time.Now().UTC()
	for _, id := range []string{"alice/trip/t1.jpg", "alice/trip/t2.jpg"} {
		e.object(t, id)
		e.record(t, id, photoflow.StatusFailed, photoflow.ErrTimeout, t0)
	}
	e.object(t, "alice/trip/x.gif")
	e.record(t, "alice/trip/x.gif", photoflow.StatusFailed, photoflow.ErrFileNotSupported, t0)
	tc := &mocks.Client{}
	t.Cleanup(func() { tc.AssertExpectations(t) })
	return e, tc, &pipeline.Pipeline{Temporal: tc, Objects: e.objects, Bucket: testBucket, Namespace: "default"}
}

// startsImage matches Rerun's start: the object's workflow ID, and the reuse policy that lets
// the server refuse an image whose last run did not fail.
func startsImage(e *opsEnv, imageID string) any {
	want := photoflow.WorkflowID(testBucket, photoflow.IncomingPrefix+imageID, e.etags[imageID])
	return mock.MatchedBy(func(o client.StartWorkflowOptions) bool {
		return o.ID == want && o.WorkflowIDReusePolicy == enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY
	})
}

func workflowRun(id string) *mocks.WorkflowRun {
	r := &mocks.WorkflowRun{}
	r.On("GetID").Return(id)
	r.On("GetRunID").Return("run-" + id)
	return r
}

func TestRedriveRefusesNonTransientWithoutForce(t *testing.T) {
	e, _, p := redriveEnv(t)
	var out bytes.Buffer
	// No expectations on the client: any start fails the test.
	err := redrive(e.ctx, p, e.st, redriveOptions{errorType: photoflow.ErrFileNotSupported, limit: 10}, &out)
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("redrive FileNotSupported = %v, want a refusal naming --force", err)
	}
	// The command refuses before dialing: the unreachable Temporal is never tried.
	_, err = e.run("redrive", "--error-type", photoflow.ErrFileNotSupported)
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("starter redrive = %v, want the refusal, not a dial error", err)
	}
	_, err = e.run("redrive")
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--error-type") {
		t.Errorf("redrive without --error-type = %v, want a usage error", err)
	}
}

func TestRedriveRerunsTransientFailures(t *testing.T) {
	e, tc, p := redriveEnv(t)
	for _, id := range []string{"alice/trip/t1.jpg", "alice/trip/t2.jpg"} {
		tc.On("ExecuteWorkflow", mock.Anything, startsImage(e, id), photoflow.ImageProcessingWorkflow, mock.Anything).
			Return(workflowRun("wf-"+id), nil).Once()
	}
	var out bytes.Buffer
	if err := redrive(e.ctx, p, e.st, redriveOptions{errorType: photoflow.ErrTimeout, limit: 10}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if strings.Count(out.String(), "re-running") != 2 || !strings.Contains(out.String(), "wf-alice/trip/t1.jpg") {
		t.Errorf("output:\n%s", out.String())
	}
	if strings.Contains(out.String(), "x.gif") {
		t.Errorf("a FileNotSupported image was re-run:\n%s", out.String())
	}
}

func TestRedriveDryRunAndLimit(t *testing.T) {
	e, tc, p := redriveEnv(t)
	var out bytes.Buffer
	if err := redrive(e.ctx, p, e.st, redriveOptions{errorType: photoflow.ErrTimeout, dryRun: true, limit: 10}, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), "would re-run") != 2 {
		t.Errorf("dry run:\n%s", out.String())
	}
	tc.On("ExecuteWorkflow", mock.Anything, mock.Anything, photoflow.ImageProcessingWorkflow, mock.Anything).
		Return(workflowRun("wf"), nil).Once()
	out.Reset()
	if err := redrive(e.ctx, p, e.st, redriveOptions{errorType: photoflow.ErrTimeout, limit: 1}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "stopped at --limit 1") {
		t.Errorf("limited run:\n%s", out.String())
	}
}

// --force gets past the transient check only: the start keeps Rerun's reuse policy, and the
// server's refusal (the image's last run completed) is reported, not hidden.
func TestRedriveForceKeepsTheSucceededGuard(t *testing.T) {
	e, tc, p := redriveEnv(t)
	tc.On("ExecuteWorkflow", mock.Anything, startsImage(e, "alice/trip/x.gif"), photoflow.ImageProcessingWorkflow,
		mock.MatchedBy(func(in photoflow.ImageInput) bool { return in.Key == photoflow.IncomingPrefix+"alice/trip/x.gif" })).
		Return(nil, serviceerror.NewWorkflowExecutionAlreadyStarted("already", "", "")).Once()
	var out bytes.Buffer
	err := redrive(e.ctx, p, e.st, redriveOptions{errorType: photoflow.ErrFileNotSupported, force: true, limit: 10}, &out)
	if err == nil || !strings.Contains(out.String(), "refused alice/trip/x.gif") {
		t.Errorf("forced redrive of an image that completed since = %v\n%s", err, out.String())
	}
}
