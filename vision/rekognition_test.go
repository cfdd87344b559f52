package vision_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/rekognition/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"photoflow"
	"photoflow/activities"
	"photoflow/media"
	"photoflow/media/mediatest"
	"photoflow/objstore"
	"photoflow/vision"
)

const (
	testRegion    = "eu-west-1"
	testAccessKey = "AKIDPHOTOFLOWTEST"
)

// rekRequest is a DetectLabels or DetectModerationLabels request body as the AWS API
// reference spells it.
type rekRequest struct {
	Image struct {
		Bytes    []byte
		S3Object *struct{ Bucket, Name string }
	}
	MaxLabels     *int
	MinConfidence *float64
}

type rekCall struct {
	method, path, target, contentType, auth, date string
	keys                                          []string // top-level body members, sorted
	body                                          rekRequest
}

type rekReply struct {
	status int
	body   string
}

// fakeRekognition speaks Rekognition's JSON 1.1 protocol: one POST / per call, the
// operation in X-Amz-Target, JSON in and out, errors as {"__type", "message"}.
type fakeRekognition struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	calls   []rekCall
	replies map[string]rekReply // by operation; unset ones answer 200 with an empty result
}

func newFakeRekognition(t *testing.T) *fakeRekognition {
	f := &fakeRekognition{t: t, replies: map[string]rekReply{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeRekognition) serve(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c := rekCall{method: r.Method, path: r.URL.Path, target: r.Header.Get("X-Amz-Target"),
		contentType: r.Header.Get("Content-Type"), auth: r.Header.Get("Authorization"),
		date: r.Header.Get("X-Amz-Date")}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		f.t.Errorf("request body is not a JSON object: %v", err)
	}
	for k := range members {
		c.keys = append(c.keys, k)
	}
	slices.Sort(c.keys)
	if err := json.Unmarshal(raw, &c.body); err != nil {
		f.t.Errorf("request body does not match the API reference: %v", err)
	}
	op := strings.TrimPrefix(c.target, "RekognitionService.")
	f.mu.Lock()
	f.calls = append(f.calls, c)
	reply, ok := f.replies[op]
	f.mu.Unlock()
	if !ok {
		reply = rekReply{http.StatusOK, `{}`}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", "3f1c9a4e-0000-4000-8000-000000000000")
	w.WriteHeader(reply.status)
	_, _ = io.WriteString(w, reply.body)
}

func (f *fakeRekognition) reply(op string, status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replies[op] = rekReply{status, body}
	f.calls = nil
}

func (f *fakeRekognition) requests() []rekCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// only returns the single request sent, failing unless there was exactly one.
func (f *fakeRekognition) only(t *testing.T) rekCall {
	t.Helper()
	calls := f.requests()
	require.Len(t, calls, 1, "exactly one request: the SDK must not retry")
	return calls[0]
}

// isolateAWS makes the default configuration chain see static dummy credentials and
// nothing of this machine: no shared files, profile, region, instance metadata or retry
// settings.
func isolateAWS(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_ACCESS_KEY_ID": testAccessKey, "AWS_SECRET_ACCESS_KEY": "photoflow-test-secret", "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_DEFAULT_PROFILE": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "", "AWS_RETRY_MODE": "",
		"AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_REKOGNITION": "", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "",
	} {
		t.Setenv(k, v)
	}
}

func newRekognition(t *testing.T, f *fakeRekognition, useS3 bool) *vision.Rekognition {
	t.Helper()
	isolateAWS(t)
	r, err := vision.NewRekognition(context.Background(), vision.RekognitionConfig{
		Endpoint: f.srv.URL, Region: testRegion, UseS3Object: useS3})
	require.NoError(t, err)
	return r
}

// assertProtocol checks what every call must carry: JSON 1.1 to / with the operation in
// X-Amz-Target, signed with SigV4 for the rekognition service in the configured region.
func assertProtocol(t *testing.T, c rekCall, op string) {
	t.Helper()
	assert.Equal(t, http.MethodPost, c.method)
	assert.Equal(t, "/", c.path)
	assert.Equal(t, "RekognitionService."+op, c.target)
	assert.Equal(t, "application/x-amz-json-1.1", c.contentType)
	assert.True(t, strings.HasPrefix(c.auth, "AWS4-HMAC-SHA256 Credential="+testAccessKey+"/"), "Authorization %q", c.auth)
	assert.Contains(t, c.auth, "/"+testRegion+"/rekognition/aws4_request")
	assert.Contains(t, c.auth, "SignedHeaders=")
	assert.Contains(t, c.auth, "x-amz-target", "the operation is signed")
	assert.Contains(t, c.auth, "Signature=")
	assert.NotEmpty(t, c.date, "X-Amz-Date")
}

func decodeJPEG(t *testing.T, data []byte) image.Image {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(data))
	require.NoError(t, err, "Rekognition must receive a decodable JPEG")
	return img
}

// camera returns a small camera JPEG and what the activity would pass for it.
func camera(t *testing.T, w, h, o int) vision.Image {
	t.Helper()
	data := mediatest.CameraJPEG(w, h, o)
	pix, err := media.Decode(bytes.NewReader(data), media.FormatJPEG, 0)
	require.NoError(t, err)
	return vision.Image{Bucket: "photos", Key: "Incoming/u/a/cam.jpg", Format: media.FormatJPEG,
		Orientation: o, Pixels: pix, Bytes: data}
}

const labelsReply = `{"Labels":[
	{"Name":"Sky","Confidence":81.5,"Instances":[],"Parents":[],"Aliases":[],"Categories":[{"Name":"Nature and Outdoors"}]},
	{"Name":"Mountain","Confidence":97.2,"Instances":[],"Parents":[{"Name":"Outdoors"}],"Aliases":[],"Categories":[{"Name":"Nature and Outdoors"}]},
	{"Name":"Outdoors","Confidence":97.2,"Instances":[],"Parents":[],"Aliases":[],"Categories":[]}
],"LabelModelVersion":"3.0"}`

func TestRekognitionDetectLabelsSendsBytes(t *testing.T) {
	f := newFakeRekognition(t)
	rek := newRekognition(t, f, false)
	img := camera(t, 320, 240, 6)
	f.reply("DetectLabels", http.StatusOK, labelsReply)

	labels, err := rek.DetectLabels(context.Background(), img, 10, 60)
	require.NoError(t, err)
	assert.Equal(t, []photoflow.Label{{Name: "Mountain", Confidence: 97.2}, {Name: "Outdoors", Confidence: 97.2},
		{Name: "Sky", Confidence: 81.5}}, labels, "highest first, confidences as Rekognition wrote them")

	c := f.only(t)
	assertProtocol(t, c, "DetectLabels")
	assert.Equal(t, []string{"Image", "MaxLabels", "MinConfidence"}, c.keys)
	require.NotNil(t, c.body.MaxLabels)
	require.NotNil(t, c.body.MinConfidence)
	assert.Equal(t, 10, *c.body.MaxLabels)
	assert.Equal(t, 60.0, *c.body.MinConfidence)
	assert.Nil(t, c.body.Image.S3Object)
	assert.Equal(t, img.Bytes, c.body.Image.Bytes, "a JPEG under 5 MB goes as it is, EXIF orientation included")

	// The cap and floor hold whatever the service answers; no cap leaves MaxLabels out.
	labels, err = rek.DetectLabels(context.Background(), img, 2, 90)
	require.NoError(t, err)
	assert.Equal(t, []photoflow.Label{{Name: "Mountain", Confidence: 97.2}, {Name: "Outdoors", Confidence: 97.2}}, labels)
	f.reply("DetectLabels", http.StatusOK, labelsReply)
	labels, err = rek.DetectLabels(context.Background(), img, 0, 0)
	require.NoError(t, err)
	assert.Len(t, labels, 3)
	c = f.only(t)
	assert.Equal(t, []string{"Image", "MinConfidence"}, c.keys)
	assert.Equal(t, 0.0, *c.body.MinConfidence)

	f.reply("DetectLabels", http.StatusOK, `{"Labels":[],"LabelModelVersion":"3.0"}`)
	labels, err = rek.DetectLabels(context.Background(), img, 10, 60)
	require.NoError(t, err)
	assert.Empty(t, labels)
}

func TestRekognitionS3Object(t *testing.T) {
	f := newFakeRekognition(t)
	rek := newRekognition(t, f, true)
	img := vision.Image{Bucket: "photos", Key: "Incoming/u/a/IMG 1.jpg", Format: media.FormatJPEG,
		Bytes: bytes.Repeat([]byte{0xFF}, vision.RekognitionMaxBytes+1)}
	f.reply("DetectLabels", http.StatusOK, labelsReply)

	_, err := rek.DetectLabels(context.Background(), img, 10, 60)
	require.NoError(t, err)
	c := f.only(t)
	assertProtocol(t, c, "DetectLabels")
	require.NotNil(t, c.body.Image.S3Object, "S3Object, not bytes")
	assert.Equal(t, "photos", c.body.Image.S3Object.Bucket)
	assert.Equal(t, "Incoming/u/a/IMG 1.jpg", c.body.Image.S3Object.Name)
	assert.Nil(t, c.body.Image.Bytes, "no bytes travel when Rekognition reads S3 itself")

	f.reply("DetectModerationLabels", http.StatusOK, `{"ModerationLabels":[],"ModerationModelVersion":"7.0"}`)
	_, err = rek.DetectModeration(context.Background(), img)
	require.NoError(t, err)
	c = f.only(t)
	require.NotNil(t, c.body.Image.S3Object)
	assert.Equal(t, "Incoming/u/a/IMG 1.jpg", c.body.Image.S3Object.Name)

	f.reply("DetectLabels", http.StatusOK, labelsReply)
	_, err = rek.DetectLabels(context.Background(), vision.Image{Key: "k"}, 10, 60)
	require.Error(t, err, "an S3 reference needs a bucket")
	assert.Empty(t, f.requests())
}

// noisyQuadrants is mediatest.Quadrants with strong noise, so a JPEG of it is large: each
// quadrant keeps its colour's channels in the upper half of the range, the others in the
// lower half.
func noisyQuadrants(w, h int) *image.RGBA {
	img := mediatest.Quadrants(w, h)
	r := rand.New(rand.NewPCG(7, 11))
	for i := 0; i < len(img.Pix); i += 4 {
		for c := range 3 {
			img.Pix[i+c] = img.Pix[i+c]/2 + uint8(r.UintN(128))
		}
	}
	return img
}

// assertUprightQuadrants checks the colour at the middle of each quarter of img.
func assertUprightQuadrants(t *testing.T, img image.Image, what string) {
	t.Helper()
	b := img.Bounds()
	for _, q := range []struct {
		fx, fy float64
		want   color.RGBA
		name   string
	}{{0.25, 0.25, mediatest.Red, "top left red"}, {0.75, 0.25, mediatest.Green, "top right green"},
		{0.25, 0.75, mediatest.Blue, "bottom left blue"}, {0.75, 0.75, mediatest.Yellow, "bottom right yellow"}} {
		cx, cy := b.Min.X+int(q.fx*float64(b.Dx())), b.Min.Y+int(q.fy*float64(b.Dy()))
		var sum [3]int
		n := 0
		for y := cy - 8; y <= cy+8; y++ {
			for x := cx - 8; x <= cx+8; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				sum[0], sum[1], sum[2] = sum[0]+int(r>>8), sum[1]+int(g>>8), sum[2]+int(bl>>8)
				n++
			}
		}
		for c, want := range []uint8{q.want.R, q.want.G, q.want.B} {
			mean := sum[c] / n
			if want == 255 {
				assert.Greater(t, mean, 150, "%s: %s channel %d", what, q.name, c)
			} else {
				assert.Less(t, mean, 105, "%s: %s channel %d", what, q.name, c)
			}
		}
	}
}

func TestRekognitionSendsAnUprightCopyWhenBytesWillNotDo(t *testing.T) {
	f := newFakeRekognition(t)
	rek := newRekognition(t, f, false)
	over := bytes.Repeat([]byte{0}, vision.RekognitionMaxBytes+1) // only its size matters
	cases := []struct {
		name         string
		uw, uh, o    int    // upright size and EXIF orientation of the stored pixels
		format       string // of Bytes
		bytes        []byte
		wantW, wantH int
	}{
		{"over 5 MB, landscape", 2100, 1400, 1, media.FormatJPEG, over, 2048, 1365},
		{"over 5 MB, turned 90° (6)", 2100, 1400, 6, media.FormatJPEG, over, 2048, 1365},
		{"over 5 MB, turned 270° (8), portrait", 1400, 2100, 8, media.FormatJPEG, over, 1365, 2048},
		{"no bytes, small: never upscaled", 400, 300, 6, media.FormatJPEG, nil, 400, 300},
		{"no bytes, upside down (3)", 300, 300, 3, media.FormatJPEG, nil, 300, 300},
		{"no bytes, transposed (5)", 300, 200, 5, media.FormatJPEG, nil, 300, 200},
		{"turned PNG: Rekognition ignores eXIf", 300, 200, 6, media.FormatPNG, []byte("png bytes"), 300, 200},
		{"format Rekognition cannot read", 300, 200, 1, "WEBP", []byte("webp bytes"), 300, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := vision.Image{Bucket: "photos", Key: "Incoming/u/a/big.jpg", Format: c.format, Orientation: c.o,
				Pixels: mediatest.StoredFor(mediatest.Quadrants(c.uw, c.uh), c.o), Bytes: c.bytes}
			ops := []string{"DetectLabels"}
			if c.o == 6 {
				ops = append(ops, "DetectModerationLabels") // the same preparation; once is enough
			}
			for _, op := range ops {
				f.reply(op, http.StatusOK, `{}`)
				var err error
				if op == "DetectLabels" {
					_, err = rek.DetectLabels(context.Background(), img, 10, 60)
				} else {
					_, err = rek.DetectModeration(context.Background(), img)
				}
				require.NoError(t, err)
				sent := f.only(t).body.Image.Bytes
				assert.LessOrEqual(t, len(sent), vision.RekognitionMaxBytes)
				got := decodeJPEG(t, sent)
				assert.Equal(t, image.Pt(c.wantW, c.wantH), got.Bounds().Size(), "upright size")
				assertUprightQuadrants(t, got, op)
			}
		})
	}

	// An upright PNG under the limit goes as it is.
	png := mediatest.PNG(mediatest.Quadrants(40, 30), nil)
	f.reply("DetectLabels", http.StatusOK, `{}`)
	_, err := rek.DetectLabels(context.Background(), vision.Image{Format: media.FormatPNG, Orientation: 1,
		Pixels: mediatest.Quadrants(40, 30), Bytes: png}, 10, 60)
	require.NoError(t, err)
	assert.Equal(t, png, f.only(t).body.Image.Bytes)

	_, err = rek.DetectLabels(context.Background(), vision.Image{Format: media.FormatJPEG}, 10, 60)
	require.ErrorIs(t, err, vision.ErrNoPixels)
}

func TestRekognitionDetectModeration(t *testing.T) {
	f := newFakeRekognition(t)
	rek := newRekognition(t, f, false)
	img := camera(t, 160, 120, 1)
	f.reply("DetectModerationLabels", http.StatusOK, `{"ModerationLabels":[
		{"Name":"Revealing Clothes","ParentName":"Suggestive","Confidence":61.3,"TaxonomyLevel":2},
		{"Name":"Suggestive","ParentName":"","Confidence":88.1,"TaxonomyLevel":1},
		{"Name":"Female Swimwear Or Underwear","ParentName":"Suggestive","Confidence":88.1,"TaxonomyLevel":2}
	],"ModerationModelVersion":"7.0","ContentTypes":[]}`)

	labels, err := rek.DetectModeration(context.Background(), img)
	require.NoError(t, err)
	assert.Equal(t, []photoflow.Label{{Name: "Suggestive", Confidence: 88.1},
		{Name: "Female Swimwear Or Underwear", Confidence: 88.1}, {Name: "Revealing Clothes", Confidence: 61.3}}, labels)
	c := f.only(t)
	assertProtocol(t, c, "DetectModerationLabels")
	assert.Equal(t, []string{"Image", "MinConfidence"}, c.keys)
	require.NotNil(t, c.body.MinConfidence)
	assert.Equal(t, float64(vision.RekognitionModerationMinConfidence), *c.body.MinConfidence)
	assert.Equal(t, img.Bytes, c.body.Image.Bytes)

	f.reply("DetectModerationLabels", http.StatusOK, `{"ModerationLabels":[],"ModerationModelVersion":"7.0"}`)
	labels, err = rek.DetectModeration(context.Background(), img)
	require.NoError(t, err)
	assert.Nil(t, labels, "nothing found is nil")
}

func TestRekognitionErrorsKeepTheSDKError(t *testing.T) {
	f := newFakeRekognition(t)
	rek := newRekognition(t, f, false)
	img := camera(t, 64, 48, 1)

	f.reply("DetectLabels", http.StatusBadRequest, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
	_, err := rek.DetectLabels(context.Background(), img, 10, 60)
	var throttling *types.ThrottlingException
	require.ErrorAs(t, err, &throttling)
	var apiErr smithy.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "ThrottlingException", apiErr.ErrorCode())
	assert.Equal(t, "Rate exceeded", apiErr.ErrorMessage())
	assert.ErrorContains(t, err, "s3://photos/Incoming/u/a/cam.jpg")
	f.only(t)

	f.reply("DetectModerationLabels", http.StatusInternalServerError, `{"__type":"InternalServerError","message":"oops"}`)
	_, err = rek.DetectModeration(context.Background(), img)
	var internal *types.InternalServerError
	require.ErrorAs(t, err, &internal)
	assert.Equal(t, smithy.FaultServer, internal.ErrorFault())
	assert.Equal(t, http.StatusInternalServerError, objstore.HTTPStatus(err))
	f.only(t)
}

func TestNewRekognitionNeedsARegion(t *testing.T) {
	isolateAWS(t)
	_, err := vision.NewRekognition(context.Background(), vision.RekognitionConfig{Endpoint: "http://127.0.0.1:1"})
	require.ErrorContains(t, err, "region")

	t.Setenv("AWS_REGION", testRegion)
	_, err = vision.NewRekognition(context.Background(), vision.RekognitionConfig{})
	require.NoError(t, err, "the default chain's region")
}

// activityFixture runs the real activities against an embedded S3 and the fake Rekognition,
// in Temporal's test activity environment, which makes one attempt and reports the error
// as the workflow's retry policy would see it.
type activityFixture struct {
	t       *testing.T
	ctx     context.Context
	rek     *fakeRekognition
	objects *objstore.Store
	acts    *activities.Activities
	env     *testsuite.TestActivityEnvironment
}

func newActivityFixture(t *testing.T) *activityFixture {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	e, err := objstore.StartEmbedded(filepath.Join(t.TempDir(), "s3.bolt"), "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	objects, err := objstore.New(ctx, objstore.Config{Endpoint: e.Endpoint(), Region: "us-east-1",
		AccessKey: "k", SecretKey: "s", PathStyle: true})
	require.NoError(t, err)
	require.NoError(t, objects.EnsureBucket(ctx, "photoflow"))
	f := &activityFixture{t: t, ctx: ctx, rek: newFakeRekognition(t), objects: objects}
	f.acts = &activities.Activities{Objects: objects, Vision: newRekognition(t, f.rek, false),
		Settings: photoflow.DefaultSettings()}
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	f.env = s.NewTestActivityEnvironment()
	f.env.RegisterActivity(f.acts)
	return f
}

func (f *activityFixture) upload(name string, data []byte) photoflow.ObjectInput {
	f.t.Helper()
	key := photoflow.IncomingKey("u", "a", name)
	etag, err := f.objects.Put(f.ctx, "photoflow", key, data, "", nil)
	require.NoError(f.t, err)
	return photoflow.ObjectInput{Bucket: "photoflow", Key: key, ETag: etag}
}

func (f *activityFixture) labels(in photoflow.ObjectInput, o int) ([]photoflow.Label, error) {
	s := photoflow.DefaultSettings()
	v, err := f.env.ExecuteActivity(f.acts.DetectLabels, photoflow.LabelsInput{
		ImageRef:  photoflow.ImageRef{ObjectInput: in, Format: media.FormatJPEG, Orientation: o},
		MaxLabels: s.MaxLabels, MinConfidence: s.MinConfidence})
	if err != nil {
		return nil, err
	}
	var labels []photoflow.Label
	require.NoError(f.t, v.Get(&labels))
	return labels, nil
}

func (f *activityFixture) moderation(in photoflow.ObjectInput) (photoflow.ModerationResult, error) {
	v, err := f.env.ExecuteActivity(f.acts.DetectModeration,
		photoflow.ImageRef{ObjectInput: in, Format: media.FormatJPEG, Orientation: 1})
	var res photoflow.ModerationResult
	if err == nil {
		require.NoError(f.t, v.Get(&res))
	}
	return res, err
}

func TestRekognitionThroughActivities(t *testing.T) {
	f := newActivityFixture(t)
	data := mediatest.CameraJPEG(320, 240, 6)
	in := f.upload("cam.jpg", data)

	f.rek.reply("DetectLabels", http.StatusOK, labelsReply)
	labels, err := f.labels(in, 6)
	require.NoError(t, err)
	assert.Equal(t, photoflow.Label{Name: "Mountain", Confidence: 97.2}, labels[0])
	c := f.rek.only(t)
	assertProtocol(t, c, "DetectLabels")
	assert.Equal(t, data, c.body.Image.Bytes, "the activity hands over the object's bytes")
	assert.Equal(t, 10, *c.body.MaxLabels, "the pipeline's default MaxLabels")
	assert.Equal(t, 60.0, *c.body.MinConfidence, "the pipeline's default MinConfidence")

	f.rek.reply("DetectModerationLabels", http.StatusOK,
		`{"ModerationLabels":[{"Name":"Suggestive","ParentName":"","Confidence":88.1}],"ModerationModelVersion":"7.0"}`)
	res, err := f.moderation(in)
	require.NoError(t, err)
	assert.Equal(t, 88.1, res.Score)
	assert.Equal(t, []photoflow.Label{{Name: "Suggestive", Confidence: 88.1}}, res.Labels)
	f.rek.only(t)
}

func TestRekognitionLargeObjectThroughActivities(t *testing.T) {
	f := newActivityFixture(t)
	// Stored turned (EXIF 6) and over 5 MB: the object itself cannot be sent.
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, mediatest.StoredFor(noisyQuadrants(1800, 2400), 6), &jpeg.Options{Quality: 100}))
	require.Greater(t, buf.Len(), vision.RekognitionMaxBytes, "the fixture must exceed Rekognition's limit")
	in := f.upload("big.jpg", buf.Bytes())

	f.rek.reply("DetectLabels", http.StatusOK, labelsReply)
	_, err := f.labels(in, 6)
	require.NoError(t, err)
	sent := f.rek.only(t).body.Image.Bytes
	assert.LessOrEqual(t, len(sent), vision.RekognitionMaxBytes)
	got := decodeJPEG(t, sent)
	assert.Equal(t, image.Pt(1536, 2048), got.Bounds().Size(), "downscaled and upright (portrait)")
	assertUprightQuadrants(t, got, "large object")
}

func TestRekognitionErrorsThroughActivities(t *testing.T) {
	f := newActivityFixture(t)
	in := f.upload("cam.jpg", mediatest.CameraJPEG(64, 48, 1))
	cases := []struct {
		status       int
		body         string
		errType      string
		nonRetryable bool
	}{
		{400, `{"__type":"ThrottlingException","message":"Rate exceeded"}`, photoflow.ErrThrottled, false},
		// Some services namespace the type; the SDK strips it.
		{400, `{"__type":"com.amazonaws.rekognition#ThrottlingException","message":"Rate exceeded"}`, photoflow.ErrThrottled, false},
		{400, `{"__type":"ProvisionedThroughputExceededException","message":"slow down"}`, photoflow.ErrThrottled, false},
		{400, `{"__type":"LimitExceededException","message":"too many"}`, photoflow.ErrThrottled, false},
		{500, `{"__type":"InternalServerError","message":"internal"}`, photoflow.ErrUnavailable, false},
		{503, `{"__type":"ServiceUnavailableException","message":"unavailable"}`, photoflow.ErrUnavailable, false},
		{400, `{"__type":"InvalidImageFormatException","message":"Request has invalid image format"}`, "InvalidImageFormatException", true},
		{400, `{"__type":"ImageTooLargeException","message":"too large"}`, "ImageTooLargeException", true},
		{400, `{"__type":"InvalidParameterException","message":"Request has invalid parameters"}`, "InvalidParameterException", true},
		{400, `{"__type":"InvalidS3ObjectException","message":"Unable to get object metadata from S3"}`, "InvalidS3ObjectException", true},
		{400, `{"__type":"AccessDeniedException","message":"not authorized"}`, "AccessDeniedException", true},
	}
	for _, c := range cases {
		var code struct {
			Type string `json:"__type"`
		}
		require.NoError(t, json.Unmarshal([]byte(c.body), &code))
		t.Run(code.Type, func(t *testing.T) {
			f.rek.reply("DetectLabels", c.status, c.body)
			_, err := f.labels(in, 1)
			appErr := requireAppError(t, err, c.errType, c.nonRetryable)
			f.rek.only(t)
			if c.errType == photoflow.ErrThrottled {
				assert.Greater(t, appErr.NextRetryDelay(), time.Duration(0), "throttling carries a jittered delay")
			}

			f.rek.reply("DetectModerationLabels", c.status, c.body)
			_, err = f.moderation(in)
			requireAppError(t, err, c.errType, c.nonRetryable)
			f.rek.only(t)
		})
	}
}

func requireAppError(t *testing.T, err error, errType string, nonRetryable bool) *temporal.ApplicationError {
	t.Helper()
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "want an ApplicationError, got %T: %v", err, err)
	assert.Equal(t, errType, appErr.Type(), "error: %v", err)
	assert.Equal(t, nonRetryable, appErr.NonRetryable(), "NonRetryable of %v", err)
	return appErr
}
