package vision

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"
	"github.com/aws/aws-sdk-go-v2/service/rekognition/types"
	"golang.org/x/image/draw"

	"photoflow"
	"photoflow/media"
)

// RekognitionConfig says where Amazon Rekognition is and how images reach it.
// Credentials come from aws-sdk-go-v2's default chain (environment, shared files, SSO,
// container or instance role).
type RekognitionConfig struct {
	// Endpoint, when set, replaces the regional endpoint (a VPC endpoint, a test server).
	Endpoint string
	// Region is the AWS region; empty means the default chain's (AWS_REGION, profile).
	Region string
	// UseS3Object sends an S3Object reference (Image.Bucket and Image.Key) instead of the
	// bytes. Only for images stored in AWS S3 in the same region and readable by the
	// caller's role: Rekognition fetches them itself, so nothing is uploaded twice and
	// the 5 MB inline limit does not apply (S3 objects may be up to 15 MB).
	UseS3Object bool
}

// Rekognition is the Analyzer backed by Amazon Rekognition's DetectLabels and
// DetectModerationLabels. It reads Image.Bucket and Image.Key when configured with
// UseS3Object, and otherwise Image.Bytes, Image.Format, Image.Orientation and, to make
// a smaller upright copy when the bytes cannot be sent as they are, Image.Pixels.
//
// Errors are the SDK's, wrapped, so a caller can see the service's error code through
// smithy.APIError. The client makes exactly one attempt per call: the workflow's retry
// policy owns retries, and throttling must reach it rather than be absorbed here.
// It is safe for concurrent use.
type Rekognition struct {
	client *rekognition.Client
	useS3  bool
}

var _ Analyzer = (*Rekognition)(nil)

// Limits and choices for inline images.
const (
	// RekognitionMaxBytes is Rekognition's limit on inline image bytes (Image.Bytes).
	RekognitionMaxBytes = 5 << 20
	// RekognitionMaxSide is the longest side of a copy made to fit the byte limit: well
	// above what label models look at, so nothing detectable is lost.
	RekognitionMaxSide = 2048
	// rekognitionJPEGQuality keeps re-encoding artefacts below anything a model notices.
	rekognitionJPEGQuality = 90
	// minCopySide stops shrinking a copy that still does not fit; no image is that dense.
	minCopySide = 256
)

// RekognitionModerationMinConfidence is the MinConfidence sent to DetectModerationLabels:
// Rekognition's own default. Every label at or above it is returned and the workflow's
// review and reject thresholds decide; a review threshold set below 50 therefore only
// ever sees scores of 50 or more (or 0 when nothing was found).
const RekognitionModerationMinConfidence = 50

// NewRekognition returns a Rekognition client built from aws-sdk-go-v2's default
// configuration chain, with cfg's region and endpoint when set. It fails when no region
// can be found, since every request would fail the same way.
func NewRekognition(ctx context.Context, cfg RekognitionConfig) (*Rekognition, error) {
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("vision: loading AWS configuration for Rekognition: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, errors.New("vision: Rekognition needs a region (set it or AWS_REGION)")
	}
	client := rekognition.NewFromConfig(awsCfg, func(o *rekognition.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		// Set on the client, not the shared config, so AWS_MAX_ATTEMPTS or a profile's
		// max_attempts cannot bring SDK retries back under Temporal's.
		o.RetryMaxAttempts = 1
	})
	return &Rekognition{client: client, useS3: cfg.UseS3Object}, nil
}

// DetectLabels implements Analyzer with DetectLabels (general labels only). maxLabels
// and minConfidence are sent as given (maxLabels ≤ 0 is left out: Rekognition's own cap)
// and applied again to the answer, so the Analyzer contract holds whatever comes back.
// Only Name and Confidence of each label are kept.
func (r *Rekognition) DetectLabels(ctx context.Context, img Image, maxLabels int, minConfidence float64) ([]photoflow.Label, error) {
	in, err := r.image(img)
	if err != nil {
		return nil, err
	}
	req := &rekognition.DetectLabelsInput{Image: in, MinConfidence: aws.Float32(float32(minConfidence))}
	if maxLabels > 0 {
		req.MaxLabels = aws.Int32(int32(min(maxLabels, math.MaxInt32)))
	}
	out, err := r.client.DetectLabels(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("vision: rekognition DetectLabels of %s: %w", describe(img, in), err)
	}
	var labels []photoflow.Label
	for _, l := range out.Labels {
		if l.Name == nil || *l.Name == "" {
			continue
		}
		c := confidence(l.Confidence)
		if c >= minConfidence {
			labels = append(labels, photoflow.Label{Name: *l.Name, Confidence: c})
		}
	}
	sortLabels(labels)
	if maxLabels > 0 && len(labels) > maxLabels {
		labels = labels[:maxLabels]
	}
	return labels, nil
}

// DetectModeration implements Analyzer with DetectModerationLabels at
// RekognitionModerationMinConfidence. Every label comes back with its own confidence,
// named by ModerationLabel.Name alone: Rekognition also returns each parent category as a
// label of its own, so ParentName would only repeat a name already in the list, and the
// score the workflow routes on is the highest confidence at any level.
func (r *Rekognition) DetectModeration(ctx context.Context, img Image) ([]photoflow.Label, error) {
	in, err := r.image(img)
	if err != nil {
		return nil, err
	}
	out, err := r.client.DetectModerationLabels(ctx, &rekognition.DetectModerationLabelsInput{
		Image: in, MinConfidence: aws.Float32(RekognitionModerationMinConfidence)})
	if err != nil {
		return nil, fmt.Errorf("vision: rekognition DetectModerationLabels of %s: %w", describe(img, in), err)
	}
	var labels []photoflow.Label
	for _, l := range out.ModerationLabels {
		if l.Name == nil || *l.Name == "" {
			continue
		}
		labels = append(labels, photoflow.Label{Name: *l.Name, Confidence: confidence(l.Confidence)})
	}
	sortLabels(labels)
	return labels, nil
}

// image chooses what Rekognition receives: the S3 reference, the object's own bytes when
// Rekognition can read them as they are, or else an upright JPEG copy made from the pixels.
func (r *Rekognition) image(img Image) (*types.Image, error) {
	if r.useS3 {
		if img.Bucket == "" || img.Key == "" {
			return nil, fmt.Errorf("vision: rekognition reads from S3 but the image has no bucket/key (%q, %q)", img.Bucket, img.Key)
		}
		return &types.Image{S3Object: &types.S3Object{Bucket: aws.String(img.Bucket), Name: aws.String(img.Key)}}, nil
	}
	if sendAsIs(img) {
		return &types.Image{Bytes: img.Bytes}, nil
	}
	if img.Pixels == nil || img.Pixels.Bounds().Empty() {
		return nil, fmt.Errorf("vision: rekognition needs the image's bytes or pixels: %w", ErrNoPixels)
	}
	data, err := uprightJPEG(img.Pixels, img.Orientation, RekognitionMaxSide, RekognitionMaxBytes)
	if err != nil {
		return nil, err
	}
	return &types.Image{Bytes: data}, nil
}

// sendAsIs reports whether the encoded object should go to Rekognition unchanged: within
// the byte limit, in a format it reads, and upright as its models will see it. It applies a
// JPEG's EXIF orientation itself; a PNG's (eXIf chunk) it ignores, so a turned PNG is
// re-encoded upright. Without pixels there is nothing better to send, and Rekognition's own
// answer (ImageTooLarge, InvalidImageFormat) says more than a guess here would.
func sendAsIs(img Image) bool {
	switch {
	case len(img.Bytes) == 0:
		return false
	case img.Pixels == nil || img.Pixels.Bounds().Empty():
		return true
	case len(img.Bytes) > RekognitionMaxBytes:
		return false
	case strings.EqualFold(img.Format, media.FormatJPEG):
		return true
	case strings.EqualFold(img.Format, media.FormatPNG):
		return img.Orientation < 2 || img.Orientation > 8
	}
	return false
}

// uprightJPEG scales pix to fit maxSide (never up), turns it upright and encodes it as a
// JPEG of at most maxBytes, shrinking further in the unlikely case that noise defeats the
// compression. The copy carries no EXIF, which is why the orientation is applied to it.
func uprightJPEG(pix image.Image, orientation, maxSide, maxBytes int) ([]byte, error) {
	b := pix.Bounds()
	var buf bytes.Buffer
	for side := maxSide; ; side = side * 3 / 4 {
		w, h := fit(b.Dx(), b.Dy(), side)
		var small image.Image = pix
		if w != b.Dx() || h != b.Dy() {
			dst := image.NewRGBA(image.Rect(0, 0, w, h))
			draw.CatmullRom.Scale(dst, dst.Bounds(), pix, b, draw.Src, nil)
			small = dst
		}
		buf.Reset()
		if err := jpeg.Encode(&buf, media.Orient(small, orientation), &jpeg.Options{Quality: rekognitionJPEGQuality}); err != nil {
			return nil, fmt.Errorf("vision: encoding a copy for rekognition: %w", err)
		}
		if buf.Len() <= maxBytes || side <= minCopySide {
			return buf.Bytes(), nil
		}
	}
}

// fit scales w×h to fit a side×side square, keeping the aspect ratio and never upscaling.
func fit(w, h, side int) (int, int) {
	if w <= side && h <= side {
		return w, h
	}
	if w >= h {
		return side, max(1, int((int64(h)*int64(side)+int64(w)/2)/int64(w)))
	}
	return max(1, int((int64(w)*int64(side)+int64(h)/2)/int64(h))), side
}

// confidence widens Rekognition's float32 by its shortest decimal form, so 97.2 is stored
// and shown as 97.2 rather than 97.19999694824219.
func confidence(c *float32) float64 {
	if c == nil {
		return 0
	}
	v, err := strconv.ParseFloat(strconv.FormatFloat(float64(*c), 'g', -1, 32), 64)
	if err != nil {
		return float64(*c)
	}
	return v
}

func sortLabels(labels []photoflow.Label) {
	slices.SortStableFunc(labels, func(a, b photoflow.Label) int { return cmp.Compare(b.Confidence, a.Confidence) })
}

// describe names the image in an error: its S3 location when known, and what was sent.
func describe(img Image, in *types.Image) string {
	switch {
	case in.S3Object != nil:
		return fmt.Sprintf("s3://%s/%s", img.Bucket, img.Key)
	case img.Bucket != "" || img.Key != "":
		return fmt.Sprintf("s3://%s/%s (%d bytes sent)", img.Bucket, img.Key, len(in.Bytes))
	}
	return fmt.Sprintf("a %d-byte image", len(in.Bytes))
}
