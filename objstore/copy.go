package objstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// MaxCopySize is the largest object one CopyObject call may copy; beyond it S3 requires a
// multipart copy, which nothing here needs (the pipeline refuses far smaller images).
const MaxCopySize = 5 << 30

// CopyMode chooses how Copy moves the bytes.
type CopyMode int

const (
	// CopyAuto copies server side, except on a loopback endpoint (see Copy).
	CopyAuto CopyMode = iota
	// CopyServerSide always uses CopyObject.
	CopyServerSide
	// CopyThrough reads the object and writes it again through this process.
	CopyThrough
)

// CopyInput describes one copy.
type CopyInput struct {
	SrcBucket, SrcKey string
	// SrcETag, when set, pins the source: if the object under SrcKey has other content the
	// copy fails with ErrChanged instead of copying it.
	SrcETag           string
	DstBucket, DstKey string
	// Metadata replaces the source's x-amz-meta-* on the copy; ContentType replaces its
	// content type (S3 drops the source's when metadata is replaced, so pass it on).
	Metadata    map[string]string
	ContentType string
	Mode        CopyMode
}

// Copy copies an object, within a bucket or across buckets, replacing its metadata, and
// returns the copy's ETag.
//
// On AWS and other remote servers the copy is server side (CopyObject), so the bytes never
// pass through this process. On a loopback endpoint it reads and writes instead: the
// embedded server's CopyObject reads object bytes from its bolt file after the
// transaction that mapped them has ended, and a copy that grows the file faults the whole
// process hosting it; a local MinIO loses nothing by the detour.
func (s *Store) Copy(ctx context.Context, in CopyInput) (string, error) {
	mode := in.Mode
	if mode == CopyAuto {
		mode = CopyServerSide
		if s.loopback() {
			mode = CopyThrough
		}
	}
	if mode == CopyThrough {
		return s.copyThrough(ctx, in)
	}
	req := &s3.CopyObjectInput{
		Bucket:            &in.DstBucket,
		Key:               &in.DstKey,
		CopySource:        aws.String(CopySource(in.SrcBucket, in.SrcKey)),
		MetadataDirective: types.MetadataDirectiveReplace,
		Metadata:          in.Metadata,
	}
	if in.ContentType != "" {
		req.ContentType = &in.ContentType
	}
	if in.SrcETag != "" {
		req.CopySourceIfMatch = aws.String(`"` + strings.Trim(in.SrcETag, `"`) + `"`)
	}
	out, err := s.S3.CopyObject(ctx, req)
	if err != nil {
		return "", wrap("copy to", in.DstBucket, in.DstKey, fmt.Errorf("from s3://%s/%s: %w", in.SrcBucket, in.SrcKey, err))
	}
	etag := ""
	if out.CopyObjectResult != nil {
		etag = strings.Trim(aws.ToString(out.CopyObjectResult.ETag), `"`)
	}
	return etag, nil
}

// copyThroughInMemory is the largest object copyThrough holds in memory; larger ones are
// spooled to a temporary file, since the SDK signs a plain-HTTP upload only from a
// seekable body.
const copyThroughInMemory = 16 << 20

func (s *Store) copyThrough(ctx context.Context, in CopyInput) (string, error) {
	body, info, err := s.Get(ctx, in.SrcBucket, in.SrcKey, in.SrcETag)
	if err != nil {
		return "", err
	}
	defer body.Close()
	if info.Size > MaxCopySize {
		return "", fmt.Errorf("objstore: copy s3://%s/%s: %d bytes: %w", in.SrcBucket, in.SrcKey, info.Size, ErrTooLarge)
	}
	var src io.ReadSeeker
	if info.Size <= copyThroughInMemory {
		data, err := io.ReadAll(io.LimitReader(body, copyThroughInMemory+1))
		if err != nil {
			return "", wrap("read", in.SrcBucket, in.SrcKey, err)
		}
		src = bytes.NewReader(data)
	} else {
		f, err := os.CreateTemp("", "photoflow-copy-*")
		if err != nil {
			return "", fmt.Errorf("objstore: copy spool: %w", err)
		}
		defer os.Remove(f.Name())
		defer f.Close()
		if _, err := io.Copy(f, body); err != nil {
			return "", wrap("read", in.SrcBucket, in.SrcKey, err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return "", fmt.Errorf("objstore: copy spool: %w", err)
		}
		src = f
	}
	size, err := src.Seek(0, io.SeekEnd)
	if err != nil {
		return "", err
	}
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	req := &s3.PutObjectInput{Bucket: &in.DstBucket, Key: &in.DstKey, Body: src,
		ContentLength: aws.Int64(size), Metadata: in.Metadata}
	if in.ContentType != "" {
		req.ContentType = &in.ContentType
	}
	out, err := s.S3.PutObject(ctx, req)
	if err != nil {
		return "", wrap("put", in.DstBucket, in.DstKey, err)
	}
	return strings.Trim(aws.ToString(out.ETag), `"`), nil
}

// loopback reports whether the store's endpoint is this machine.
func (s *Store) loopback() bool {
	ep := aws.ToString(s.S3.Options().BaseEndpoint)
	if ep == "" {
		return false
	}
	u, err := url.Parse(ep)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}

// CopySource is the x-amz-copy-source value for an object: URL-encoded segment by segment,
// with '+' encoded too, since some servers decode the header as a query string, where a
// bare '+' would turn into a space.
func CopySource(bucket, key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(url.PathEscape(p), "+", "%2B")
	}
	return bucket + "/" + strings.Join(parts, "/")
}
