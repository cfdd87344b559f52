// Package objstore speaks S3 through aws-sdk-go-v2 to whatever serves it: AWS S3, MinIO, or the
// S3-compatible server this package embeds on loopback for the no-configuration default.
package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Config reaches an S3 API. With Endpoint empty the SDK's default chain (env, profile, IAM
// role) and AWS's endpoints apply.
type Config struct {
	Endpoint  string // e.g. http://127.0.0.1:9000; empty for AWS
	Region    string
	AccessKey string // empty: the SDK's default credential chain
	SecretKey string
	// PathStyle addresses buckets as /bucket/key, which MinIO and the embedded server need.
	PathStyle bool
	// WrapTransport, when set, wraps the HTTP transport requests go through (fault
	// injection wraps it to answer as a failing S3 would).
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// Store is a thin S3 client: one attempt per call, so every retry is Temporal's and shows in
// the run's history.
type Store struct {
	S3 *s3.Client
}

// ObjectInfo is what HEAD says of an object.
type ObjectInfo struct {
	Size         int64
	ETag         string // without quotes
	ContentType  string
	Metadata     map[string]string // x-amz-meta-*, keys lower-case
	LastModified time.Time
}

// ErrNotFound means the bucket or key does not exist.
var ErrNotFound = errors.New("object not found")

// ErrChanged means the object under the key is no longer the content a caller pinned by ETag.
var ErrChanged = errors.New("object changed")

// ErrTooLarge means GetBytes refused an object over its limit: the same object is refused
// on every attempt, so callers should not retry.
var ErrTooLarge = errors.New("object too large")

// New builds a Store from cfg.
func New(ctx context.Context, cfg Config) (*Store, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRetryMaxAttempts(1)}
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.AccessKey != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("objstore: aws config: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		o.RetryMaxAttempts = 1
		if cfg.WrapTransport != nil {
			base := http.DefaultTransport.(*http.Transport).Clone()
			base.MaxIdleConnsPerHost = 64
			o.HTTPClient = &http.Client{Transport: cfg.WrapTransport(base)}
		}
		// Checksums on every request would make each PutObject hash twice; S3 verifies
		// Content-MD5-free uploads by signature already.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &Store{S3: client}, nil
}

// EnsureBucket creates bucket unless it exists.
func (s *Store) EnsureBucket(ctx context.Context, bucket string) error {
	if _, err := s.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &bucket}); err == nil {
		return nil
	}
	_, err := s.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket})
	var owned *types.BucketAlreadyOwnedByYou
	var exists *types.BucketAlreadyExists
	if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
		return fmt.Errorf("objstore: create bucket %s: %w", bucket, err)
	}
	return nil
}

// Head describes one object.
func (s *Store) Head(ctx context.Context, bucket, key string) (ObjectInfo, error) {
	out, err := s.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return ObjectInfo{}, wrap("head", bucket, key, err)
	}
	return ObjectInfo{
		Size:         aws.ToInt64(out.ContentLength),
		ETag:         strings.Trim(aws.ToString(out.ETag), `"`),
		ContentType:  aws.ToString(out.ContentType),
		Metadata:     lowerKeys(out.Metadata),
		LastModified: aws.ToTime(out.LastModified),
	}, nil
}

// Get streams one object. When etag is set and the stored object differs, it fails with
// ErrChanged rather than hand back other bytes.
func (s *Store) Get(ctx context.Context, bucket, key, etag string) (io.ReadCloser, ObjectInfo, error) {
	out, err := s.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return nil, ObjectInfo{}, wrap("get", bucket, key, err)
	}
	info := ObjectInfo{
		Size:         aws.ToInt64(out.ContentLength),
		ETag:         strings.Trim(aws.ToString(out.ETag), `"`),
		ContentType:  aws.ToString(out.ContentType),
		Metadata:     lowerKeys(out.Metadata),
		LastModified: aws.ToTime(out.LastModified),
	}
	if etag != "" && info.ETag != strings.Trim(etag, `"`) {
		_ = out.Body.Close()
		return nil, info, fmt.Errorf("objstore: get s3://%s/%s: %w (now %s, expected %s)",
			bucket, key, ErrChanged, info.ETag, etag)
	}
	return out.Body, info, nil
}

// GetBytes reads a whole object, refusing more than limit bytes.
func (s *Store) GetBytes(ctx context.Context, bucket, key, etag string, limit int64) ([]byte, ObjectInfo, error) {
	body, info, err := s.Get(ctx, bucket, key, etag)
	if err != nil {
		return nil, info, err
	}
	defer body.Close()
	if limit > 0 && info.Size > limit {
		return nil, info, fmt.Errorf("objstore: s3://%s/%s is %d bytes, over the %d limit: %w", bucket, key, info.Size, limit, ErrTooLarge)
	}
	buf := bytes.NewBuffer(make([]byte, 0, max(info.Size, 0)))
	if _, err := io.Copy(buf, body); err != nil {
		return nil, info, wrap("read", bucket, key, err)
	}
	return buf.Bytes(), info, nil
}

// Put writes one object and returns its ETag.
func (s *Store) Put(ctx context.Context, bucket, key string, data []byte, contentType string, meta map[string]string) (string, error) {
	in := &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))), Metadata: meta}
	if contentType != "" {
		in.ContentType = &contentType
	}
	out, err := s.S3.PutObject(ctx, in)
	if err != nil {
		return "", wrap("put", bucket, key, err)
	}
	return strings.Trim(aws.ToString(out.ETag), `"`), nil
}

// Delete removes one object; a missing object is not an error.
func (s *Store) Delete(ctx context.Context, bucket, key string) error {
	if _, err := s.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key}); err != nil {
		if errors.Is(wrap("delete", bucket, key, err), ErrNotFound) {
			return nil
		}
		return wrap("delete", bucket, key, err)
	}
	return nil
}

// ReaderAt reads an object by ranged GETs in blocks, caching a few, so a header parser can
// seek around a large object while transferring only what it touches.
func (s *Store) ReaderAt(ctx context.Context, bucket, key string, info ObjectInfo) *RangeReader {
	return &RangeReader{ctx: ctx, s: s, bucket: bucket, key: key, size: info.Size, etag: info.ETag,
		blocks: map[int64][]byte{}}
}

// RangeReader is an io.ReaderAt over an S3 object.
type RangeReader struct {
	ctx         context.Context
	s           *Store
	bucket, key string
	size        int64
	etag        string

	mu      sync.Mutex
	blocks  map[int64][]byte
	order   []int64
	Fetched int64 // bytes transferred, for tests and metrics
}

const (
	rangeBlock     = 64 << 10
	rangeMaxBlocks = 32
)

// ReadAt implements io.ReaderAt.
func (r *RangeReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("objstore: negative offset")
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= r.size {
			return n, io.EOF
		}
		idx := pos / rangeBlock
		block, err := r.block(idx)
		if err != nil {
			return n, err
		}
		in := pos - idx*rangeBlock
		if in >= int64(len(block)) {
			return n, io.EOF
		}
		n += copy(p[n:], block[in:])
	}
	return n, nil
}

func (r *RangeReader) block(idx int64) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.blocks[idx]; ok {
		return b, nil
	}
	start := idx * rangeBlock
	end := min(start+rangeBlock, r.size) - 1
	rng := fmt.Sprintf("bytes=%d-%d", start, end)
	in := &s3.GetObjectInput{Bucket: &r.bucket, Key: &r.key, Range: &rng}
	if r.etag != "" {
		in.IfMatch = aws.String(`"` + r.etag + `"`)
	}
	out, err := r.s.S3.GetObject(r.ctx, in)
	if err != nil {
		return nil, wrap("get range", r.bucket, r.key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, rangeBlock))
	if err != nil {
		return nil, wrap("read range", r.bucket, r.key, err)
	}
	if got := strings.Trim(aws.ToString(out.ETag), `"`); r.etag != "" && got != "" && got != r.etag {
		return nil, fmt.Errorf("objstore: s3://%s/%s: %w", r.bucket, r.key, ErrChanged)
	}
	r.Fetched += int64(len(b))
	if len(r.order) >= rangeMaxBlocks {
		delete(r.blocks, r.order[0])
		r.order = r.order[1:]
	}
	r.blocks[idx] = b
	r.order = append(r.order, idx)
	return b, nil
}

// wrap names the operation and maps "no such key/bucket" to ErrNotFound and a failed
// precondition to ErrChanged, keeping the SDK error in the chain for classification.
func wrap(op, bucket, key string, err error) error {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	var nsb *types.NoSuchBucket
	if errors.As(err, &nsk) || errors.As(err, &nf) || errors.As(err, &nsb) {
		return fmt.Errorf("objstore: %s s3://%s/%s: %w: %w", op, bucket, key, ErrNotFound, err)
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "PreconditionFailed" {
		return fmt.Errorf("objstore: %s s3://%s/%s: %w: %w", op, bucket, key, ErrChanged, err)
	}
	if status := HTTPStatus(err); status == http.StatusNotFound {
		return fmt.Errorf("objstore: %s s3://%s/%s: %w: %w", op, bucket, key, ErrNotFound, err)
	}
	return fmt.Errorf("objstore: %s s3://%s/%s: %w", op, bucket, key, err)
}

// HTTPStatus is the HTTP status of an SDK error, 0 when it has none (e.g. a refused
// connection).
func HTTPStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func lowerKeys(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}
