package activities_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	_ "image/jpeg"
	_ "image/png"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	_ "modernc.org/sqlite"

	"photoflow"
	"photoflow/activities"
	"photoflow/media"
	"photoflow/media/mediatest"
	"photoflow/objstore"
	"photoflow/store"
	"photoflow/vision"
)

const bucket = "photoflow"

type fixture struct {
	t       *testing.T
	ctx     context.Context
	objects *objstore.Store
	store   *store.SQLite
	dbPath  string
	acts    *activities.Activities
	env     *testsuite.TestActivityEnvironment
}

// newFixture wires the activities to a real embedded S3 and a real SQLite file, so the
// tests cover the same calls the worker makes.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	dir := t.TempDir()
	e, err := objstore.StartEmbedded(filepath.Join(dir, "s3.bolt"), "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	objects, err := objstore.New(ctx, objstore.Config{Endpoint: e.Endpoint(), Region: "us-east-1",
		AccessKey: "k", SecretKey: "s", PathStyle: true})
	require.NoError(t, err)
	require.NoError(t, objects.EnsureBucket(ctx, bucket))
	dbPath := filepath.Join(dir, "records.db")
	st, err := store.OpenSQLite(dbPath)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	f := &fixture{t: t, ctx: ctx, objects: objects, store: st, dbPath: dbPath}
	f.acts = &activities.Activities{Objects: objects, Store: st, Vision: vision.NewOffline(),
		Settings: photoflow.DefaultSettings()}
	f.env = newEnv(f.acts)
	return f
}

func newEnv(a *activities.Activities) *testsuite.TestActivityEnvironment {
	var s testsuite.WorkflowTestSuite
	// Expected failures would otherwise flood the output; assertions carry the detail.
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	return env
}

// upload stores data as a user's upload and returns the object's name and ETag.
func (f *fixture) upload(name string, data []byte) photoflow.ObjectInput {
	f.t.Helper()
	key := photoflow.IncomingKey("u", "a", name)
	etag, err := f.objects.Put(f.ctx, bucket, key, data, "", map[string]string{
		photoflow.ObjectMetaUserID: "u", photoflow.ObjectMetaAlbumID: "a"})
	require.NoError(f.t, err)
	return photoflow.ObjectInput{Bucket: bucket, Key: key, ETag: etag}
}

func (f *fixture) extract(in photoflow.ObjectInput) (photoflow.ImageMetadata, error) {
	var md photoflow.ImageMetadata
	v, err := f.env.ExecuteActivity(f.acts.ExtractImageMetadata, in)
	if err != nil {
		return md, err
	}
	require.NoError(f.t, v.Get(&md))
	return md, nil
}

// requireAppError asserts that err is an application error of errType with the given
// retryability, as the workflow's retry policy will see it.
func requireAppError(t *testing.T, err error, errType string, nonRetryable bool) *temporal.ApplicationError {
	t.Helper()
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "want an ApplicationError, got %T: %v", err, err)
	assert.Equal(t, errType, appErr.Type(), "error: %v", err)
	assert.Equal(t, nonRetryable, appErr.NonRetryable(), "NonRetryable of %v", err)
	return appErr
}

func TestExtractImageMetadataCameraJPEG(t *testing.T) {
	f := newFixture(t)
	for o := 1; o <= 8; o++ {
		data := mediatest.CameraJPEG(96, 64, o)
		in := f.upload("cam.jpg", data)
		md, err := f.extract(in)
		require.NoError(t, err, "orientation %d", o)
		assert.Equal(t, media.FormatJPEG, md.Format)
		assert.Equal(t, photoflow.Dimensions{Width: 96, Height: 64}, md.Dimensions, "stored size, not displayed")
		assert.Equal(t, o, md.Orientation)
		assert.Equal(t, int64(len(data)), md.FileSize)
		assert.Equal(t, mediatest.CameraCreationTime, md.CreationTime)
		require.NotNil(t, md.Geo)
		assert.InDelta(t, mediatest.CameraGPS.Latitude, md.Geo.Latitude, 1e-4)
		assert.InDelta(t, mediatest.CameraGPS.Longitude, md.Geo.Longitude, 1e-4)
		assert.Equal(t, mediatest.CameraMake, md.ExifMake)
		assert.Equal(t, mediatest.CameraModel, md.ExifModel)
		assert.Equal(t, in.ETag, md.ETag)
		assert.Equal(t, "u", md.UserID)
		assert.Equal(t, "a", md.AlbumID)
		assert.Empty(t, md.Warnings)
	}
}

func TestExtractImageMetadataPNG(t *testing.T) {
	f := newFixture(t)
	gps := media.GeoPoint{Latitude: -33.8568, Longitude: 151.2153}
	exif := mediatest.EncodeEXIF(mediatest.EXIF{Make: "Apple", Model: "iPhone", Orientation: 6,
		DateTimeOriginal: "2020:01:02 03:04:05", GPS: &gps}, binary.BigEndian)
	data := mediatest.PNG(mediatest.Quadrants(40, 30), exif)
	md, err := f.extract(f.upload("with-exif.png", data))
	require.NoError(t, err)
	assert.Equal(t, media.FormatPNG, md.Format)
	assert.Equal(t, photoflow.Dimensions{Width: 40, Height: 30}, md.Dimensions)
	assert.Equal(t, 6, md.Orientation)
	assert.Equal(t, "Apple", md.ExifMake)
	assert.Equal(t, "iPhone", md.ExifModel)
	assert.Equal(t, "2020-01-02T03:04:05", md.CreationTime)
	require.NotNil(t, md.Geo)
	assert.InDelta(t, gps.Latitude, md.Geo.Latitude, 1e-4)
	assert.InDelta(t, gps.Longitude, md.Geo.Longitude, 1e-4)
	assert.Equal(t, int64(len(data)), md.FileSize)

	data = mediatest.PNG(mediatest.Quadrants(41, 29), nil)
	md, err = f.extract(f.upload("plain.png", data))
	require.NoError(t, err)
	assert.Equal(t, photoflow.ImageMetadata{Format: media.FormatPNG,
		Dimensions: photoflow.Dimensions{Width: 41, Height: 29}, Orientation: 1,
		FileSize: int64(len(data)), ETag: md.ETag, UserID: "u", AlbumID: "a"}, md)
	assert.NotEmpty(t, md.ETag)
}

// Other formats are identified, not refused: the workflow's type check rejects them with
// FileNotSupported, which needs the format to say why.
func TestExtractImageMetadataOtherFormats(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name, format string
		data         []byte
		w, h         int
	}{
		{"x.gif", media.FormatGIF, mediatest.GIF(33, 21), 33, 21},
		{"x.tiff", media.FormatTIFF, mediatest.TIFF(34, 22), 34, 22},
		{"x.bmp", media.FormatBMP, mediatest.BMP(35, 23), 35, 23},
		{"x.webp", media.FormatWebP, mediatest.WebP(), 1, 1},
	}
	for _, c := range cases {
		md, err := f.extract(f.upload(c.name, c.data))
		require.NoError(t, err, c.name)
		assert.Equal(t, c.format, md.Format, c.name)
		assert.Equal(t, photoflow.Dimensions{Width: c.w, Height: c.h}, md.Dimensions, c.name)
		assert.Equal(t, int64(len(c.data)), md.FileSize, c.name)
		assert.Equal(t, "u", md.UserID, c.name)
	}
}

// jpegCutBeforeSOF returns data up to (not including) its first frame header.
func jpegCutBeforeSOF(t *testing.T, data []byte) []byte {
	t.Helper()
	off := 2
	for off+4 <= len(data) {
		require.Equal(t, byte(0xFF), data[off], "marker expected at %d", off)
		m := data[off+1]
		if m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC {
			return data[:off]
		}
		off += 2 + int(binary.BigEndian.Uint16(data[off+2:]))
	}
	t.Fatal("no frame header")
	return nil
}

func TestExtractImageMetadataRefusals(t *testing.T) {
	f := newFixture(t)
	camera := mediatest.CameraJPEG(64, 48, 1)

	_, err := f.extract(f.upload("notes.txt", []byte("these are not the pixels you are looking for\n")))
	requireAppError(t, err, photoflow.ErrImageIdentify, true)

	_, err = f.extract(f.upload("empty.jpg", nil))
	requireAppError(t, err, photoflow.ErrImageIdentify, true)

	cut := jpegCutBeforeSOF(t, camera)
	require.Greater(t, len(cut), 100, "the cut keeps the EXIF segment")
	_, err = f.extract(f.upload("cut.jpg", cut))
	requireAppError(t, err, photoflow.ErrImageIdentify, true)

	_, err = f.extract(photoflow.ObjectInput{Bucket: bucket, Key: "Incoming/u/a/gone.jpg"})
	requireAppError(t, err, photoflow.ErrObjectNotFound, true)

	in := f.upload("pinned.jpg", camera)
	in.ETag = "0123456789abcdef0123456789abcdef"
	_, err = f.extract(in)
	requireAppError(t, err, photoflow.ErrObjectChanged, true)

	_, err = f.extract(photoflow.ObjectInput{Bucket: bucket})
	requireAppError(t, err, photoflow.ErrInvalidInput, true)
}

func TestExtractImageMetadataLimits(t *testing.T) {
	f := newFixture(t)
	data := mediatest.CameraJPEG(64, 48, 1)
	in := f.upload("cam.jpg", data)

	limited := *f.acts
	limited.Limits = activities.Limits{MaxBytes: int64(len(data)) - 1}
	_, err := executeExtract(t, &limited, in)
	requireAppError(t, err, photoflow.ErrImageTooLarge, true)

	limited.Limits = activities.Limits{MaxBytes: int64(len(data))}
	md, err := executeExtract(t, &limited, in)
	require.NoError(t, err, "a file of exactly MaxBytes is accepted")
	assert.Equal(t, 64, md.Dimensions.Width)

	limited.Limits = activities.Limits{MaxPixels: 64*48 - 1}
	_, err = executeExtract(t, &limited, in)
	requireAppError(t, err, photoflow.ErrImageTooLarge, true)

	limited.Limits = activities.Limits{MaxPixels: 64 * 48}
	_, err = executeExtract(t, &limited, in)
	require.NoError(t, err, "an image of exactly MaxPixels is accepted")
}

func executeExtract(t *testing.T, a *activities.Activities, in photoflow.ObjectInput) (photoflow.ImageMetadata, error) {
	t.Helper()
	var md photoflow.ImageMetadata
	v, err := newEnv(a).ExecuteActivity(a.ExtractImageMetadata, in)
	if err != nil {
		return md, err
	}
	require.NoError(t, v.Get(&md))
	return md, nil
}

// A backend that cannot be reached is transient: the run must retry, not fail for good.
func TestExtractImageMetadataUnreachableStore(t *testing.T) {
	f := newFixture(t)
	dead, err := objstore.New(f.ctx, objstore.Config{Endpoint: "http://127.0.0.1:1", Region: "us-east-1",
		AccessKey: "k", SecretKey: "s", PathStyle: true})
	require.NoError(t, err)
	a := *f.acts
	a.Objects = dead
	_, err = executeExtract(t, &a, photoflow.ObjectInput{Bucket: bucket, Key: "Incoming/u/a/x.jpg"})
	requireAppError(t, err, photoflow.ErrUnavailable, false)

	v, err := newEnv(&a).ExecuteActivity(a.GenerateThumbnail, photoflow.ThumbnailInput{
		ImageRef: photoflow.ImageRef{ObjectInput: photoflow.ObjectInput{Bucket: bucket, Key: "Incoming/u/a/x.jpg"},
			Format: media.FormatJPEG, Orientation: 1},
		MaxSize: 250, TargetKey: "Thumbnail/u/a/x.jpg"})
	assert.Nil(t, v)
	requireAppError(t, err, photoflow.ErrUnavailable, false)
}

func (f *fixture) thumbnail(in photoflow.ThumbnailInput) (photoflow.Thumbnail, error) {
	var th photoflow.Thumbnail
	v, err := f.env.ExecuteActivity(f.acts.GenerateThumbnail, in)
	if err != nil {
		return th, err
	}
	require.NoError(f.t, v.Get(&th))
	return th, nil
}

// fetchImage reads back and decodes what the activity wrote.
func (f *fixture) fetchImage(key string) (image.Image, string, objstore.ObjectInfo) {
	f.t.Helper()
	data, info, err := f.objects.GetBytes(f.ctx, bucket, key, "", 0)
	require.NoError(f.t, err)
	img, format, err := image.Decode(bytes.NewReader(data))
	require.NoError(f.t, err)
	return img, format, info
}

func near(c color.Color, want color.RGBA, tol int) bool {
	r, g, b, _ := c.RGBA()
	d := func(a uint32, w uint8) bool {
		v := int(a>>8) - int(w)
		return v >= -tol && v <= tol
	}
	return d(r, want.R) && d(g, want.G) && d(b, want.B)
}

// assertQuadrants checks that img displays the Quadrants picture upright.
func assertQuadrants(t *testing.T, img image.Image, label string) {
	t.Helper()
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	for _, q := range []struct {
		name string
		x, y int
		want color.RGBA
	}{
		{"top-left", w / 4, h / 4, mediatest.Red},
		{"top-right", 3 * w / 4, h / 4, mediatest.Green},
		{"bottom-left", w / 4, 3 * h / 4, mediatest.Blue},
		{"bottom-right", 3 * w / 4, 3 * h / 4, mediatest.Yellow},
	} {
		got := img.At(b.Min.X+q.x, b.Min.Y+q.y)
		assert.True(t, near(got, q.want, 48), "%s: %s is %v, want %v", label, q.name, got, q.want)
	}
}

func TestGenerateThumbnailOrientations(t *testing.T) {
	f := newFixture(t)
	encoders := []struct {
		format, contentType, decoded, ext string
		encode                            func(image.Image, []byte) []byte
	}{
		{media.FormatJPEG, "image/jpeg", "jpeg", "jpg", mediatest.JPEG},
		{media.FormatPNG, "image/png", "png", "png", mediatest.PNG},
	}
	for _, enc := range encoders {
		for o := 1; o <= 8; o++ {
			name := enc.ext + "-o" + string(rune('0'+o))
			stored := mediatest.StoredFor(mediatest.Quadrants(400, 300), o)
			data := enc.encode(stored, mediatest.EncodeEXIF(mediatest.EXIF{Orientation: o}, binary.BigEndian))
			src := f.upload("q"+string(rune('0'+o))+"."+enc.ext, data)

			// The orientation the activity applies is the one Identify found.
			md, err := f.extract(src)
			require.NoError(t, err, name)
			require.Equal(t, o, md.Orientation, name)

			target := "Thumbnail/u/a/q" + string(rune('0'+o)) + "." + enc.ext
			th, err := f.thumbnail(photoflow.ThumbnailInput{
				ImageRef: photoflow.ImageRef{ObjectInput: src, Format: md.Format, Orientation: md.Orientation},
				MaxSize:  250, TargetKey: target})
			require.NoError(t, err, name)
			assert.Equal(t, photoflow.Thumbnail{Key: target, Width: 250, Height: 188}, th, name)

			img, format, info := f.fetchImage(target)
			assert.Equal(t, enc.decoded, format, name)
			assert.Equal(t, enc.contentType, info.ContentType, name)
			assert.Equal(t, src.Key, info.Metadata["source-key"], name)
			assert.Equal(t, src.ETag, info.Metadata["source-etag"], name)
			assert.Equal(t, image.Rect(0, 0, 250, 188), img.Bounds(), name)
			assertQuadrants(t, img, name)
		}
	}
}

func TestGenerateThumbnailIdempotent(t *testing.T) {
	f := newFixture(t)
	data := mediatest.CameraJPEG(640, 480, 6)
	src := f.upload("cam.jpg", data)
	in := photoflow.ThumbnailInput{
		ImageRef: photoflow.ImageRef{ObjectInput: src, Format: media.FormatJPEG, Orientation: 6},
		MaxSize:  250, TargetKey: "Thumbnail/u/a/cam.jpg"}

	first, err := f.thumbnail(in)
	require.NoError(t, err)
	assert.Equal(t, photoflow.Thumbnail{Key: in.TargetKey, Width: 188, Height: 250}, first)
	info1, err := f.objects.Head(f.ctx, bucket, in.TargetKey)
	require.NoError(t, err)

	second, err := f.thumbnail(in)
	require.NoError(t, err)
	assert.Equal(t, first, second)
	info2, err := f.objects.Head(f.ctx, bucket, in.TargetKey)
	require.NoError(t, err)
	assert.Equal(t, info1.ETag, info2.ETag, "the same bytes are written again")
	assert.Equal(t, info1.Size, info2.Size)

	// The source is untouched.
	srcInfo, err := f.objects.Head(f.ctx, bucket, src.Key)
	require.NoError(t, err)
	assert.Equal(t, src.ETag, srcInfo.ETag)
}

func TestGenerateThumbnailSmallImageNotUpscaled(t *testing.T) {
	f := newFixture(t)
	src := f.upload("small.png", mediatest.PNG(mediatest.Quadrants(80, 60), nil))
	th, err := f.thumbnail(photoflow.ThumbnailInput{
		ImageRef: photoflow.ImageRef{ObjectInput: src, Format: media.FormatPNG, Orientation: 1},
		MaxSize:  250, TargetKey: "Thumbnail/u/a/small.png"})
	require.NoError(t, err)
	assert.Equal(t, 80, th.Width)
	assert.Equal(t, 60, th.Height)
	img, _, _ := f.fetchImage(th.Key)
	assertQuadrants(t, img, "small")
}

func TestGenerateThumbnailRefusals(t *testing.T) {
	f := newFixture(t)
	good := mediatest.JPEG(mediatest.Quadrants(400, 300), nil)
	src := f.upload("q.jpg", good)
	ref := photoflow.ImageRef{ObjectInput: src, Format: media.FormatJPEG, Orientation: 1}

	for _, target := range []string{"Incoming/u/a/q.jpg", "Incoming/u/a/thumb.jpg", "", "u/a/q.jpg"} {
		_, err := f.thumbnail(photoflow.ThumbnailInput{ImageRef: ref, MaxSize: 250, TargetKey: target})
		requireAppError(t, err, photoflow.ErrInvalidInput, true)
	}
	_, err := f.thumbnail(photoflow.ThumbnailInput{ImageRef: ref, MaxSize: 0, TargetKey: "Thumbnail/u/a/q.jpg"})
	requireAppError(t, err, photoflow.ErrInvalidInput, true)
	// Refused before any write: nothing may land under Incoming/ or Thumbnail/.
	_, err = f.objects.Head(f.ctx, bucket, "Incoming/u/a/thumb.jpg")
	require.ErrorIs(t, err, objstore.ErrNotFound)
	_, err = f.objects.Head(f.ctx, bucket, "Thumbnail/u/a/q.jpg")
	require.ErrorIs(t, err, objstore.ErrNotFound)
	info, err := f.objects.Head(f.ctx, bucket, src.Key)
	require.NoError(t, err)
	assert.Equal(t, src.ETag, info.ETag, "the source is not overwritten")

	// A valid header followed by half the scan data.
	sos := bytes.Index(good, []byte{0xFF, 0xDA})
	require.Positive(t, sos)
	require.Greater(t, len(good)/2, sos+20, "the cut falls inside the scan data")
	trunc := f.upload("trunc.jpg", good[:len(good)/2])
	md, err := f.extract(trunc)
	require.NoError(t, err, "the header alone identifies the file")
	_, err = f.thumbnail(photoflow.ThumbnailInput{
		ImageRef: photoflow.ImageRef{ObjectInput: trunc, Format: md.Format, Orientation: md.Orientation},
		MaxSize:  250, TargetKey: "Thumbnail/u/a/trunc.jpg"})
	requireAppError(t, err, photoflow.ErrCorruptImage, true)

	_, err = f.thumbnail(photoflow.ThumbnailInput{
		ImageRef: photoflow.ImageRef{ObjectInput: photoflow.ObjectInput{Bucket: bucket, Key: "Incoming/u/a/gone.jpg"},
			Format: media.FormatJPEG, Orientation: 1},
		MaxSize: 250, TargetKey: "Thumbnail/u/a/gone.jpg"})
	requireAppError(t, err, photoflow.ErrObjectNotFound, true)

	stale := ref
	stale.ETag = "0123456789abcdef0123456789abcdef"
	_, err = f.thumbnail(photoflow.ThumbnailInput{ImageRef: stale, MaxSize: 250, TargetKey: "Thumbnail/u/a/q.jpg"})
	requireAppError(t, err, photoflow.ErrObjectChanged, true)

	// A GIF that slipped past the type check cannot be decoded, whatever the attempt.
	gifSrc := f.upload("x.gif", mediatest.GIF(40, 30))
	_, err = f.thumbnail(photoflow.ThumbnailInput{
		ImageRef: photoflow.ImageRef{ObjectInput: gifSrc, Format: media.FormatGIF, Orientation: 1},
		MaxSize:  250, TargetKey: "Thumbnail/u/a/x.gif"})
	requireAppError(t, err, photoflow.ErrCorruptImage, true)
}

// The limits bind every activity that reads the object, not only ExtractImageMetadata, so a
// run given tighter settings than its first step saw fails for good instead of retrying.
func TestGenerateThumbnailLimits(t *testing.T) {
	f := newFixture(t)
	data := mediatest.JPEG(mediatest.Quadrants(400, 300), nil)
	src := f.upload("q.jpg", data)
	in := photoflow.ThumbnailInput{
		ImageRef: photoflow.ImageRef{ObjectInput: src, Format: media.FormatJPEG, Orientation: 1},
		MaxSize:  250, TargetKey: "Thumbnail/u/a/q.jpg"}

	a := *f.acts
	a.Limits = activities.Limits{MaxBytes: int64(len(data)) - 1}
	_, err := newEnv(&a).ExecuteActivity(a.GenerateThumbnail, in)
	requireAppError(t, err, photoflow.ErrImageTooLarge, true)

	a.Limits = activities.Limits{MaxPixels: 400*300 - 1}
	_, err = newEnv(&a).ExecuteActivity(a.GenerateThumbnail, in)
	requireAppError(t, err, photoflow.ErrImageTooLarge, true)

	_, err = f.objects.Head(f.ctx, bucket, in.TargetKey)
	require.ErrorIs(t, err, objstore.ErrNotFound, "a refused thumbnail is not written")
}

func labelsInput(src photoflow.ObjectInput, o, maxLabels int, minConf float64) photoflow.LabelsInput {
	return photoflow.LabelsInput{
		ImageRef:  photoflow.ImageRef{ObjectInput: src, Format: media.FormatJPEG, Orientation: o},
		MaxLabels: maxLabels, MinConfidence: minConf}
}

func TestDetectLabels(t *testing.T) {
	f := newFixture(t)
	src := f.upload("cam.jpg", mediatest.CameraJPEG(320, 240, 1))
	settings := photoflow.DefaultSettings()

	for _, c := range []struct {
		maxLabels int
		minConf   float64
	}{{settings.MaxLabels, settings.MinConfidence}, {2, 0}, {100, 90}} {
		v, err := f.env.ExecuteActivity(f.acts.DetectLabels, labelsInput(src, 1, c.maxLabels, c.minConf))
		require.NoError(t, err)
		var labels []photoflow.Label
		require.NoError(t, v.Get(&labels))
		assert.LessOrEqual(t, len(labels), c.maxLabels)
		for i, l := range labels {
			assert.NotEmpty(t, l.Name)
			assert.GreaterOrEqual(t, l.Confidence, c.minConf, l.Name)
			assert.LessOrEqual(t, l.Confidence, 100.0, l.Name)
			if i > 0 {
				assert.GreaterOrEqual(t, labels[i-1].Confidence, l.Confidence, "sorted by confidence")
			}
		}
		if c.minConf < 90 {
			require.NotEmpty(t, labels, "a landscape photo has labels at %g", c.minConf)
		}
		if c.maxLabels == 2 {
			assert.Len(t, labels, 2, "the cap, not the photo, limits the count")
		}
	}

	// The default settings find the photo's sky.
	v, err := f.env.ExecuteActivity(f.acts.DetectLabels, labelsInput(src, 1, settings.MaxLabels, settings.MinConfidence))
	require.NoError(t, err)
	var labels []photoflow.Label
	require.NoError(t, v.Get(&labels))
	names := map[string]bool{}
	for _, l := range labels {
		names[l.Name] = true
	}
	assert.True(t, names[vision.LabelSky], "labels %v", labels)
}

func TestDetectLabelsRefusals(t *testing.T) {
	f := newFixture(t)
	src := f.upload("cam.jpg", mediatest.CameraJPEG(64, 48, 1))
	for _, in := range []photoflow.LabelsInput{
		labelsInput(src, 1, 0, 60), labelsInput(src, 1, -1, 60),
		labelsInput(src, 1, 10, -1), labelsInput(src, 1, 10, 101),
	} {
		_, err := f.env.ExecuteActivity(f.acts.DetectLabels, in)
		requireAppError(t, err, photoflow.ErrInvalidInput, true)
	}
	text := f.upload("notes.txt", []byte("plain text"))
	_, err := f.env.ExecuteActivity(f.acts.DetectLabels, labelsInput(text, 1, 10, 60))
	requireAppError(t, err, photoflow.ErrCorruptImage, true)
}

func (f *fixture) moderation(src photoflow.ObjectInput, format string) photoflow.ModerationResult {
	f.t.Helper()
	v, err := f.env.ExecuteActivity(f.acts.DetectModeration,
		photoflow.ImageRef{ObjectInput: src, Format: format, Orientation: 1})
	require.NoError(f.t, err)
	var res photoflow.ModerationResult
	require.NoError(f.t, v.Get(&res))
	return res
}

func TestDetectModeration(t *testing.T) {
	f := newFixture(t)
	threshold := photoflow.DefaultSettings().ReviewThreshold

	skin := f.moderation(f.upload("skin.jpg", mediatest.JPEG(mediatest.SkinTone(320, 240), nil)), media.FormatJPEG)
	assert.GreaterOrEqual(t, skin.Score, threshold)
	require.NotEmpty(t, skin.Labels)
	top := 0.0
	for _, l := range skin.Labels {
		top = max(top, l.Confidence)
	}
	assert.Equal(t, top, skin.Score, "the score is the top confidence")

	camera := f.moderation(f.upload("cam.jpg", mediatest.CameraJPEG(320, 240, 1)), media.FormatJPEG)
	assert.Less(t, camera.Score, threshold)

	// Nothing found: an empty list, never null, so the record and the API show [].
	clean := f.moderation(f.upload("q.png", mediatest.PNG(mediatest.Quadrants(100, 80), nil)), media.FormatPNG)
	assert.Equal(t, 0.0, clean.Score)
	require.NotNil(t, clean.Labels)
	assert.Empty(t, clean.Labels)
	raw, err := json.Marshal(clean)
	require.NoError(t, err)
	assert.JSONEq(t, `{"labels":[],"score":0}`, string(raw))
}

func record(id string) photoflow.ImageRecord {
	up := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	return photoflow.ImageRecord{
		ImageID: id, UserID: "u", AlbumID: "a", S3Bucket: bucket, S3Key: photoflow.IncomingPrefix + id,
		ETag: "abc", UploadTime: up, UpdateTime: up.Add(time.Minute), Status: photoflow.StatusSucceeded,
		Format: media.FormatJPEG, Dimensions: &photoflow.Dimensions{Width: 4, Height: 3}, Orientation: 6,
		FileSize: 1234, CreationTime: mediatest.CameraCreationTime,
		Geo:    &photoflow.Geo{Latitude: 1.5, Longitude: -2.5},
		Labels: []photoflow.Label{{Name: "Sky", Confidence: 91.5}, {Name: "Outdoors", Confidence: 80}},
		Tags:   []string{"Sky", "Outdoors"},
		Moderation: &photoflow.ModerationRecord{Labels: []photoflow.Label{}, Score: 0,
			Decision: photoflow.ModerationAutoApproved},
		Thumbnail:  &photoflow.Thumbnail{Key: photoflow.ThumbnailKey(id), Width: 250, Height: 188},
		WorkflowID: "wf", RunID: "run",
	}
}

// sameRecord compares by JSON, the shape the API serves, so a zone change in a time or a
// nil-versus-empty list does not count as a difference while any value change does.
func sameRecord(t *testing.T, want, got photoflow.ImageRecord) {
	t.Helper()
	assert.True(t, want.UploadTime.Equal(got.UploadTime), "uploadTime %v, want %v", got.UploadTime, want.UploadTime)
	assert.True(t, want.UpdateTime.Equal(got.UpdateTime), "updateTime %v, want %v", got.UpdateTime, want.UpdateTime)
	got.UploadTime, got.UpdateTime = want.UploadTime, want.UpdateTime
	w, err := json.Marshal(want)
	require.NoError(t, err)
	g, err := json.Marshal(got)
	require.NoError(t, err)
	assert.JSONEq(t, string(w), string(g))
}

func TestPersistMetadata(t *testing.T) {
	f := newFixture(t)
	rec := record("u/a/cam.jpg")

	_, err := f.env.ExecuteActivity(f.acts.PersistMetadata, rec)
	require.NoError(t, err)
	got, err := f.store.Get(f.ctx, rec.ImageID)
	require.NoError(t, err)
	sameRecord(t, rec, got)

	_, err = f.env.ExecuteActivity(f.acts.PersistMetadata, rec)
	require.NoError(t, err)
	again, err := f.store.Get(f.ctx, rec.ImageID)
	require.NoError(t, err)
	sameRecord(t, got, again)
	page, err := f.store.List(f.ctx, store.Filter{UserID: "u"})
	require.NoError(t, err)
	require.Len(t, page.Records, 1, "a retried write leaves one record")

	for _, bad := range []photoflow.ImageRecord{{Status: photoflow.StatusSucceeded}, {ImageID: "x", Status: "DONE"}, {ImageID: "x"}} {
		_, err = f.env.ExecuteActivity(f.acts.PersistMetadata, bad)
		requireAppError(t, err, photoflow.ErrInvalidInput, true)
	}
	_, err = f.store.Get(f.ctx, "x")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestRecordFailure(t *testing.T) {
	f := newFixture(t)
	rec := record("u/a/bad.jpg")

	_, err := f.env.ExecuteActivity(f.acts.RecordFailure, rec)
	requireAppError(t, err, photoflow.ErrInvalidInput, true)
	_, err = f.store.Get(f.ctx, rec.ImageID)
	require.ErrorIs(t, err, store.ErrNotFound, "a refused status writes nothing")

	rec.Status = photoflow.StatusFailed
	rec.ErrorType = photoflow.ErrCorruptImage
	rec.ErrReason = "JPEG cut short"
	_, err = f.env.ExecuteActivity(f.acts.RecordFailure, rec)
	require.NoError(t, err)
	got, err := f.store.Get(f.ctx, rec.ImageID)
	require.NoError(t, err)
	sameRecord(t, rec, got)
	assert.Equal(t, photoflow.StatusFailed, got.Status)
	assert.Equal(t, "JPEG cut short", got.ErrReason)

	rec.Status = photoflow.StatusRejected
	_, err = f.env.ExecuteActivity(f.acts.RecordFailure, rec)
	require.NoError(t, err)
	got, err = f.store.Get(f.ctx, rec.ImageID)
	require.NoError(t, err)
	assert.Equal(t, photoflow.StatusRejected, got.Status)

	for _, s := range []photoflow.Status{photoflow.StatusProcessing, photoflow.StatusPendingReview, ""} {
		rec.Status = s
		_, err = f.env.ExecuteActivity(f.acts.RecordFailure, rec)
		requireAppError(t, err, photoflow.ErrInvalidInput, true)
	}
}

// A closed store is a fault no retry of the same worker fixes quickly, but it is not the
// input's fault either; it must not be reported as invalid input.
func TestPersistMetadataClosedStore(t *testing.T) {
	f := newFixture(t)
	require.NoError(t, f.store.Close())
	_, err := f.env.ExecuteActivity(f.acts.PersistMetadata, record("u/a/x.jpg"))
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr))
	assert.NotEqual(t, photoflow.ErrInvalidInput, appErr.Type())
}

func TestLoadSettings(t *testing.T) {
	f := newFixture(t)
	f.acts.Settings.MaxLabels = 7
	v, err := f.env.ExecuteActivity(f.acts.LoadSettings)
	require.NoError(t, err)
	var s photoflow.Settings
	require.NoError(t, v.Get(&s))
	assert.Equal(t, 7, s.MaxLabels)
	assert.Equal(t, f.acts.Settings, s)
}

// A write lock held by another process past the busy timeout is contention, so it is
// retried as throttling with a jittered delay rather than as an outage.
func TestPersistMetadataBusyStoreIsThrottled(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	other, err := sql.Open("sqlite", "file:"+f.dbPath)
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Close() })
	conn, err := other.Conn(f.ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	_, err = conn.ExecContext(f.ctx, "BEGIN IMMEDIATE")
	require.NoError(t, err)

	_, err = f.env.ExecuteActivity(f.acts.PersistMetadata, record("u/a/busy.jpg"))
	appErr := requireAppError(t, err, photoflow.ErrThrottled, false)
	assert.Positive(t, appErr.NextRetryDelay())
	assert.LessOrEqual(t, appErr.NextRetryDelay(), time.Minute)

	_, err = conn.ExecContext(f.ctx, "ROLLBACK")
	require.NoError(t, err)
	_, err = f.env.ExecuteActivity(f.acts.PersistMetadata, record("u/a/busy.jpg"))
	require.NoError(t, err, "the retry succeeds once the lock is released")
}

// sizeRecorder is an analyzer that notes the pixel size it was handed.
type sizeRecorder struct {
	minSide int
	got     image.Rectangle
}

func (s *sizeRecorder) MinSide() int { return s.minSide }

func (s *sizeRecorder) DetectLabels(_ context.Context, img vision.Image, _ int, _ float64) ([]photoflow.Label, error) {
	s.got = img.Pixels.Bounds()
	return nil, nil
}

func (s *sizeRecorder) DetectModeration(_ context.Context, img vision.Image) ([]photoflow.Label, error) {
	s.got = img.Pixels.Bounds()
	return nil, nil
}

// TestVisionGetsTheResolutionItAsks checks that an analyzer reading a coarse grid is handed a
// reduced decode, and one that asks nothing gets every pixel.
func TestVisionGetsTheResolutionItAsks(t *testing.T) {
	f := newFixture(t)
	src := f.upload("big.jpg", mediatest.JPEG(mediatest.Photo(1600, 1200, 3), nil))
	for _, tc := range []struct {
		minSide int
		want    image.Rectangle
	}{
		{100, image.Rect(0, 0, 200, 150)}, // an eighth is still 100 on both sides
		{200, image.Rect(0, 0, 400, 300)}, // a quarter
		{0, image.Rect(0, 0, 1600, 1200)}, // full size
	} {
		rec := &sizeRecorder{minSide: tc.minSide}
		f.acts.Vision = rec
		f.moderation(src, media.FormatJPEG)
		require.Equal(t, tc.want, rec.got, "min side %d", tc.minSide)
	}
}
