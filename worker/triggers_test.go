package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"photoflow"
	"photoflow/media/mediatest"
	"photoflow/store"
)

// TestTriggers lands objects the ways S3 users do: an event notification to
// /api/s3-events, and an object put with no event at all, which the bucket watcher finds.
func TestTriggers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	cfg := testConfig(t, t.TempDir())
	cfg.EventsSecret = "a-secret-of-sixteen+"
	cfg.WatchInterval, cfg.WatchSettle = 500*time.Millisecond, time.Millisecond
	st := startStack(t, cfg)
	defer st.stop()
	ctx := context.Background()

	// An event, key encoded as S3 encodes it (a space is '+').
	etag, err := st.objects.Put(ctx, cfg.Bucket, "Incoming/erin/summer/beach day.jpg", mediatest.CameraJPEG(800, 600, 1), "image/jpeg", nil)
	require.NoError(t, err)
	body := `{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"` + cfg.Bucket + `"},` +
		`"object":{"key":"Incoming/erin/summer/beach+day.jpg","eTag":"` + etag + `","size":1}}}]}`
	post := func(secret string) (int, string) {
		req, err := http.NewRequest("POST", "http://"+st.HTTPAddr+"/api/s3-events", strings.NewReader(body))
		require.NoError(t, err)
		if secret != "" {
			req.Header.Set("Authorization", "Bearer "+secret)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, _ := post("")
	require.Equal(t, http.StatusUnauthorized, code)
	code, answer := post(cfg.EventsSecret)
	require.Equal(t, http.StatusOK, code, answer)
	require.Contains(t, answer, `"started": 1`)
	code, answer = post(cfg.EventsSecret)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, answer, `"duplicates": 1`, "a redelivered event starts nothing new")

	// No event at all: the watcher finds the object without a record.
	_, err = st.objects.Put(ctx, cfg.Bucket, "Incoming/erin/summer/quiet.png", mediatest.PNG(mediatest.Photo(320, 200, 3), nil), "image/png", nil)
	require.NoError(t, err)
	// Thumbnails never trigger anything.
	_, err = st.objects.Put(ctx, cfg.Bucket, "Thumbnail/erin/summer/not-a-trigger.jpg", mediatest.CameraJPEG(100, 80, 1), "image/jpeg", nil)
	require.NoError(t, err)

	for _, id := range []string{"erin/summer/beach day.jpg", "erin/summer/quiet.png"} {
		require.Eventually(t, func() bool {
			rec, err := st.store.Get(ctx, id)
			return err == nil && rec.Status == photoflow.StatusSucceeded
		}, time.Minute, 100*time.Millisecond, id)
	}
	_, err = st.store.Get(ctx, "Thumbnail/erin/summer/not-a-trigger.jpg")
	require.Error(t, err)
	page, err := st.store.List(ctx, storeFilterUser("erin"))
	require.NoError(t, err)
	require.Len(t, page.Records, 2, "one record per object, however many triggers")
}

func storeFilterUser(u string) store.Filter { return store.Filter{UserID: u} }
