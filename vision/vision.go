package vision

import (
	"context"
	"errors"
	"image"

	"photoflow"
)

// Analyzer detects labels and moderation labels. The offline analyzer here is the embedded
// default; Amazon Rekognition (DetectLabels/DetectModerationLabels) comes later behind the
// same interface, so the parameters mirror Rekognition's MaxLabels and MinConfidence.
type Analyzer interface {
	// DetectLabels returns at most maxLabels labels (no cap when maxLabels ≤ 0) with a
	// confidence of at least minConfidence (0–100), highest confidence first.
	DetectLabels(ctx context.Context, img Image, maxLabels int, minConfidence float64) ([]photoflow.Label, error)
	// DetectModeration returns moderation labels, highest confidence first, or nil when
	// nothing was found.
	DetectModeration(ctx context.Context, img Image) ([]photoflow.Label, error)
}

// Resolution is implemented by analyzers that read only a reduced image: a caller may
// decode at the smallest size whose sides are at least MinSide pixels (0: full size), which
// for a JPEG skips most of the decoding work.
type Resolution interface {
	MinSide() int
}

// Image is what a backend needs: the decoded pixels for the offline analyzer, the
// bucket/key (and bytes) for a cloud one. A caller fills what it has; each backend says
// which fields it reads.
type Image struct {
	// Bucket and Key name the object, for backends that read it themselves.
	Bucket, Key string
	// Format is the decoded format name ("jpeg", "png"), for backends that only accept some.
	Format string
	// Orientation is the EXIF orientation (1–8; anything else means 1). Pixels are in
	// stored orientation, as Go's decoders return them; backends apply Orientation to
	// reason about the upright picture.
	Orientation int
	// Pixels are the decoded image; required by Offline.
	Pixels image.Image
	// Bytes, when set, is the encoded object, for backends that accept inline images and
	// so need no access to the bucket.
	Bytes []byte
}

// ErrNoPixels is returned by Offline when Image.Pixels is nil or empty: an input the
// caller can never fix by retrying.
var ErrNoPixels = errors.New("vision: image has no pixels")
