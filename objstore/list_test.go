package objstore_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"photoflow/objstore"
)

func TestListPagesInKeyOrder(t *testing.T) {
	s, ctx := start(t)
	before := time.Now().Add(-time.Minute)
	want := map[string]string{}
	for i := range 12 {
		key := fmt.Sprintf("Incoming/u/a/%02d.jpg", i)
		etag, err := s.Put(ctx, bucket, key, []byte(key), "", nil)
		require.NoError(t, err)
		want[key] = etag
	}
	_, err := s.Put(ctx, bucket, "Thumbnail/u/a/00.jpg", []byte("thumb"), "", nil)
	require.NoError(t, err)

	var keys []string
	token, pages := "", 0
	for {
		page, err := s.List(ctx, bucket, "Incoming/", token, 5)
		require.NoError(t, err)
		pages++
		require.LessOrEqual(t, len(page.Objects), 5, "page %d ignores the page size", pages)
		for _, o := range page.Objects {
			keys = append(keys, o.Key)
			assert.Equal(t, want[o.Key], o.ETag, "%s: ETag must match Put's, unquoted", o.Key)
			assert.Equal(t, int64(len(o.Key)), o.Size, o.Key)
			assert.True(t, o.LastModified.After(before), "%s: LastModified %v", o.Key, o.LastModified)
		}
		if page.Next == "" {
			break
		}
		token = page.Next
		require.Less(t, pages, 10, "listing never ends")
	}
	assert.Equal(t, 3, pages)
	require.Len(t, keys, 12)
	for i, k := range keys {
		assert.Equal(t, fmt.Sprintf("Incoming/u/a/%02d.jpg", i), k)
		assert.False(t, strings.HasPrefix(k, "Thumbnail/"))
	}
}

func TestListMissingBucket(t *testing.T) {
	s, ctx := start(t)
	_, err := s.List(ctx, "no-such-bucket", "Incoming/", "", 0)
	require.ErrorIs(t, err, objstore.ErrNotFound)
}
