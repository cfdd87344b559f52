package activities

import (
	"context"
	"errors"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"photoflow"
	"photoflow/objstore"
)

// ListSourcePage lists one page of a bulk import's source (the sync-buckets machine's
// listing state). Folder markers are left out: they are not files and would only fail.
func (a *Activities) ListSourcePage(ctx context.Context, in photoflow.ListPageInput) (photoflow.SourcePage, error) {
	if in.Bucket == "" || in.DestBucket == "" {
		return photoflow.SourcePage{}, badInput(photoflow.ErrInvalidInput, "source and destination buckets are required (got %q, %q)", in.Bucket, in.DestBucket)
	}
	// Without a starter every copy would land and never be processed: better to fail the
	// import now than after copying thousands of objects.
	if a.Starter == nil {
		return photoflow.SourcePage{}, badInput(photoflow.ErrInvalidInput, "this worker has no run starter configured (Activities.Starter)")
	}
	var page objstore.ListPage
	err := a.heartbeating(ctx, func() error {
		// A missing destination would fail every object one by one, each after its retries.
		if _, err := a.Objects.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &in.DestBucket}); err != nil {
			if objstore.HTTPStatus(err) == http.StatusNotFound {
				return badInput(photoflow.ErrInvalidInput, "destination bucket %q does not exist", in.DestBucket)
			}
			return err
		}
		var err error
		page, err = a.Objects.ListAfter(ctx, in.Bucket, in.Prefix, in.ContinuationToken, in.StartAfter, in.PageSize)
		return err
	})
	if err != nil {
		return photoflow.SourcePage{}, classify(ctx, "list source", err)
	}
	out := photoflow.SourcePage{Objects: make([]photoflow.SourceObject, 0, len(page.Objects)), NextContinuationToken: page.Next}
	for _, o := range page.Objects {
		if strings.HasSuffix(o.Key, "/") {
			out.Ignored++
			continue
		}
		out.Objects = append(out.Objects, photoflow.SourceObject{Key: o.Key, ETag: o.ETag, Size: o.Size})
	}
	return out, nil
}

// SyncObject brings one source object into the album and starts its run. The copy is
// skipped when the album already holds the same content, and the run is started either
// way: a retry after a copy whose start failed finds the copy in place, and must still
// start it. Both steps are idempotent, so any retry is safe.
func (a *Activities) SyncObject(ctx context.Context, in photoflow.SyncObjectInput) (photoflow.SyncObjectResult, error) {
	if in.SourceBucket == "" || in.Object.Key == "" || in.DestBucket == "" {
		return photoflow.SyncObjectResult{}, badInput(photoflow.ErrInvalidInput, "source bucket, key and destination bucket are required")
	}
	if a.Starter == nil {
		return photoflow.SyncObjectResult{}, badInput(photoflow.ErrInvalidInput, "this worker has no run starter configured (Activities.Starter)")
	}
	name, err := photoflow.ImportFileName(in.SourcePrefix, in.Object.Key)
	if err != nil {
		return photoflow.SyncObjectResult{}, badInput(photoflow.ErrInvalidInput, "%v", err)
	}
	res := photoflow.SyncObjectResult{DestKey: photoflow.IncomingKey(in.UserID, in.AlbumID, name)}
	srcETag := strings.Trim(in.Object.ETag, `"`)

	dst, err := a.Objects.Head(ctx, in.DestBucket, res.DestKey)
	switch {
	case err == nil && srcETag != "" && (dst.ETag == srcETag || dst.Metadata[photoflow.ObjectMetaSourceETag] == srcETag):
		res.DestETag = dst.ETag
	case err == nil || errors.Is(err, objstore.ErrNotFound):
		if res.DestETag, err = a.copyObject(ctx, in, res.DestKey); err != nil {
			return res, err
		}
		res.Copied = true
	default:
		return res, classify(ctx, "head destination", err)
	}

	res.WorkflowID = photoflow.WorkflowID(in.DestBucket, res.DestKey, res.DestETag)
	res.Started, err = a.Starter.Start(ctx, photoflow.ImageInput{Bucket: in.DestBucket, Key: res.DestKey,
		ETag: res.DestETag, UserID: in.UserID, AlbumID: in.AlbumID, UploadTime: time.Now().UTC()})
	if err != nil {
		return res, classify(ctx, "start run", err)
	}
	return res, nil
}

// copyObject copies the source, pinned to the listed ETag, with the metadata an upload
// through the API would carry.
func (a *Activities) copyObject(ctx context.Context, in photoflow.SyncObjectInput, destKey string) (string, error) {
	src, err := a.Objects.Head(ctx, in.SourceBucket, in.Object.Key)
	if err != nil {
		// A source that vanished since the listing fails here as ObjectNotFound.
		return "", classify(ctx, "head source", err)
	}
	srcETag := strings.Trim(in.Object.ETag, `"`)
	if srcETag != "" && src.ETag != srcETag {
		return "", badInput(photoflow.ErrObjectChanged, "s3://%s/%s changed since it was listed (ETag %s, listed %s); sync again to pick it up",
			in.SourceBucket, in.Object.Key, src.ETag, srcETag)
	}
	if src.Size > objstore.MaxCopySize {
		return "", badInput(photoflow.ErrImageTooLarge, "s3://%s/%s is %d bytes, over the %d a single copy allows",
			in.SourceBucket, in.Object.Key, src.Size, int64(objstore.MaxCopySize))
	}
	meta := map[string]string{
		photoflow.ObjectMetaUserID:       in.UserID,
		photoflow.ObjectMetaAlbumID:      in.AlbumID,
		photoflow.ObjectMetaOriginalName: path.Base(in.Object.Key),
		photoflow.ObjectMetaSourceETag:   src.ETag,
	}
	if in.ImportID != "" {
		meta[photoflow.ObjectMetaImportID] = in.ImportID
	}
	var etag string
	err = a.heartbeating(ctx, func() (err error) {
		etag, err = a.Objects.Copy(ctx, objstore.CopyInput{SrcBucket: in.SourceBucket, SrcKey: in.Object.Key,
			SrcETag: src.ETag, DstBucket: in.DestBucket, DstKey: destKey, Metadata: meta, ContentType: src.ContentType})
		return err
	})
	if err != nil {
		return "", classify(ctx, "copy", err)
	}
	if etag == "" {
		// The copy is in place; its HEAD gives the ETag the run's ID needs.
		info, err := a.Objects.Head(ctx, in.DestBucket, destKey)
		if err != nil {
			return "", classify(ctx, "head copy", err)
		}
		etag = info.ETag
	}
	return etag, nil
}
