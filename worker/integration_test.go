package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"

	"photoflow"
	"photoflow/media/mediatest"
	"photoflow/objstore"
	"photoflow/store"
	"photoflow/web"
	"photoflow/workflows"
)

// testConfig is the no-configuration default on free ports, without the Web UI.
func testConfig(t testing.TB, dataDir string) config {
	t.Helper()
	cfg := defaultConfig()
	cfg.DataDir = dataDir
	cfg.DatabasePath = filepath.Join(dataDir, "photoflow.db")
	cfg.HTTPAddr, cfg.TemporalAddr, cfg.S3Addr, cfg.TemporalUIAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", ""
	cfg.MetricsAddr = "127.0.0.1:0"
	cfg.ImportSampleEvery = 500 * time.Millisecond
	return cfg
}

func startStack(t *testing.T, cfg config) *stack {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := start(ctx, cfg, log)
	require.NoError(t, err)
	return st
}

func waitFor(t *testing.T, st *stack, workflowID, runID string) photoflow.ImageRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rec, err := st.pipeline.Wait(ctx, workflowID, runID)
	require.NoError(t, err)
	return rec
}

// httpJSON calls the API and decodes its JSON answer.
func httpJSON(t *testing.T, st *stack, user, method, path string, body io.Reader, contentType string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+st.HTTPAddr+path, body)
	require.NoError(t, err)
	if user != "" {
		req.SetBasicAuth(user, testPassword)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp.StatusCode
}

func upload(t *testing.T, st *stack, user, album, name string, data []byte) (int, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	require.NoError(t, mw.WriteField("album", album))
	fw, err := mw.CreateFormFile("file", name)
	require.NoError(t, err)
	_, _ = fw.Write(data)
	require.NoError(t, mw.Close())
	var out map[string]any
	code := httpJSON(t, st, user, "POST", "/api/images", &buf, mw.FormDataContentType(), &out)
	return code, out
}

// TestPipelineEndToEnd runs real files through the real worker on the embedded Temporal
// server, S3 store and SQLite store, then restarts everything in the middle of runs.
func TestPipelineEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	dataDir := t.TempDir()
	cfg := testConfig(t, dataDir)
	st := startStack(t, cfg)
	defer func() { st.stop() }()
	ctx := context.Background()

	for _, u := range [][2]string{{"alice", store.RoleUser}, {"bob", store.RoleUser}, {"dana", store.RoleReviewer}, {"eve", store.RoleReviewer}} {
		addUser(t, st, u[0], u[1])
	}
	for _, al := range [][2]string{{"alice", "trip"}, {"bob", "beach"}} {
		var created map[string]any
		require.Equal(t, http.StatusCreated, httpJSON(t, st, al[0], "POST", "/api/albums",
			strings.NewReader(`{"name":"`+al[1]+`"}`), "application/json", &created))
		require.Equal(t, al[1], created["albumID"])
	}
	var health map[string]string
	require.Equal(t, http.StatusOK, httpJSON(t, st, "", "GET", "/healthz", nil, "", &health))

	camera := mediatest.CameraJPEG(4032, 3024, 6)
	files := map[string][]byte{
		"camera.jpg":     camera,
		"screenshot.png": mediatest.PNG(mediatest.Photo(640, 400, 2), nil),
		"scan.tiff":      mediatest.TIFF(64, 48),
		"notes.jpg":      []byte("not an image at all\n"),
	}
	subs := map[string]map[string]any{}
	for name, data := range files {
		code, sub := upload(t, st, "alice", "trip", name, data)
		if name == "notes.jpg" {
			// The web app refuses what is no image at all; the bucket takes anything, and
			// the pipeline must record why it cannot process it.
			require.Equal(t, http.StatusUnsupportedMediaType, code, "%s: %v", name, sub)
			s, err := st.pipeline.Submit(ctx, "alice", "trip", name, data)
			require.NoError(t, err)
			sub = map[string]any{"workflowId": s.WorkflowID, "runId": s.RunID, "started": s.Started}
		} else {
			require.Equal(t, http.StatusAccepted, code, "%s: %v", name, sub)
		}
		require.Equal(t, true, sub["started"])
		subs[name] = sub
	}
	recs := map[string]photoflow.ImageRecord{}
	for name, sub := range subs {
		recs[name] = waitFor(t, st, sub["workflowId"].(string), sub["runId"].(string))
	}

	cam := recs["camera.jpg"]
	require.Equal(t, photoflow.StatusSucceeded, cam.Status, cam.ErrReason)
	require.Equal(t, "JPEG", cam.Format)
	require.Equal(t, &photoflow.Dimensions{Width: 4032, Height: 3024}, cam.Dimensions)
	require.Equal(t, 6, cam.Orientation)
	require.Equal(t, mediatest.CameraCreationTime, cam.CreationTime)
	require.Equal(t, mediatest.CameraMake, cam.ExifMake)
	require.Equal(t, mediatest.CameraModel, cam.ExifModel)
	require.InDelta(t, mediatest.CameraGPS.Latitude, cam.Geo.Latitude, 1e-4)
	require.InDelta(t, mediatest.CameraGPS.Longitude, cam.Geo.Longitude, 1e-4)
	require.Equal(t, int64(len(camera)), cam.FileSize)
	require.Equal(t, "alice", cam.UserID)
	require.Equal(t, "trip", cam.AlbumID)
	require.NotEmpty(t, cam.Tags)
	require.Contains(t, cam.Tags, "Portrait", "orientation 6 makes the landscape-stored picture upright portrait")
	require.Equal(t, photoflow.Thumbnail{Key: "Thumbnail/alice/trip/camera.jpg", Width: 188, Height: 250}, *cam.Thumbnail)
	thumb, info, err := st.objects.GetBytes(ctx, cfg.Bucket, cam.Thumbnail.Key, "", 0)
	require.NoError(t, err)
	require.Equal(t, "image/jpeg", info.ContentType)
	img, format, err := image.Decode(bytes.NewReader(thumb))
	require.NoError(t, err)
	require.Equal(t, "jpeg", format)
	require.Equal(t, image.Rect(0, 0, 188, 250), img.Bounds())

	png := recs["screenshot.png"]
	require.Equal(t, photoflow.StatusSucceeded, png.Status, png.ErrReason)
	require.Equal(t, "PNG", png.Format)
	require.Equal(t, 250, png.Thumbnail.Width)

	for _, name := range []string{"scan.tiff", "notes.jpg"} {
		rec := recs[name]
		require.Equal(t, photoflow.StatusFailed, rec.Status, name)
		require.Equal(t, photoflow.ErrFileNotSupported, rec.ErrorType, name)
		require.NotEmpty(t, rec.ErrReason, name)
	}
	require.Contains(t, recs["notes.jpg"].ErrReason, photoflow.ErrImageIdentify)
	require.Contains(t, recs["scan.tiff"].ErrReason, "TIFF")

	// The worker's /metrics counts images by final status and times every activity
	// (CloudWatch's ExecutionsSucceeded/Failed, and more).
	resp, err := http.Get("http://" + st.MetricsAddr + "/metrics")
	require.NoError(t, err)
	scrape, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Regexp(t, `photoflow_images_total\{[^}]*status="SUCCEEDED"[^}]*\} 2`, string(scrape))
	require.Regexp(t, `photoflow_images_total\{[^}]*error_type="FileNotSupported"[^}]*status="FAILED"[^}]*\} 2`, string(scrape))
	require.Contains(t, string(scrape), "photoflow_activity_duration")
	require.Contains(t, string(scrape), "temporal_")

	// What the API serves is what the store holds: one record each, terminal.
	var got photoflow.ImageRecord
	require.Equal(t, http.StatusOK, httpJSON(t, st, "alice", "GET", "/api/images/"+url.PathEscape("alice/trip/camera.jpg"), nil, "", &got))
	require.Equal(t, cam, got)
	require.Equal(t, http.StatusOK, httpJSON(t, st, "alice", "GET", "/api/images/alice/trip/notes.jpg", nil, "", &got))
	require.Equal(t, photoflow.StatusFailed, got.Status)
	var page struct{ Records []photoflow.ImageRecord }
	require.Equal(t, http.StatusOK, httpJSON(t, st, "alice", "GET", "/api/images?album=trip&status=FAILED", nil, "", &page))
	require.Len(t, page.Records, 2)

	// The same object again starts nothing; new content under the same key does.
	code, dup := upload(t, st, "alice", "trip", "camera.jpg", camera)
	require.Equal(t, http.StatusAccepted, code)
	require.Equal(t, false, dup["started"])
	require.Equal(t, subs["camera.jpg"]["workflowId"], dup["workflowId"])
	other := mediatest.CameraJPEG(1200, 900, 1)
	code, changed := upload(t, st, "alice", "trip", "camera.jpg", other)
	require.Equal(t, http.StatusAccepted, code)
	require.Equal(t, true, changed["started"])
	require.NotEqual(t, subs["camera.jpg"]["workflowId"], changed["workflowId"])
	newer := waitFor(t, st, changed["workflowId"].(string), changed["runId"].(string))
	require.Equal(t, photoflow.StatusSucceeded, newer.Status)
	require.Equal(t, &photoflow.Dimensions{Width: 1200, Height: 900}, newer.Dimensions)
	require.Equal(t, http.StatusOK, httpJSON(t, st, "alice", "GET", "/api/images?album=trip", nil, "", &page))
	require.Len(t, page.Records, 4, "one record per image, however often it was triggered")

	// Bad requests get clear answers.
	code, bad := upload(t, st, "alice", "../etc", "x.jpg", camera)
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, bad["error"], "album")
	code, bad = upload(t, st, "bob", "trip", "x.jpg", camera)
	require.Equal(t, http.StatusNotFound, code, "bob has no album trip: alice's is not his")
	require.Contains(t, bad["error"], "album")
	var unauth map[string]any
	require.Equal(t, http.StatusUnauthorized, httpJSON(t, st, "", "GET", "/api/images", nil, "", &unauth))
	require.Equal(t, http.StatusNotFound, httpJSON(t, st, "bob", "GET", "/api/images/"+url.PathEscape("alice/trip/camera.jpg"), nil, "", &unauth),
		"another user's image is not found")
	var missing map[string]string
	require.Equal(t, http.StatusNotFound, httpJSON(t, st, "alice", "GET", "/api/images/nobody%2Fnothing.jpg", nil, "", &missing))

	// A review that outlives a restart of everything: the run waits in the SQLite file.
	code, skin := upload(t, st, "bob", "beach", "skin.jpg", mediatest.JPEG(mediatest.SkinTone(400, 300), nil))
	require.Equal(t, http.StatusAccepted, code)
	pending := waitFor(t, st, skin["workflowId"].(string), skin["runId"].(string))
	require.Equal(t, photoflow.StatusPendingReview, pending.Status)
	require.NotNil(t, pending.Moderation.DeadlineAt)
	skinPath := "/api/images/" + url.PathEscape("bob/beach/skin.jpg")
	require.Eventually(t, func() bool {
		var r photoflow.ImageRecord
		return httpJSON(t, st, "bob", "GET", skinPath, nil, "", &r) == http.StatusOK && r.Status == photoflow.StatusPendingReview
	}, 10*time.Second, 50*time.Millisecond, "the inbox record says PENDING_REVIEW")

	// A batch in flight when everything stops: per-run settings with short timeouts make
	// the server retry the lost attempts quickly after the restart.
	fast := photoflow.DefaultSettings()
	for name, p := range fast.Activities {
		p.StartToClose = 5 * time.Second
		p.Heartbeat = 0
		p.InitialInterval = 100 * time.Millisecond
		fast.Activities[name] = p
	}
	var inflight []client.WorkflowRun
	for i := range 4 {
		key := fmt.Sprintf("Incoming/carol/batch/img%d.jpg", i)
		etag, err := st.objects.Put(ctx, cfg.Bucket, key, mediatest.CameraJPEG(2000+8*i, 1500, 1), "image/jpeg", nil)
		require.NoError(t, err)
		run, started, err := st.pipeline.Start(ctx, photoflow.ImageInput{Bucket: cfg.Bucket, Key: key, ETag: etag, Settings: &fast})
		require.NoError(t, err)
		require.True(t, started)
		inflight = append(inflight, run)
	}
	st.stop()

	st = startStack(t, testConfig(t, dataDir))
	for _, run := range inflight {
		rec := waitFor(t, st, run.GetID(), run.GetRunID())
		require.Equal(t, photoflow.StatusSucceeded, rec.Status, rec.ErrReason)
		require.Equal(t, "carol", rec.UserID, "user and album come from the key path when the object has no metadata")
		require.Equal(t, "batch", rec.AlbumID)
		require.NotNil(t, rec.Thumbnail)
	}
	var decided photoflow.DecisionResult
	require.Equal(t, http.StatusOK, httpJSON(t, st, "dana", "POST", skinPath+"/decision",
		bytes.NewReader([]byte(`{"decision":"approve","reason":"beach photo"}`)), "application/json", &decided))
	require.True(t, decided.Accepted)
	approved := waitFor(t, st, skin["workflowId"].(string), skin["runId"].(string))
	require.Equal(t, photoflow.StatusSucceeded, approved.Status)
	require.Equal(t, "dana", approved.Moderation.Reviewer)
	require.Equal(t, photoflow.ModerationApproved, approved.Moderation.Decision)
	var late map[string]any
	require.Equal(t, http.StatusConflict, httpJSON(t, st, "eve", "POST", skinPath+"/decision",
		bytes.NewReader([]byte(`{"decision":"reject"}`)), "application/json", &late))
	require.Equal(t, false, late["accepted"])

	// The workshop's retry experiment. ExtractImageMetadata reads only headers, so a short
	// timeout there rarely trips; GenerateThumbnail fetches and decodes 12 MP (tens of
	// milliseconds), so a 5 ms timeout with 3 attempts always does: the run ends
	// FAILED/Timeout and the history shows attempt 3.
	tiny := photoflow.DefaultSettings()
	p := tiny.Activities[photoflow.GenerateThumbnailActivity]
	p.StartToClose, p.MaximumAttempts, p.InitialInterval, p.Heartbeat = 5*time.Millisecond, 3, 100*time.Millisecond, 0
	tiny.Activities[photoflow.GenerateThumbnailActivity] = p
	etag, err := st.objects.Put(ctx, cfg.Bucket, "Incoming/alice/trip/big.jpg", camera, "image/jpeg", nil)
	require.NoError(t, err)
	run, _, err := st.pipeline.Start(ctx, photoflow.ImageInput{Bucket: cfg.Bucket, Key: "Incoming/alice/trip/big.jpg", ETag: etag, Settings: &tiny})
	require.NoError(t, err)
	timedOut := waitFor(t, st, run.GetID(), run.GetRunID())
	require.Equal(t, photoflow.StatusFailed, timedOut.Status)
	require.Equal(t, photoflow.ErrTimeout, timedOut.ErrorType, timedOut.ErrReason)
	require.Contains(t, timedOut.ErrReason, "retries exhausted")
	require.Contains(t, timedOut.ErrReason, photoflow.GenerateThumbnailActivity)
	hist := history(t, st, run.GetID(), run.GetRunID())
	var scheduled int64
	var attempts int32
	for _, e := range hist.GetEvents() {
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == photoflow.GenerateThumbnailActivity {
			scheduled = e.GetEventId()
		}
		if a := e.GetActivityTaskStartedEventAttributes(); a != nil && a.GetScheduledEventId() == scheduled {
			attempts = a.GetAttempt()
		}
	}
	require.Equal(t, int32(3), attempts, "the GenerateThumbnail attempt that ran last is the third")

	// Every history this test produced replays against today's workflow code, and the ones
	// the replay tests keep can be refreshed from here.
	// File names carry the workflow's shape: bump the suffix when a change adds a
	// GetVersion, and keep the older files, which prove old runs still replay.
	const shape = "v2"
	saved := map[string][2]string{
		"succeeded-camera-jpeg-" + shape + ".json": {subs["camera.jpg"]["workflowId"].(string), subs["camera.jpg"]["runId"].(string)},
		"failed-text-file-" + shape + ".json":      {subs["notes.jpg"]["workflowId"].(string), subs["notes.jpg"]["runId"].(string)},
		"review-approved-" + shape + ".json":       {skin["workflowId"].(string), skin["runId"].(string)},
		"timeout-retries-" + shape + ".json":       {run.GetID(), run.GetRunID()},
	}
	// Deleting an album removes its records, originals and thumbnails through a workflow.
	var del map[string]string
	require.Equal(t, http.StatusAccepted, httpJSON(t, st, "alice", "DELETE", "/api/albums/trip", nil, "", &del))
	var deleted int
	require.NoError(t, st.client.GetWorkflow(ctx, del["workflowId"], del["runId"]).Get(ctx, &deleted))
	require.Equal(t, 5, deleted, "camera (one record for both uploads), screenshot, scan, notes and the timed-out big.jpg")
	require.Equal(t, http.StatusNotFound, httpJSON(t, st, "alice", "GET", "/api/albums/trip/images", nil, "", &missing))
	require.Equal(t, http.StatusOK, httpJSON(t, st, "alice", "GET", "/api/images", nil, "", &page))
	require.Empty(t, page.Records)
	_, _, err = st.objects.GetBytes(ctx, cfg.Bucket, "Thumbnail/alice/trip/camera.jpg", "", 0)
	require.ErrorIs(t, err, objstore.ErrNotFound)
	_, _, err = st.objects.GetBytes(ctx, cfg.Bucket, "Incoming/alice/trip/camera.jpg", "", 0)
	require.ErrorIs(t, err, objstore.ErrNotFound)

	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflowWithOptions(workflows.ImageProcessing, workflow.RegisterOptions{Name: photoflow.ImageProcessingWorkflow})
	for file, ids := range saved {
		h := history(t, st, ids[0], ids[1])
		require.NoError(t, replayer.ReplayWorkflowHistory(nil, h), file)
		if os.Getenv("PHOTOFLOW_WRITE_HISTORIES") != "" {
			b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(h)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join("..", "workflows", "testdata", file), b, 0o644))
		}
	}
}

const testPassword = "integration-password"

func addUser(t *testing.T, st *stack, name, role string) {
	t.Helper()
	hash, err := web.HashPassword(testPassword)
	require.NoError(t, err)
	require.NoError(t, st.store.CreateUser(context.Background(), store.User{Name: name, Role: role, PasswordHash: hash, CreatedAt: time.Now()}, false))
}

func history(t *testing.T, st *stack, workflowID, runID string) *historypb.History {
	t.Helper()
	it := st.client.GetWorkflowHistory(context.Background(), workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		h.Events = append(h.Events, e)
	}
	return h
}

// TestPortTakenNamesItsFlag checks the error a user sees when a port is busy.
func TestPortTakenNamesItsFlag(t *testing.T) {
	l, err := listen("--http-addr", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	cfg := testConfig(t, t.TempDir())
	cfg.HTTPAddr = l.Addr().String()
	_, err = start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.ErrorContains(t, err, "--http-addr "+cfg.HTTPAddr+": address already in use")

	cfg = testConfig(t, t.TempDir())
	cfg.S3Addr = l.Addr().String()
	_, err = start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.ErrorContains(t, err, "--s3-addr")
}
