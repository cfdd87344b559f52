package objstore_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"photoflow/objstore"
)

const bucket = "photos"

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func client(t *testing.T, ctx context.Context, endpoint string) *objstore.Store {
	t.Helper()
	s, err := objstore.New(ctx, objstore.Config{Endpoint: endpoint, Region: "us-east-1",
		AccessKey: "k", SecretKey: "s", PathStyle: true})
	require.NoError(t, err)
	return s
}

// start serves a fresh bolt file and returns a client with the test bucket in place.
func start(t *testing.T) (*objstore.Store, context.Context) {
	t.Helper()
	ctx := testContext(t)
	e, err := objstore.StartEmbedded(filepath.Join(t.TempDir(), "s3.bolt"), "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	s := client(t, ctx, e.Endpoint())
	require.NoError(t, s.EnsureBucket(ctx, bucket))
	return s, ctx
}

func md5hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// randomBytes are incompressible and position-dependent, so a read from the wrong offset
// cannot match by accident.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestEnsureBucketIdempotent(t *testing.T) {
	s, ctx := start(t)
	require.NoError(t, s.EnsureBucket(ctx, bucket))
	require.NoError(t, s.EnsureBucket(ctx, "other"))
	require.NoError(t, s.EnsureBucket(ctx, "other"))

	// The buckets must really exist: a Put into one that was never made fails.
	_, err := s.Put(ctx, "other", "k", []byte("x"), "", nil)
	require.NoError(t, err)
	_, err = s.Put(ctx, "never-made", "k", []byte("x"), "", nil)
	require.Error(t, err)
}

func TestPutHeadGetRoundTrip(t *testing.T) {
	s, ctx := start(t)
	data := randomBytes(10_000, 1)
	meta := map[string]string{"userid": "u1", "albumid": "a1"}

	etag, err := s.Put(ctx, bucket, "Incoming/u1/a1/x.bin", data, "image/jpeg", meta)
	require.NoError(t, err)
	assert.Equal(t, md5hex(data), etag)
	assert.NotContains(t, etag, `"`)

	info, err := s.Head(ctx, bucket, "Incoming/u1/a1/x.bin")
	require.NoError(t, err)
	assert.Equal(t, int64(len(data)), info.Size)
	assert.Equal(t, etag, info.ETag)
	assert.Equal(t, "image/jpeg", info.ContentType)
	assert.Equal(t, "u1", info.Metadata["userid"])
	assert.Equal(t, "a1", info.Metadata["albumid"])
	for k := range info.Metadata {
		assert.Equal(t, strings.ToLower(k), k, "metadata keys are lower-case")
	}
	assert.WithinDuration(t, time.Now(), info.LastModified, time.Minute)

	for _, pin := range []string{"", etag, `"` + etag + `"`} {
		body, ginfo, err := s.Get(ctx, bucket, "Incoming/u1/a1/x.bin", pin)
		require.NoError(t, err, "etag pin %q", pin)
		got, err := io.ReadAll(body)
		require.NoError(t, err)
		require.NoError(t, body.Close())
		assert.Equal(t, data, got)
		assert.Equal(t, etag, ginfo.ETag)
		assert.Equal(t, "u1", ginfo.Metadata["userid"])
	}

	got, ginfo, err := s.GetBytes(ctx, bucket, "Incoming/u1/a1/x.bin", etag, int64(len(data)))
	require.NoError(t, err)
	assert.Equal(t, data, got)
	assert.Equal(t, int64(len(data)), ginfo.Size)
}

func TestGetWrongETag(t *testing.T) {
	s, ctx := start(t)
	_, err := s.Put(ctx, bucket, "k", []byte("hello"), "", nil)
	require.NoError(t, err)

	body, info, err := s.Get(ctx, bucket, "k", md5hex([]byte("other")))
	require.ErrorIs(t, err, objstore.ErrChanged)
	assert.Nil(t, body)
	assert.Equal(t, md5hex([]byte("hello")), info.ETag, "the caller learns what the key holds now")

	_, _, err = s.GetBytes(ctx, bucket, "k", "0123", 0)
	require.ErrorIs(t, err, objstore.ErrChanged)
}

func TestMissingKey(t *testing.T) {
	s, ctx := start(t)

	_, err := s.Head(ctx, bucket, "nope")
	require.ErrorIs(t, err, objstore.ErrNotFound)
	assert.Equal(t, 404, objstore.HTTPStatus(err))

	_, _, err = s.Get(ctx, bucket, "nope", "")
	require.ErrorIs(t, err, objstore.ErrNotFound)

	_, _, err = s.GetBytes(ctx, bucket, "nope", "", 10)
	require.ErrorIs(t, err, objstore.ErrNotFound)

	_, err = s.Head(ctx, "no-such-bucket", "nope")
	require.ErrorIs(t, err, objstore.ErrNotFound)

	require.NoError(t, s.Delete(ctx, bucket, "nope"))
}

func TestDelete(t *testing.T) {
	s, ctx := start(t)
	_, err := s.Put(ctx, bucket, "k", []byte("x"), "", nil)
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, bucket, "k"))
	_, err = s.Head(ctx, bucket, "k")
	require.ErrorIs(t, err, objstore.ErrNotFound)
	require.NoError(t, s.Delete(ctx, bucket, "k"), "deleting twice is harmless")
}

func TestGetBytesLimit(t *testing.T) {
	s, ctx := start(t)
	data := randomBytes(1000, 2)
	_, err := s.Put(ctx, bucket, "k", data, "", nil)
	require.NoError(t, err)

	got, info, err := s.GetBytes(ctx, bucket, "k", "", 999)
	require.Error(t, err)
	require.ErrorIs(t, err, objstore.ErrTooLarge)
	assert.Nil(t, got)
	assert.Equal(t, int64(1000), info.Size)

	got, _, err = s.GetBytes(ctx, bucket, "k", "", 1000)
	require.NoError(t, err, "the limit is inclusive")
	assert.Equal(t, data, got)

	got, _, err = s.GetBytes(ctx, bucket, "k", "", 0)
	require.NoError(t, err, "0 means no limit")
	assert.Equal(t, data, got)
}

func TestRangeReaderOffsets(t *testing.T) {
	s, ctx := start(t)
	const block = 64 << 10
	data := randomBytes(3*block+12345, 3)
	_, err := s.Put(ctx, bucket, "big", data, "", nil)
	require.NoError(t, err)
	info, err := s.Head(ctx, bucket, "big")
	require.NoError(t, err)

	r := s.ReaderAt(ctx, bucket, "big", info)
	size := int64(len(data))
	cases := []struct{ off, n int64 }{
		{0, 1}, {0, 100}, {block - 1, 1}, {block - 1, 2}, {block - 10, 20},
		{block, 1}, {block + 7, 300}, {2*block - 5, block + 10}, // spans three blocks
		{10, 3 * block}, {size - 1, 1}, {size - 100, 100}, {12345, 54321},
	}
	for _, c := range cases {
		p := make([]byte, c.n)
		n, err := r.ReadAt(p, c.off)
		if err != nil {
			// io.ReaderAt may report EOF with a full read that ends at the end.
			require.ErrorIs(t, err, io.EOF, "off %d n %d", c.off, c.n)
			require.Equal(t, size, c.off+c.n)
		}
		require.Equal(t, int(c.n), n, "off %d n %d", c.off, c.n)
		require.True(t, bytes.Equal(data[c.off:c.off+c.n], p), "bytes at off %d n %d", c.off, c.n)
	}

	// io.SectionReader drives ReadAt as a parser would: the whole object must come back.
	all, err := io.ReadAll(io.NewSectionReader(r, 0, size))
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, all))
}

func TestRangeReaderEOF(t *testing.T) {
	s, ctx := start(t)
	data := randomBytes(1000, 4)
	_, err := s.Put(ctx, bucket, "k", data, "", nil)
	require.NoError(t, err)
	info, err := s.Head(ctx, bucket, "k")
	require.NoError(t, err)
	r := s.ReaderAt(ctx, bucket, "k", info)

	p := make([]byte, 10)
	n, err := r.ReadAt(p, 1000)
	assert.Equal(t, 0, n)
	assert.ErrorIs(t, err, io.EOF)

	n, err = r.ReadAt(p, 5000)
	assert.Equal(t, 0, n)
	assert.ErrorIs(t, err, io.EOF)

	// A read running past the end returns what there is, then EOF.
	n, err = r.ReadAt(p, 995)
	assert.Equal(t, 5, n)
	assert.ErrorIs(t, err, io.EOF)
	assert.Equal(t, data[995:], p[:5])

	_, err = r.ReadAt(p, -1)
	assert.Error(t, err)
	assert.NotErrorIs(t, err, io.EOF)
}

func TestRangeReaderFetchesOnlyWhatIsRead(t *testing.T) {
	s, ctx := start(t)
	data := randomBytes(3<<20, 5)
	_, err := s.Put(ctx, bucket, "huge", data, "", nil)
	require.NoError(t, err)
	info, err := s.Head(ctx, bucket, "huge")
	require.NoError(t, err)
	require.Equal(t, int64(3<<20), info.Size)

	r := s.ReaderAt(ctx, bucket, "huge", info)
	p := make([]byte, 4096)
	for _, off := range []int64{0, 100, 2000, 60000} {
		_, err := r.ReadAt(p[:1000], off)
		require.NoError(t, err)
		require.Equal(t, data[off:off+1000], p[:1000])
	}
	assert.Equal(t, int64(64<<10), r.Fetched, "reads within one block fetch it once")

	_, err = r.ReadAt(p, 2<<20)
	require.NoError(t, err)
	assert.Equal(t, data[2<<20:2<<20+4096], p)
	assert.Equal(t, int64(128<<10), r.Fetched)
}

func TestRangeReaderObjectReplaced(t *testing.T) {
	s, ctx := start(t)
	old := randomBytes(200_000, 6)
	_, err := s.Put(ctx, bucket, "k", old, "", nil)
	require.NoError(t, err)
	info, err := s.Head(ctx, bucket, "k")
	require.NoError(t, err)
	r := s.ReaderAt(ctx, bucket, "k", info)

	p := make([]byte, 100)
	_, err = r.ReadAt(p, 0)
	require.NoError(t, err)

	_, err = s.Put(ctx, bucket, "k", randomBytes(200_000, 7), "", nil)
	require.NoError(t, err)

	// The first block is cached and still describes the old content consistently; any
	// block fetched from now on would mix two objects.
	_, err = r.ReadAt(p, 150_000)
	require.ErrorIs(t, err, objstore.ErrChanged)
}

// TestServerIgnoresIfMatchOnGet documents why RangeReader compares ETags itself: the
// embedded server serves a GET whose If-Match names other content.
func TestServerIgnoresIfMatchOnGet(t *testing.T) {
	s, ctx := start(t)
	_, err := s.Put(ctx, bucket, "k", []byte("current"), "", nil)
	require.NoError(t, err)
	out, err := s.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"),
		IfMatch: aws.String(`"` + md5hex([]byte("stale")) + `"`)})
	if err != nil {
		// A server that honours If-Match answers 412, which wrap maps to ErrChanged.
		assert.Equal(t, 412, objstore.HTTPStatus(err))
		return
	}
	defer out.Body.Close()
	assert.Equal(t, `"`+md5hex([]byte("current"))+`"`, aws.ToString(out.ETag))
}

func TestReopenKeepsObjects(t *testing.T) {
	ctx := testContext(t)
	path := filepath.Join(t.TempDir(), "s3.bolt")
	e, err := objstore.StartEmbedded(path, "127.0.0.1:0")
	require.NoError(t, err)
	s := client(t, ctx, e.Endpoint())
	require.NoError(t, s.EnsureBucket(ctx, bucket))
	data := randomBytes(5000, 8)
	etag, err := s.Put(ctx, bucket, "kept", data, "image/png", map[string]string{"userid": "u"})
	require.NoError(t, err)
	require.NoError(t, e.Close())

	// Closed means closed: the old endpoint no longer answers.
	_, err = s.Head(ctx, bucket, "kept")
	require.Error(t, err)

	e2, err := objstore.StartEmbedded(path, "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = e2.Close() })
	s2 := client(t, ctx, e2.Endpoint())
	got, info, err := s2.GetBytes(ctx, bucket, "kept", etag, 0)
	require.NoError(t, err)
	assert.Equal(t, data, got)
	assert.Equal(t, "image/png", info.ContentType)
	assert.Equal(t, "u", info.Metadata["userid"])
}

func TestSecondStartOnSameFileFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s3.bolt")
	e, err := objstore.StartEmbedded(path, "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })

	begin := time.Now()
	e2, err := objstore.StartEmbedded(path, "127.0.0.1:0")
	elapsed := time.Since(begin)
	if e2 != nil {
		_ = e2.Close()
	}
	require.Error(t, err)
	assert.Nil(t, e2)
	assert.Contains(t, err.Error(), path, "the error names the file")
	assert.Contains(t, err.Error(), "in use", "the error says why")
	assert.Less(t, elapsed, 4*time.Second, "a held file must not hang start-up")

	// The failed start gave its port back and left the first server working.
	ctx := testContext(t)
	s := client(t, ctx, e.Endpoint())
	require.NoError(t, s.EnsureBucket(ctx, bucket))
}

func TestStartOnBusyAddressFails(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	path := filepath.Join(t.TempDir(), "s3.bolt")
	_, err = objstore.StartEmbedded(path, l.Addr().String())
	require.Error(t, err)

	// The file was not left locked by the failed start.
	e, err := objstore.StartEmbedded(path, "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, e.Close())
}

func TestHTTPStatus(t *testing.T) {
	assert.Equal(t, 0, objstore.HTTPStatus(errors.New("plain")))
	assert.Equal(t, 0, objstore.HTTPStatus(nil))
	assert.Equal(t, 0, objstore.HTTPStatus(&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("refused")}))

	// A refused connection carries no status either.
	ctx := testContext(t)
	s := client(t, ctx, "http://127.0.0.1:1")
	_, err := s.Head(ctx, bucket, "k")
	require.Error(t, err)
	assert.Equal(t, 0, objstore.HTTPStatus(err))
	assert.NotErrorIs(t, err, objstore.ErrNotFound)
}

// TestEmbeddedReadsWhileTheFileGrows reads and copies objects while other goroutines write enough to
// grow the bolt file many times over: the server hands out bytes that alias bolt's memory
// map, so a remap under a reader would crash the process (it did, before the mapping was
// reserved up front).
func TestEmbeddedReadsWhileTheFileGrows(t *testing.T) {
	s, ctx := start(t)
	const writers, perWriter, size = 4, 24, 256 << 10
	var wg sync.WaitGroup
	stored := make(chan [2]string, writers*perWriter)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				data := randomBytes(size, uint64(w*1000+i))
				key := fmt.Sprintf("grow/w%d/%d", w, i)
				if _, err := s.Put(ctx, bucket, key, data, "application/octet-stream", nil); err != nil {
					t.Error(err)
					return
				}
				stored <- [2]string{key, md5hex(data)}
				// A server-side copy reads the source's bytes and writes them in one
				// request: the case that crashed the server when the write grew the file.
				src := bucket + "/" + key
				if _, err := s.S3.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String(key + ".copy"), CopySource: aws.String(src)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	var reads atomic.Int64
	var rg sync.WaitGroup
	for range 4 {
		rg.Add(1)
		go func() {
			defer rg.Done()
			var seen [][2]string
			for {
				select {
				case <-done:
					return
				case kv := <-stored:
					seen = append(seen, kv)
				default:
				}
				if len(seen) == 0 {
					continue
				}
				kv := seen[len(seen)-1]
				data, _, err := s.GetBytes(ctx, bucket, kv[0], "", 0)
				if err != nil || md5hex(data) != kv[1] {
					t.Errorf("read %s: %v (content intact: %v)", kv[0], err, err == nil && md5hex(data) == kv[1])
					return
				}
				reads.Add(1)
			}
		}()
	}
	wg.Wait()
	close(done)
	rg.Wait()
	if reads.Load() == 0 {
		t.Fatal("no reads overlapped the writes")
	}
}
