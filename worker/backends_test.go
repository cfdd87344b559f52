package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"photoflow"
	"photoflow/media/mediatest"
)

// processTwo runs a camera JPEG and a text file through a running stack and checks both
// records in its store.
func processTwo(t *testing.T, st *stack, user string) {
	t.Helper()
	ctx := context.Background()
	cam, err := st.pipeline.Submit(ctx, user, "trip", "camera.jpg", mediatest.CameraJPEG(1600, 1200, 6))
	require.NoError(t, err)
	txt, err := st.pipeline.Submit(ctx, user, "trip", "notes.jpg", []byte("not an image\n"))
	require.NoError(t, err)

	rec := waitFor(t, st, cam.WorkflowID, cam.RunID)
	require.Equal(t, photoflow.StatusSucceeded, rec.Status, rec.ErrReason)
	require.Equal(t, 188, rec.Thumbnail.Width)
	stored, err := st.store.Get(ctx, cam.ImageID)
	require.NoError(t, err)
	require.Equal(t, rec.Tags, stored.Tags)
	require.Equal(t, mediatest.CameraModel, stored.ExifModel)
	require.Equal(t, photoflow.StatusSucceeded, stored.Status)

	failed := waitFor(t, st, txt.WorkflowID, txt.RunID)
	require.Equal(t, photoflow.StatusFailed, failed.Status)
	require.Eventually(t, func() bool {
		r, err := st.store.Get(ctx, txt.ImageID)
		return err == nil && r.Status == photoflow.StatusFailed && r.ErrorType == photoflow.ErrFileNotSupported
	}, 10*time.Second, 50*time.Millisecond)

	albums, err := st.store.ListAlbums(ctx, user)
	require.NoError(t, err)
	require.Len(t, albums, 1, "images make their album appear")
}

// TestWorkerOnPostgres runs the whole pipeline with PostgreSQL as the metadata store.
func TestWorkerOnPostgres(t *testing.T) {
	dsn := os.Getenv("PHOTOFLOW_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("PHOTOFLOW_TEST_POSTGRES is required in CI (.ci/postgres starts one)")
		}
		t.Skip("PHOTOFLOW_TEST_POSTGRES not set")
	}
	cfg := testConfig(t, t.TempDir())
	cfg.Store, cfg.PostgresDSN = storePostgres, dsn
	st := startStack(t, cfg)
	defer st.stop()
	processTwo(t, st, "pg"+time.Now().Format("150405"))
}

// TestWorkerOnDynamoDB runs the whole pipeline with DynamoDB (dynalite) as the store, with
// the original workshop's tables.
func TestWorkerOnDynamoDB(t *testing.T) {
	endpoint := os.Getenv("PHOTOFLOW_TEST_DYNAMODB")
	if endpoint == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("PHOTOFLOW_TEST_DYNAMODB is required in CI (.ci/dynalite starts one)")
		}
		t.Skip("PHOTOFLOW_TEST_DYNAMODB not set")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "dynalite")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "dynalite")
	cfg := testConfig(t, t.TempDir())
	cfg.Store, cfg.DynamoEndpoint, cfg.DynamoRegion = storeDynamoDB, endpoint, "us-east-1"
	cfg.DynamoTablePrefix, cfg.CreateTables = "wt"+time.Now().Format("150405")+"-", true
	st := startStack(t, cfg)
	defer st.stop()
	processTwo(t, st, "dynamo")
}

// TestRolesSplitAcrossProcesses runs thumbnails in a second worker that has only that role,
// against the first one's Temporal and S3: the first cannot make thumbnails at all.
func TestRolesSplitAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	main := testConfig(t, t.TempDir())
	main.Roles = []string{roleWorkflows, roleActivities}
	a := startStack(t, main)
	defer a.stop()

	t.Setenv("TEMPORAL_ADDRESS", a.TemporalAddr)
	t.Setenv("AWS_ACCESS_KEY_ID", photoflow.DefaultS3AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", photoflow.DefaultS3SecretKey)
	thumbs := testConfig(t, t.TempDir())
	thumbs.ExternalTemporal, thumbs.S3Endpoint, thumbs.S3PathStyle = true, a.S3Endpoint, true
	thumbs.Roles, thumbs.HTTPAddr = []string{roleThumbnails}, ""
	b := startStack(t, thumbs)
	defer b.stop()
	require.Nil(t, b.temporal, "the thumbnailer embeds no server")

	processTwo(t, a, "split")
}
