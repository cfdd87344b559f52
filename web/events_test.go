package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	"photoflow"
	"photoflow/pipeline"
	"photoflow/web"
)

const eventsSecret = "s3-events-secret"

type eventsFixture struct {
	srv      *httptest.Server
	handler  *web.EventsHandler
	temporal *mocks.Client
	mu       sync.Mutex
	metrics  [][4]int
}

func newEventsFixture(t *testing.T, secret string) *eventsFixture {
	t.Helper()
	f := &eventsFixture{temporal: mocks.NewClient(t)}
	h := &web.EventsHandler{
		Pipeline: &pipeline.Pipeline{Temporal: f.temporal, Bucket: photoflow.DefaultBucket, Namespace: photoflow.Namespace},
		Secret:   secret,
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics: func(started, duplicates, ignored, failed int) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.metrics = append(f.metrics, [4]int{started, duplicates, ignored, failed})
		},
	}
	f.handler = h
	mux := http.NewServeMux()
	mux.Handle("POST /api/s3-events", h)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// post delivers body with the given auth headers and returns the status and body.
func (f *eventsFixture) post(t *testing.T, body string, headers map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/api/s3-events", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := f.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"), "body %s", b)
	return resp.StatusCode, b
}

var bearer = map[string]string{"Authorization": "Bearer " + eventsSecret}

func (f *eventsFixture) deliver(t *testing.T, body string, wantCode int) photoflow.EventsResult {
	t.Helper()
	code, b := f.post(t, body, bearer)
	require.Equal(t, wantCode, code, "body %s", b)
	var res photoflow.EventsResult
	require.NoError(t, json.Unmarshal(b, &res), "body %s", b)
	require.NotNil(t, res.Failed, "failed must be a list, even empty: %s", b)
	return res
}

// expectStart mocks Temporal for an object that has no run yet: it is started once.
func (f *eventsFixture) expectStart(t *testing.T, key, etag string) {
	id := photoflow.WorkflowID(photoflow.DefaultBucket, key, etag)
	f.temporal.On("DescribeWorkflowExecution", mock.Anything, id, "").Return(nil, serviceerror.NewNotFound("no run")).Once()
	f.temporal.On("ExecuteWorkflow", mock.Anything,
		mock.MatchedBy(func(o client.StartWorkflowOptions) bool { return o.ID == id }),
		photoflow.ImageProcessingWorkflow,
		mock.MatchedBy(func(in photoflow.ImageInput) bool {
			return in.Bucket == photoflow.DefaultBucket && in.Key == key && in.ETag == etag && !in.UploadTime.IsZero()
		})).Return(mocks.NewWorkflowRun(t), nil).Once()
}

// expectExisting mocks Temporal for an object whose run exists.
func (f *eventsFixture) expectExisting(t *testing.T, key, etag string) {
	id := photoflow.WorkflowID(photoflow.DefaultBucket, key, etag)
	f.temporal.On("DescribeWorkflowExecution", mock.Anything, id, "").Return(&workflowservice.DescribeWorkflowExecutionResponse{
		WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
			Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: "run-1"}}}, nil).Once()
	f.temporal.On("GetWorkflow", mock.Anything, id, "run-1").Return(mocks.NewWorkflowRun(t)).Once()
}

func s3Record(event, bucket, encodedKey, etag string) string {
	return fmt.Sprintf(`{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",
		"eventTime":"2026-03-01T12:00:00.000Z","eventName":%q,"s3":{"s3SchemaVersion":"1.0",
		"configurationId":"photoflow","bucket":{"name":%q,"arn":"arn:aws:s3:::%s"},
		"object":{"key":%q,"size":1234,"eTag":%q,"sequencer":"0062E99A88DC407460"}}}`,
		event, bucket, bucket, encodedKey, etag)
}

func s3Event(records ...string) string { return `{"Records":[` + strings.Join(records, ",") + `]}` }

func created(encodedKey, etag string) string {
	return s3Record("ObjectCreated:Put", photoflow.DefaultBucket, encodedKey, etag)
}

const testEvent = `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-03-01T12:00:00.000Z","Bucket":"photoflow","RequestId":"R","HostId":"H"}`

func TestS3EventsRefusesWithoutTheSecret(t *testing.T) {
	f := newEventsFixture(t, eventsSecret)
	// The body would start a run: a refusal must come before any of it is read.
	body := s3Event(created("Incoming/alice/trip/x.jpg", "e1"))
	for name, h := range map[string]map[string]string{
		"no credentials":       nil,
		"wrong bearer":         {"Authorization": "Bearer nope"},
		"secret as prefix":     {"Authorization": "Bearer " + eventsSecret + "x"},
		"empty bearer":         {"Authorization": "Bearer "},
		"wrong header":         {"X-Photoflow-Secret": "nope"},
		"wrong Basic password": {"Authorization": "Basic " + basic("sns", "nope")},
		"secret as Basic user": {"Authorization": "Basic " + basic(eventsSecret, "")},
	} {
		code, b := f.post(t, body, h)
		assert.Equal(t, http.StatusUnauthorized, code, "%s: %s", name, b)
	}
	assert.Empty(t, f.metrics, "a refused delivery does nothing")
}

func basic(user, pw string) string {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(user, pw)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

func TestS3EventsAcceptsEachWayOfSendingTheSecret(t *testing.T) {
	f := newEventsFixture(t, eventsSecret)
	for name, h := range map[string]map[string]string{
		"bearer":            bearer,
		"bearer lower-case": {"Authorization": "bearer " + eventsSecret},
		"header":            {"X-Photoflow-Secret": eventsSecret},
		"SNS Basic":         {"Authorization": "Basic " + basic("sns", eventsSecret)},
	} {
		code, b := f.post(t, testEvent, h)
		assert.Equal(t, http.StatusOK, code, "%s: %s", name, b)
	}
}

func TestS3EventsDisabledWithoutSecret(t *testing.T) {
	f := newEventsFixture(t, "")
	code, b := f.post(t, s3Event(created("Incoming/alice/trip/x.jpg", "e1")), map[string]string{"Authorization": "Bearer "})
	assert.Equal(t, http.StatusNotFound, code, "%s", b)
}

func TestS3EventsDecodesKeys(t *testing.T) {
	f := newEventsFixture(t, eventsSecret)
	f.expectStart(t, "Incoming/alice/trip/red flower.jpg", "e1")
	f.expectStart(t, "Incoming/alice/trip/c++.jpg", "e2")
	f.expectStart(t, "Incoming/alice/trip/café.jpg", "e3")
	res := f.deliver(t, s3Event(
		created("Incoming/alice/trip/red+flower.jpg", "e1"),
		created("Incoming/alice/trip/c%2B%2B.jpg", "e2"),
		created("Incoming/alice/trip/caf%C3%A9.jpg", "e3"),
	), http.StatusOK)
	assert.Equal(t, photoflow.EventsResult{Started: 3, Failed: []photoflow.EventFailure{}}, res)
	assert.Equal(t, [][4]int{{3, 0, 0, 0}}, f.metrics)
}

func TestS3EventsDuplicates(t *testing.T) {
	f := newEventsFixture(t, eventsSecret)
	key := "Incoming/alice/trip/x.jpg"
	body := s3Event(created("Incoming/alice/trip/x.jpg", "e1"), created("Incoming/alice/trip/x.jpg", `"e1"`))
	// Two records of one object in one delivery: one start (the mock allows one).
	f.expectStart(t, key, "e1")
	res := f.deliver(t, body, http.StatusOK)
	assert.Equal(t, 1, res.Started)
	assert.Equal(t, 1, res.Duplicates)

	// S3 delivers at least once: the same delivery again finds the run.
	f.expectExisting(t, key, "e1")
	res = f.deliver(t, body, http.StatusOK)
	assert.Equal(t, 0, res.Started)
	assert.Equal(t, 2, res.Duplicates)
}

func TestS3EventsIgnoresOtherKeysAndBuckets(t *testing.T) {
	f := newEventsFixture(t, eventsSecret)
	res := f.deliver(t, s3Event(
		created("Thumbnail/alice/trip/x.jpg", "t1"),
		created("Staging/imp/x.jpg", "s1"),
		created("Incoming/alice/trip/", "d41d8cd98f00b204e9800998ecf8427e"),
		s3Record("ObjectCreated:Put", "another-bucket", "Incoming/alice/trip/x.jpg", "o1"),
		s3Record("ObjectRemoved:Delete", photoflow.DefaultBucket, "Incoming/alice/trip/x.jpg", ""),
	), http.StatusOK)
	assert.Equal(t, photoflow.EventsResult{Ignored: 4, Failed: []photoflow.EventFailure{}}, res)
}

func TestS3EventsTestEvent(t *testing.T) {
	f := newEventsFixture(t, eventsSecret)
	res := f.deliver(t, testEvent, http.StatusOK)
	assert.Equal(t, photoflow.EventsResult{Failed: []photoflow.EventFailure{}}, res)
}

func TestS3EventsSNS(t *testing.T) {
	f := newEventsFixture(t, eventsSecret)
	f.expectStart(t, "Incoming/alice/trip/a b.jpg", "e1")
	msg, err := json.Marshal(s3Event(created("Incoming/alice/trip/a+b.jpg", "e1")))
	require.NoError(t, err)
	res := f.deliver(t, `{"Type":"Notification","MessageId":"m","TopicArn":"arn:aws:sns:us-east-1:123:uploads",
		"Subject":"Amazon S3 Notification","Message":`+string(msg)+`,"Timestamp":"2026-03-01T12:00:00.000Z"}`, http.StatusOK)
	assert.Equal(t, 1, res.Started)
}

func TestS3EventsSNSSubscriptionIsNotConfirmedAutomatically(t *testing.T) {
	fetched := make(chan struct{}, 1)
	sns := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { fetched <- struct{}{} }))
	t.Cleanup(sns.Close)
	f := newEventsFixture(t, eventsSecret)
	body := fmt.Sprintf(`{"Type":"SubscriptionConfirmation","MessageId":"m","Token":"tok",
		"TopicArn":"arn:aws:sns:us-east-1:123:uploads","Message":"You have chosen to subscribe",
		"SubscribeURL":%q}`, sns.URL+"/?Action=ConfirmSubscription&Token=tok")
	code, b := f.post(t, body, bearer)
	assert.Equal(t, http.StatusOK, code, "%s", b)
	assert.Contains(t, string(b), "SubscribeURL", "the answer says what to do")
	select {
	case <-fetched:
		t.Error("the SubscribeURL was fetched: only an operator may confirm a subscription")
	default:
	}
}

func TestS3EventsEventBridge(t *testing.T) {
	f := newEventsFixture(t, eventsSecret)
	f.expectStart(t, "Incoming/alice/trip/a+b.jpg", "e1")
	res := f.deliver(t, `{"version":"0","id":"1","detail-type":"Object Created","source":"aws.s3","account":"123",
		"time":"2026-03-01T12:00:00Z","region":"us-east-1","resources":["arn:aws:s3:::photoflow"],
		"detail":{"version":"0","bucket":{"name":"photoflow"},"object":{"key":"Incoming/alice/trip/a+b.jpg",
		"size":5,"etag":"e1","sequencer":"1"},"request-id":"r","requester":"123","reason":"PutObject"}}`, http.StatusOK)
	assert.Equal(t, 1, res.Started)
}

func TestS3EventsTemporalDown(t *testing.T) {
	f := newEventsFixture(t, eventsSecret)
	down := serviceerror.NewUnavailable("frontend unavailable")
	for _, k := range []string{"Incoming/alice/trip/a.jpg", "Incoming/alice/trip/b.jpg"} {
		f.temporal.On("DescribeWorkflowExecution", mock.Anything, photoflow.WorkflowID(photoflow.DefaultBucket, k, "e"), "").
			Return(nil, down).Once()
	}
	// Every start failed: 503, so the sender delivers again.
	res := f.deliver(t, s3Event(created("Incoming/alice/trip/a.jpg", "e"), created("Incoming/alice/trip/b.jpg", "e")),
		http.StatusServiceUnavailable)
	require.Len(t, res.Failed, 2)
	assert.Equal(t, "Incoming/alice/trip/a.jpg", res.Failed[0].Key)
	assert.Contains(t, res.Failed[0].Error, "frontend unavailable")
	assert.Equal(t, [][4]int{{0, 0, 0, 2}}, f.metrics)

	// One started: 200, the failure listed (the bucket watcher picks it up).
	f.expectStart(t, "Incoming/alice/trip/c.jpg", "e")
	f.temporal.On("DescribeWorkflowExecution", mock.Anything, photoflow.WorkflowID(photoflow.DefaultBucket, "Incoming/alice/trip/d.jpg", "e"), "").
		Return(nil, down).Once()
	res = f.deliver(t, s3Event(created("Incoming/alice/trip/c.jpg", "e"), created("Incoming/alice/trip/d.jpg", "e")), http.StatusOK)
	assert.Equal(t, 1, res.Started)
	assert.Len(t, res.Failed, 1)
}

func TestS3EventsBadBodies(t *testing.T) {
	f := newEventsFixture(t, eventsSecret)
	for name, tc := range map[string]struct {
		body string
		code int
	}{
		"malformed JSON": {`{"Records":[{`, http.StatusBadRequest},
		"not an event":   {`{"hello":"world"}`, http.StatusBadRequest},
		"over 1 MiB":     {`{"Records":[],"pad":"` + strings.Repeat("x", web.MaxEventBody) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		code, b := f.post(t, tc.body, bearer)
		assert.Equal(t, tc.code, code, "%s: %s", name, b)
	}
}
