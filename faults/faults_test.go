package faults_test

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"photoflow"
	"photoflow/faults"
	"photoflow/objstore"
	"photoflow/store"
	"photoflow/vision"
)

func TestParseSpec(t *testing.T) {
	sp, err := faults.ParseSpec("throttle=0.1, 5xx=0.15,hang=0.05,targets=objects+vision,seed=7")
	require.NoError(t, err)
	require.Equal(t, map[string]float64{"throttle": 0.1, "5xx": 0.15, "hang": 0.05}, sp.Rates)
	require.Equal(t, []string{"objects", "vision"}, sp.Targets)
	require.Equal(t, uint64(7), sp.Seed)
	require.True(t, sp.Injects(faults.Objects))
	require.False(t, sp.Injects(faults.Store))
	require.Equal(t, "throttle=0.1,5xx=0.15,hang=0.05,targets=objects+vision,seed=7", sp.String())

	none, err := faults.ParseSpec("")
	require.NoError(t, err)
	require.False(t, none.Enabled())
	require.False(t, none.Injects(faults.Objects))

	for _, bad := range []string{"throttle", "throttle=2", "throttle=-0.1", "slow=0.1", "targets=disk",
		"throttle=0.6,5xx=0.6", "seed=x"} {
		_, err := faults.ParseSpec(bad)
		require.Error(t, err, bad)
	}
}

// TestRates draws many calls and checks each kind's share against its rate.
func TestRates(t *testing.T) {
	sp, err := faults.ParseSpec("throttle=0.12,5xx=0.12,hang=0.06,seed=1")
	require.NoError(t, err)
	in := faults.New(sp)
	s := &countingStore{}
	st := in.Store(s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // hangs return at once
	const n = 20000
	for range n {
		_, _ = st.Get(ctx, "x")
	}
	c := in.Counts()
	require.Equal(t, int64(n), c.Calls[faults.Store])
	for kind, rate := range sp.Rates {
		got := float64(c.Faults[faults.Store][kind]) / n
		require.InDelta(t, rate, got, 4*math.Sqrt(rate*(1-rate)/n), kind)
	}
	require.Equal(t, int64(n)-c.Total(), s.gets, "every call without a fault reaches the store")
	require.Zero(t, c.Calls[faults.Objects])
}

// TestObjectFaultsSpeakS3 sends injected faults through the real S3 client and server: the
// SDK must report S3's own error codes.
func TestObjectFaultsSpeakS3(t *testing.T) {
	srv, err := objstore.StartEmbedded(filepath.Join(t.TempDir(), "s3.bolt"), "127.0.0.1:0")
	require.NoError(t, err)
	defer srv.Close()
	ctx := context.Background()
	cfg := objstore.Config{Endpoint: srv.Endpoint(), Region: photoflow.DefaultS3Region,
		AccessKey: photoflow.DefaultS3AccessKey, SecretKey: photoflow.DefaultS3SecretKey, PathStyle: true}
	clean, err := objstore.New(ctx, cfg)
	require.NoError(t, err)
	require.NoError(t, clean.EnsureBucket(ctx, "bkt"))

	try := func(spec string, call func(s *objstore.Store) error) error {
		sp, err := faults.ParseSpec(spec)
		require.NoError(t, err)
		c := cfg
		c.WrapTransport = faults.New(sp).Transport
		s, err := objstore.New(ctx, c)
		require.NoError(t, err)
		return call(s)
	}
	code := func(err error) string {
		var api smithy.APIError
		require.ErrorAs(t, err, &api)
		return api.ErrorCode()
	}
	put := func(s *objstore.Store) error {
		_, err := s.Put(ctx, "bkt", "k", []byte("data"), "text/plain", nil)
		return err
	}
	require.Equal(t, "SlowDown", code(try("throttle=1", put)))
	require.Equal(t, "AccessDenied", code(try("permanent=1", put)))
	require.Equal(t, "InternalError", code(try("5xx=1", put)))
	require.Equal(t, 503, objstore.HTTPStatus(try("throttle=1", func(s *objstore.Store) error {
		_, err := s.Head(ctx, "bkt", "k")
		return err
	})))

	hctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err = try("hang=1", func(s *objstore.Store) error {
		_, err := s.Put(hctx, "bkt", "hung", []byte("data"), "text/plain", nil)
		return err
	})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	_, err = clean.Head(ctx, "bkt", "hung")
	require.ErrorIs(t, err, objstore.ErrNotFound, "a hung call never reached the server")

	// Half the server errors come after the write: over many puts, some land.
	landed := 0
	for i := range 40 {
		key := "after-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		err := try("5xx=1,seed="+string(rune('1'+i%9)), func(s *objstore.Store) error {
			_, err := s.Put(ctx, "bkt", key, []byte("data"), "text/plain", nil)
			return err
		})
		require.Error(t, err)
		if _, err := clean.Head(ctx, "bkt", key); err == nil {
			landed++
		}
	}
	require.Greater(t, landed, 0, "some 5xx answers must follow a write that was made")
	require.Less(t, landed, 40, "some 5xx answers must come before the write")
}

func TestStoreAndVisionFaults(t *testing.T) {
	ctx := context.Background()
	db, err := store.OpenSQLite(filepath.Join(t.TempDir(), "m.db"))
	require.NoError(t, err)
	defer db.Close()
	rec := photoflow.ImageRecord{ImageID: "i1", Status: photoflow.StatusSucceeded, UploadTime: time.Unix(1, 0).UTC()}

	sp, _ := faults.ParseSpec("throttle=1")
	err = faults.New(sp).Store(db).Put(ctx, rec)
	var api smithy.APIError
	require.ErrorAs(t, err, &api)
	require.Equal(t, "ProvisionedThroughputExceededException", api.ErrorCode())
	require.ErrorIs(t, err, faults.ErrInjected)
	_, err = db.Get(ctx, "i1")
	require.ErrorIs(t, err, store.ErrNotFound, "a throttled write is not made")

	sp, _ = faults.ParseSpec("5xx=1,seed=3")
	in := faults.New(sp)
	for range 20 {
		err := in.Store(db).Put(ctx, rec)
		require.ErrorAs(t, err, &api)
		require.Equal(t, smithy.FaultServer, api.ErrorFault())
	}
	_, err = db.Get(ctx, "i1")
	require.NoError(t, err, "some of twenty 5xx answers came after the write")

	sp, _ = faults.ParseSpec("hang=1,targets=vision")
	in = faults.New(sp)
	require.Equal(t, db, in.Store(db), "store is not a target")
	v := in.Analyzer(vision.NewOffline())
	hctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = v.DetectModeration(hctx, vision.Image{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, err, faults.ErrInjected)
	require.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)

	sp, _ = faults.ParseSpec("throttle=1,targets=vision")
	_, err = faults.New(sp).Analyzer(vision.NewOffline()).DetectLabels(ctx, vision.Image{}, 10, 60)
	require.ErrorAs(t, err, &api)
	require.Equal(t, "ThrottlingException", api.ErrorCode())
	require.False(t, errors.Is(err, context.DeadlineExceeded))
}

type countingStore struct {
	store.Store
	gets int64
}

func (c *countingStore) Get(context.Context, string) (photoflow.ImageRecord, error) {
	c.gets++
	return photoflow.ImageRecord{}, nil
}
