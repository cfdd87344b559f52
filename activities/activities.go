// Package activities holds the ImageProcessing workflow's activities: the work of each state of
// the original machine, done against injected backends. Every activity is idempotent and
// returns typed errors (see classify), so the workflow's retry policies decide what retries.
package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"photoflow"
	"photoflow/media"
	"photoflow/objstore"
	"photoflow/store"
	"photoflow/vision"
)

// Limits refuse images no one should process, before any pixel is decoded.
type Limits struct {
	// MaxBytes is the largest object accepted (default 100 MiB).
	MaxBytes int64
	// MaxPixels is the largest width×height accepted (default 100 MP), so a small file
	// claiming a huge canvas (a decompression bomb) is refused from its header.
	MaxPixels int64
}

// DefaultLimits are generous for cameras and strict for bombs.
var DefaultLimits = Limits{MaxBytes: 100 << 20, MaxPixels: 100_000_000}

// Activities holds the backends. The workflow calls its methods through a nil *Activities,
// so method names are the activity names.
type Activities struct {
	Objects  *objstore.Store
	Store    store.Store
	Accounts store.Accounts
	// Temporal lets DeleteImage stop a run that is still going.
	Temporal client.Client
	Vision   vision.Analyzer
	Settings photoflow.Settings
	Limits   Limits
	// HeartbeatEvery is how often long activities heartbeat (default 5 s), so a
	// cancellation from the workflow reaches them and a dead worker is noticed.
	HeartbeatEvery time.Duration
	// Starter starts an object's ImageProcessing run (the bulk import and the bucket
	// watcher use it); pipeline.Starter is the production one.
	Starter RunStarter
	// TriggerError, when set, counts a run a trigger could not start (metrics).
	TriggerError func(source string)
}

// RunStarter starts the ImageProcessing run of one object idempotently: started is false
// when the object's run already existed.
type RunStarter interface {
	Start(ctx context.Context, in photoflow.ImageInput) (started bool, err error)
}

// LoadSettings hands the worker's settings to a starting run (a local activity: its result
// is recorded, so later flag changes never alter a run in flight).
func (a *Activities) LoadSettings(ctx context.Context) (photoflow.Settings, error) {
	return a.Settings, nil
}

// ExtractImageMetadata replaces the ExtractImageMetadata task: it identifies the object from
// its header and EXIF, read by ranged GETs; no pixel is decoded.
func (a *Activities) ExtractImageMetadata(ctx context.Context, in photoflow.ObjectInput) (photoflow.ImageMetadata, error) {
	if err := checkObject(in); err != nil {
		return photoflow.ImageMetadata{}, err
	}
	info, err := a.Objects.Head(ctx, in.Bucket, in.Key)
	if err != nil {
		return photoflow.ImageMetadata{}, classify(ctx, "head object", err)
	}
	if in.ETag != "" && info.ETag != "" && info.ETag != strings.Trim(in.ETag, `"`) {
		return photoflow.ImageMetadata{}, badInput(photoflow.ErrObjectChanged,
			"s3://%s/%s now holds other content (ETag %s, this run is for %s)", in.Bucket, in.Key, info.ETag, in.ETag)
	}
	limits := a.limits()
	switch {
	case info.Size == 0:
		return photoflow.ImageMetadata{}, badInput(photoflow.ErrImageIdentify, "s3://%s/%s is empty", in.Bucket, in.Key)
	case info.Size > limits.MaxBytes:
		return photoflow.ImageMetadata{}, badInput(photoflow.ErrImageTooLarge,
			"s3://%s/%s is %d bytes, over the %d-byte limit", in.Bucket, in.Key, info.Size, limits.MaxBytes)
	}
	r := a.Objects.ReaderAt(ctx, in.Bucket, in.Key, info)
	id, err := media.Identify(r, info.Size)
	if err != nil {
		switch {
		case errors.Is(err, media.ErrUnknownFormat):
			return photoflow.ImageMetadata{}, badInput(photoflow.ErrImageIdentify,
				"not an image: %d bytes with no JPEG, PNG, GIF, TIFF, BMP, WebP or HEIF signature", info.Size)
		case errors.Is(err, media.ErrMalformed):
			return photoflow.ImageMetadata{}, badInput(photoflow.ErrImageIdentify, "unreadable image header: %v", err)
		}
		return photoflow.ImageMetadata{}, classify(ctx, "identify", err)
	}
	if px := int64(id.Width) * int64(id.Height); px > limits.MaxPixels {
		return photoflow.ImageMetadata{}, badInput(photoflow.ErrImageTooLarge,
			"%s is %d×%d (%d pixels), over the %d-pixel limit", id.Format, id.Width, id.Height, px, limits.MaxPixels)
	}
	md := photoflow.ImageMetadata{
		Format:       id.Format,
		Dimensions:   photoflow.Dimensions{Width: id.Width, Height: id.Height},
		Orientation:  id.Orientation,
		FileSize:     info.Size,
		CreationTime: id.CreationTime,
		ExifMake:     id.Make,
		ExifModel:    id.Model,
		ETag:         info.ETag,
		UserID:       info.Metadata[photoflow.ObjectMetaUserID],
		AlbumID:      info.Metadata[photoflow.ObjectMetaAlbumID],
		Warnings:     id.Warnings,
	}
	if id.GPS != nil {
		md.Geo = &photoflow.Geo{Latitude: id.GPS.Latitude, Longitude: id.GPS.Longitude}
	}
	return md, nil
}

// DetectModeration replaces DetectInappropriate: moderation labels and the top score; the
// workflow routes on the score.
func (a *Activities) DetectModeration(ctx context.Context, in photoflow.ImageRef) (photoflow.ModerationResult, error) {
	img, err := a.decode(ctx, in)
	if err != nil {
		return photoflow.ModerationResult{}, err
	}
	var labels []photoflow.Label
	err = a.heartbeating(ctx, func() (err error) {
		labels, err = a.Vision.DetectModeration(ctx, img)
		return err
	})
	if err != nil {
		return photoflow.ModerationResult{}, classify(ctx, "detect moderation labels", err)
	}
	res := photoflow.ModerationResult{Labels: labels}
	if res.Labels == nil {
		res.Labels = []photoflow.Label{}
	}
	for _, l := range labels {
		res.Score = max(res.Score, l.Confidence)
	}
	return res, nil
}

// DetectLabels replaces DetectLabelsRekognition (MaxLabels 10, MinConfidence 60 by default).
func (a *Activities) DetectLabels(ctx context.Context, in photoflow.LabelsInput) ([]photoflow.Label, error) {
	if in.MaxLabels <= 0 || in.MinConfidence < 0 || in.MinConfidence > 100 {
		return nil, badInput(photoflow.ErrInvalidInput, "maxLabels %d / minConfidence %g out of range", in.MaxLabels, in.MinConfidence)
	}
	img, err := a.decode(ctx, in.ImageRef)
	if err != nil {
		return nil, err
	}
	var labels []photoflow.Label
	err = a.heartbeating(ctx, func() (err error) {
		labels, err = a.Vision.DetectLabels(ctx, img, in.MaxLabels, in.MinConfidence)
		return err
	})
	if err != nil {
		return nil, classify(ctx, "detect labels", err)
	}
	if labels == nil {
		labels = []photoflow.Label{}
	}
	return labels, nil
}

// GenerateThumbnail replaces Thumbnail: an upright copy fitting MaxSize×MaxSize, in the
// source's format, written to TargetKey. Writing the same key again is harmless.
func (a *Activities) GenerateThumbnail(ctx context.Context, in photoflow.ThumbnailInput) (photoflow.Thumbnail, error) {
	if err := checkObject(in.ObjectInput); err != nil {
		return photoflow.Thumbnail{}, err
	}
	if !strings.HasPrefix(in.TargetKey, photoflow.ThumbnailPrefix) || in.MaxSize <= 0 {
		// Anything under Incoming/ would start another run on itself.
		return photoflow.Thumbnail{}, badInput(photoflow.ErrInvalidInput,
			"thumbnail target %q must be under %s and size %d positive", in.TargetKey, photoflow.ThumbnailPrefix, in.MaxSize)
	}
	data, _, err := a.Objects.GetBytes(ctx, in.Bucket, in.Key, in.ETag, a.limits().MaxBytes)
	if err != nil {
		return photoflow.Thumbnail{}, classify(ctx, "get object", err)
	}
	var th media.Thumb
	err = a.heartbeating(ctx, func() (err error) {
		th, err = media.Thumbnail(bytes.NewReader(data), in.Format, in.Orientation, in.MaxSize, a.limits().MaxPixels)
		return err
	})
	if err != nil {
		return photoflow.Thumbnail{}, mediaError(ctx, in.ObjectInput, err)
	}
	meta := map[string]string{"source-key": in.Key}
	if in.ETag != "" {
		meta["source-etag"] = in.ETag
	}
	if _, err := a.Objects.Put(ctx, in.Bucket, in.TargetKey, th.Data, contentType(th.Format), meta); err != nil {
		return photoflow.Thumbnail{}, classify(ctx, "put thumbnail", err)
	}
	return photoflow.Thumbnail{Key: in.TargetKey, Width: th.Width, Height: th.Height}, nil
}

// PersistMetadata replaces PersistDDB: an idempotent upsert of the whole record.
func (a *Activities) PersistMetadata(ctx context.Context, rec photoflow.ImageRecord) error {
	if rec.ImageID == "" || !rec.Status.Valid() {
		return badInput(photoflow.ErrInvalidInput, "record needs an imageID and a valid status (got %q, %q)", rec.ImageID, rec.Status)
	}
	if err := a.Store.Put(ctx, rec); err != nil {
		return classify(ctx, "persist record", err)
	}
	if a.Accounts != nil && rec.UserID != "" && rec.AlbumID != "" {
		if err := a.Accounts.EnsureAlbum(ctx, rec.UserID, rec.AlbumID, rec.UploadTime); err != nil {
			return classify(ctx, "ensure album", err)
		}
	}
	return nil
}

// RecordFailure writes a terminal failure (status and errReason) so no run fails silently. It
// is PersistMetadata with its own, more patient retry policy.
func (a *Activities) RecordFailure(ctx context.Context, rec photoflow.ImageRecord) error {
	if rec.Status != photoflow.StatusFailed && rec.Status != photoflow.StatusRejected {
		return badInput(photoflow.ErrInvalidInput, "RecordFailure takes FAILED or REJECTED, got %q", rec.Status)
	}
	return a.PersistMetadata(ctx, rec)
}

func (a *Activities) decode(ctx context.Context, in photoflow.ImageRef) (vision.Image, error) {
	if err := checkObject(in.ObjectInput); err != nil {
		return vision.Image{}, err
	}
	data, _, err := a.Objects.GetBytes(ctx, in.Bucket, in.Key, in.ETag, a.limits().MaxBytes)
	if err != nil {
		return vision.Image{}, classify(ctx, "get object", err)
	}
	// An analyzer that looks at a coarse grid gets a reduced decode: for a camera JPEG that
	// is an eighth of the work and a sixtieth of the memory.
	minSide := 0
	if r, ok := a.Vision.(vision.Resolution); ok {
		minSide = r.MinSide()
	}
	var pix image.Image
	if minSide > 0 {
		pix, err = media.DecodeAtLeast(bytes.NewReader(data), in.Format, minSide, minSide, a.limits().MaxPixels)
	} else {
		pix, err = media.Decode(bytes.NewReader(data), in.Format, a.limits().MaxPixels)
	}
	if err != nil {
		return vision.Image{}, mediaError(ctx, in.ObjectInput, err)
	}
	return vision.Image{Bucket: in.Bucket, Key: in.Key, Format: in.Format, Orientation: in.Orientation, Pixels: pix, Bytes: data}, nil
}

// heartbeating runs fn while heartbeating, so the workflow's cancellation (a failed sibling)
// and a lost worker are both noticed within a heartbeat timeout.
func (a *Activities) heartbeating(ctx context.Context, fn func() error) error {
	// Without a heartbeat timeout the server expects none; a heartbeat after the attempt's
	// own timeout would only cancel it locally and muddle the verdict, which must be Timeout.
	if !activity.IsActivity(ctx) || activity.GetInfo(ctx).HeartbeatTimeout <= 0 {
		return fn()
	}
	every := a.HeartbeatEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	done := make(chan error, 1)
	go func() { done <- fn() }()
	t := time.NewTicker(every)
	defer t.Stop()
	// No heartbeat at the start: each is a round trip and a history write, and most pixel
	// work ends long before the first tick; a cancellation arrives with a heartbeat's answer.
	for {
		select {
		case err := <-done:
			return err
		case <-t.C:
			activity.RecordHeartbeat(ctx)
		case <-ctx.Done():
			// The pixel work cannot be interrupted; give the slot back and let it finish in
			// the background.
			return ctx.Err()
		}
	}
}

func (a *Activities) limits() Limits {
	l := a.Limits
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultLimits.MaxPixels
	}
	return l
}

func mediaError(ctx context.Context, in photoflow.ObjectInput, err error) error {
	// An attempt that outlived its timeout, or was cancelled, reports the context's own
	// error: the SDK then leaves the verdict (Timeout, Canceled) to the server instead of
	// recording a failure the file did not cause.
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	switch {
	case errors.Is(err, media.ErrTooLarge):
		return badInput(photoflow.ErrImageTooLarge, "s3://%s/%s: %v", in.Bucket, in.Key, err)
	case errors.Is(err, media.ErrMalformed), errors.Is(err, media.ErrUnsupportedFormat),
		errors.Is(err, io.ErrUnexpectedEOF):
		return badInput(photoflow.ErrCorruptImage, "s3://%s/%s: %v", in.Bucket, in.Key, err)
	}
	return temporal.NewApplicationError(fmt.Sprintf("s3://%s/%s: %v", in.Bucket, in.Key, err), photoflow.ErrInternal)
}

func checkObject(in photoflow.ObjectInput) error {
	if in.Bucket == "" || in.Key == "" {
		return badInput(photoflow.ErrInvalidInput, "bucket and key are required (got %q, %q)", in.Bucket, in.Key)
	}
	return nil
}

func contentType(format string) string {
	switch format {
	case media.FormatJPEG:
		return "image/jpeg"
	case media.FormatPNG:
		return "image/png"
	}
	return "application/octet-stream"
}
