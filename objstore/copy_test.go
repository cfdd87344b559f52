package objstore_test

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"photoflow/objstore"
)

func TestCopySourceEncoding(t *testing.T) {
	assert.Equal(t, "b/dir%20x/a%2Bb%3F.jpg", objstore.CopySource("b", "dir x/a+b?.jpg"))
	assert.Equal(t, "b/Staging/i/%C3%A9t%C3%A9.png", objstore.CopySource("b", "Staging/i/été.png"))
}

// TestCopyServerSide runs CopyObject against gofakes3's in-memory backend: the bolt one the
// embedded server uses cannot copy safely (see Copy).
func TestCopyServerSide(t *testing.T) {
	ctx := testContext(t)
	srv := httptest.NewServer(gofakes3.New(s3mem.New(), gofakes3.WithTimeSkewLimit(0)).Server())
	t.Cleanup(srv.Close)
	s := client(t, ctx, srv.URL)
	for _, b := range []string{"src", "dst"} {
		require.NoError(t, s.EnsureBucket(ctx, b))
	}
	data := []byte("some picture")
	key := "dir x/a+b.jpg"
	etag, err := s.Put(ctx, "src", key, data, "image/jpeg", map[string]string{"old": "1"})
	require.NoError(t, err)

	got, err := s.Copy(ctx, objstore.CopyInput{SrcBucket: "src", SrcKey: key, SrcETag: etag,
		DstBucket: "dst", DstKey: "Incoming/u/a/a+b.jpg", Metadata: map[string]string{"userid": "u"},
		ContentType: "image/jpeg", Mode: objstore.CopyServerSide})
	require.NoError(t, err)
	assert.Equal(t, etag, got)
	b, info, err := s.GetBytes(ctx, "dst", "Incoming/u/a/a+b.jpg", "", 0)
	require.NoError(t, err)
	assert.Equal(t, data, b)
	assert.Equal(t, "u", info.Metadata["userid"])
	assert.Equal(t, "image/jpeg", info.ContentType)

	_, err = s.Copy(ctx, objstore.CopyInput{SrcBucket: "src", SrcKey: "missing.jpg", DstBucket: "dst",
		DstKey: "x.jpg", Mode: objstore.CopyServerSide})
	require.ErrorIs(t, err, objstore.ErrNotFound)
}

// TestCopyAutoOnEmbeddedServer copies enough to grow the bolt file: a server-side copy
// there faults the test process, so this passing means Auto went through the client.
func TestCopyAutoOnEmbeddedServer(t *testing.T) {
	s, ctx := start(t)
	for i := range 20 {
		data := bytes.Repeat([]byte{byte(i)}, 64<<10)
		key := fmt.Sprintf("Staging/i/%02d.jpg", i)
		etag, err := s.Put(ctx, bucket, key, data, "image/png", nil)
		require.NoError(t, err)
		dst := fmt.Sprintf("Incoming/u/a/%02d.jpg", i)
		got, err := s.Copy(ctx, objstore.CopyInput{SrcBucket: bucket, SrcKey: key, SrcETag: etag,
			DstBucket: bucket, DstKey: dst, Metadata: map[string]string{"albumid": "a"}, ContentType: "image/png"})
		require.NoError(t, err)
		assert.Equal(t, etag, got)
		b, info, err := s.GetBytes(ctx, bucket, dst, "", 0)
		require.NoError(t, err)
		assert.Equal(t, data, b)
		assert.Equal(t, "a", info.Metadata["albumid"])
		assert.Equal(t, "image/png", info.ContentType)
	}
	etag, err := s.Put(ctx, bucket, "Staging/i/v.jpg", []byte("v1"), "", nil)
	require.NoError(t, err)
	_, err = s.Put(ctx, bucket, "Staging/i/v.jpg", []byte("v2"), "", nil)
	require.NoError(t, err)
	_, err = s.Copy(ctx, objstore.CopyInput{SrcBucket: bucket, SrcKey: "Staging/i/v.jpg", SrcETag: etag,
		DstBucket: bucket, DstKey: "Incoming/u/a/v.jpg"})
	require.ErrorIs(t, err, objstore.ErrChanged, "a pinned source that changed must not be copied")
	_, err = s.Copy(ctx, objstore.CopyInput{SrcBucket: bucket, SrcKey: "Staging/i/none.jpg", DstBucket: bucket, DstKey: "x"})
	require.ErrorIs(t, err, objstore.ErrNotFound)
}

func TestListAfter(t *testing.T) {
	s, ctx := start(t)
	for i := range 6 {
		_, err := s.Put(ctx, bucket, fmt.Sprintf("p/%d", i), []byte{1}, "", nil)
		require.NoError(t, err)
	}
	page, err := s.ListAfter(ctx, bucket, "p/", "", "p/3", 0)
	require.NoError(t, err)
	var keys []string
	for _, o := range page.Objects {
		keys = append(keys, o.Key)
	}
	assert.Equal(t, []string{"p/4", "p/5"}, keys)
	assert.Empty(t, page.Next)

	var all []string
	require.NoError(t, s.ListAll(ctx, bucket, "p/", func(o objstore.ListedObject) error {
		all = append(all, o.Key)
		return nil
	}))
	assert.Len(t, all, 6)
}
