package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	"photoflow"
)

// s3RecordJSON is one record as S3 sends it (key already URL-encoded by the caller).
func s3RecordJSON(event, bucket, encodedKey, etag string, size int64) string {
	return fmt.Sprintf(`{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",
		"eventTime":"2026-03-01T12:00:00.000Z","eventName":%q,"userIdentity":{"principalId":"AWS:AIDA"},
		"requestParameters":{"sourceIPAddress":"203.0.113.9"},"responseElements":{"x-amz-request-id":"R1"},
		"s3":{"s3SchemaVersion":"1.0","configurationId":"photoflow-ingest",
		"bucket":{"name":%q,"ownerIdentity":{"principalId":"A1"},"arn":"arn:aws:s3:::%s"},
		"object":{"key":%q,"size":%d,"eTag":%q,"sequencer":"0062E99A88DC407460"}}}`,
		event, bucket, bucket, encodedKey, size, etag)
}

func s3Body(records ...string) string { return `{"Records":[` + strings.Join(records, ",") + `]}` }

func snsBody(message string) string {
	m, _ := json.Marshal(message)
	return `{"Type":"Notification","MessageId":"m-1","TopicArn":"arn:aws:sns:us-east-1:123:photoflow",
		"Subject":"Amazon S3 Notification","Message":` + string(m) + `,"Timestamp":"2026-03-01T12:00:00.000Z",
		"SignatureVersion":"1","Signature":"c2ln","SigningCertURL":"https://sns.example/cert.pem"}`
}

func TestParseS3Event(t *testing.T) {
	ev := func(key, etag string, size int64, name string) ObjectEvent {
		return ObjectEvent{Bucket: "photoflow", Key: key, ETag: etag, Size: size, EventName: name}
	}
	put := "ObjectCreated:Put"
	for _, tc := range []struct {
		name string
		body string
		want []ObjectEvent
	}{
		{"S3 keys are form-decoded",
			s3Body(s3RecordJSON(put, "photoflow", "Incoming/alice/trip/red+flower.jpg", "e1", 10),
				s3RecordJSON(put, "photoflow", "Incoming/alice/trip/c%2B%2B.jpg", "e2", 11),
				s3RecordJSON("ObjectCreated:CompleteMultipartUpload", "photoflow", "Incoming/alice/trip/caf%C3%A9.jpg", "e3-2", 12)),
			[]ObjectEvent{ev("Incoming/alice/trip/red flower.jpg", "e1", 10, put),
				ev("Incoming/alice/trip/c++.jpg", "e2", 11, put),
				ev("Incoming/alice/trip/café.jpg", "e3-2", 12, "ObjectCreated:CompleteMultipartUpload")}},
		{"removals and restores are not creations",
			s3Body(s3RecordJSON("ObjectRemoved:Delete", "photoflow", "Incoming/alice/trip/x.jpg", "", 0),
				s3RecordJSON("ObjectRestore:Completed", "photoflow", "Incoming/alice/trip/y.jpg", "e", 1),
				s3RecordJSON(put, "photoflow", "Incoming/alice/trip/z.jpg", `"e4"`, 2)),
			[]ObjectEvent{ev("Incoming/alice/trip/z.jpg", "e4", 2, put)}},
		{"S3 test event",
			`{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-03-01T12:00:00.000Z","Bucket":"photoflow","RequestId":"R","HostId":"H"}`,
			nil},
		{"empty records", `{"Records":[]}`, nil},
		{"SNS notification",
			snsBody(s3Body(s3RecordJSON(put, "photoflow", "Incoming/alice/trip/a+b.jpg", "e5", 5))),
			[]ObjectEvent{ev("Incoming/alice/trip/a b.jpg", "e5", 5, put)}},
		{"SNS carrying the test event",
			snsBody(`{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"photoflow"}`), nil},
		{"SNS unsubscribe", `{"Type":"UnsubscribeConfirmation","TopicArn":"arn:aws:sns:us-east-1:123:photoflow"}`, nil},
		{"EventBridge keys are not encoded",
			`{"version":"0","id":"17793124-05d4-b198-2fde-7ededc63b103","detail-type":"Object Created","source":"aws.s3",
			"account":"123","time":"2026-03-01T12:00:00Z","region":"us-east-1","resources":["arn:aws:s3:::photoflow"],
			"detail":{"version":"0","bucket":{"name":"photoflow"},"object":{"key":"Incoming/alice/trip/a+b %2B.jpg",
			"size":99,"etag":"e6","sequencer":"00617F08299329D189"},"request-id":"N4N7","requester":"123",
			"source-ip-address":"203.0.113.15","reason":"PutObject"}}`,
			[]ObjectEvent{ev("Incoming/alice/trip/a+b %2B.jpg", "e6", 99, "Object Created")}},
		{"EventBridge deletion",
			`{"detail-type":"Object Deleted","source":"aws.s3","detail":{"bucket":{"name":"photoflow"},"object":{"key":"Incoming/a/b/c.jpg"}}}`,
			nil},
		{"MinIO webhook",
			`{"EventName":"s3:ObjectCreated:Put","Key":"photoflow/Incoming/bob/home/x y.jpg","Records":[{"eventVersion":"2.0",
			"eventSource":"minio:s3","awsRegion":"","eventTime":"2026-03-01T12:00:00.000Z","eventName":"s3:ObjectCreated:Put",
			"userIdentity":{"principalId":"minio"},"s3":{"s3SchemaVersion":"1.0","configurationId":"Config",
			"bucket":{"name":"photoflow","ownerIdentity":{"principalId":"minio"},"arn":"arn:aws:s3:::photoflow"},
			"object":{"key":"Incoming%2Fbob%2Fhome%2Fx+y.jpg","size":7,"eTag":"e7","contentType":"image/jpeg",
			"userMetadata":{"content-type":"image/jpeg"},"sequencer":"17E"}},"source":{"host":"","port":"","userAgent":""}}]}`,
			[]ObjectEvent{{Bucket: "photoflow", Key: "Incoming/bob/home/x y.jpg", ETag: "e7", Size: 7, EventName: put}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseS3Event([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 0 || len(tc.want) != 0 {
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("got %+v\nwant %+v", got, tc.want)
				}
			}
		})
	}
}

func TestParseS3EventRefuses(t *testing.T) {
	for name, body := range map[string]string{
		"malformed JSON":       `{"Records":[`,
		"not JSON":             `Records=1`,
		"unknown shape":        `{"hello":"world"}`,
		"bad escape":           s3Body(s3RecordJSON("ObjectCreated:Put", "photoflow", "Incoming/a/b/100%.jpg", "e", 1)),
		"record without key":   s3Body(s3RecordJSON("ObjectCreated:Put", "photoflow", "", "e", 1)),
		"SNS with bad message": snsBody(`{"Records":`),
		"unknown SNS type":     `{"Type":"Surprise","Message":"{}"}`,
		"EventBridge no key":   `{"detail-type":"Object Created","detail":{"bucket":{"name":"photoflow"},"object":{}}}`,
	} {
		if evs, err := ParseS3Event([]byte(body)); err == nil {
			t.Errorf("%s: accepted as %+v", name, evs)
		}
	}
}

func TestParseS3EventSubscriptionConfirmation(t *testing.T) {
	body := `{"Type":"SubscriptionConfirmation","MessageId":"m","Token":"tok",
		"TopicArn":"arn:aws:sns:us-east-1:123:photoflow","Message":"You have chosen to subscribe...",
		"SubscribeURL":"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=tok"}`
	evs, err := ParseS3Event([]byte(body))
	var confirm *SubscriptionConfirmationError
	if !errors.As(err, &confirm) || len(evs) != 0 {
		t.Fatalf("got %v, %v; want a SubscriptionConfirmationError", evs, err)
	}
	if confirm.SubscribeURL != "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=tok" ||
		!strings.Contains(err.Error(), "SubscribeURL") || !strings.Contains(err.Error(), confirm.TopicARN) {
		t.Errorf("error %q does not tell the operator what to confirm", err)
	}
}

// startsKey matches the input Start passes for an event: the key's object, no user or album
// (the workflow reads them from the key), a fresh upload time.
func startsKey(key, etag string) any {
	return mock.MatchedBy(func(in photoflow.ImageInput) bool {
		return in.Bucket == "photoflow" && in.Key == key && in.ETag == etag && in.UserID == "" &&
			in.AlbumID == "" && time.Since(in.UploadTime) < time.Minute
	})
}

func TestStartFromEvents(t *testing.T) {
	tc := mocks.NewClient(t)
	p := &Pipeline{Temporal: tc, Bucket: "photoflow"}
	newID := photoflow.WorkflowID("photoflow", "Incoming/alice/trip/new.jpg", "n1")
	oldID := photoflow.WorkflowID("photoflow", "Incoming/alice/trip/old.jpg", "o1")
	downID := photoflow.WorkflowID("photoflow", "Incoming/alice/trip/down.jpg", "d1")

	tc.On("DescribeWorkflowExecution", mock.Anything, newID, "").Return(nil, serviceerror.NewNotFound("none")).Once()
	tc.On("ExecuteWorkflow", mock.Anything, mock.MatchedBy(func(o client.StartWorkflowOptions) bool { return o.ID == newID }),
		photoflow.ImageProcessingWorkflow, startsKey("Incoming/alice/trip/new.jpg", "n1")).Return(mocks.NewWorkflowRun(t), nil).Once()
	tc.On("DescribeWorkflowExecution", mock.Anything, oldID, "").Return(&workflowservice.DescribeWorkflowExecutionResponse{
		WorkflowExecutionInfo: execInfo(oldID, "run-old", time.Now())}, nil).Once()
	tc.On("GetWorkflow", mock.Anything, oldID, "run-old").Return(mocks.NewWorkflowRun(t)).Once()
	tc.On("DescribeWorkflowExecution", mock.Anything, downID, "").Return(nil, serviceerror.NewUnavailable("frontend down")).Once()

	res, err := p.StartFromEvents(context.Background(), []ObjectEvent{
		{Bucket: "photoflow", Key: "Incoming/alice/trip/new.jpg", ETag: "n1"},
		{Bucket: "photoflow", Key: "Incoming/alice/trip/new.jpg", ETag: `"n1"`}, // same object, quoted
		{Bucket: "photoflow", Key: "Incoming/alice/trip/old.jpg", ETag: "o1"},
		{Bucket: "photoflow", Key: "Incoming/alice/trip/down.jpg", ETag: "d1"},
		{Bucket: "other", Key: "Incoming/alice/trip/new.jpg", ETag: "n1"},
		{Bucket: "photoflow", Key: "Thumbnail/alice/trip/new.jpg", ETag: "t1"},
		{Bucket: "photoflow", Key: "elsewhere/new.jpg", ETag: "x1"},
		{Bucket: "photoflow", Key: "Incoming/alice/trip/", ETag: "f1"},
		{Bucket: "photoflow", Key: "Incoming/", ETag: "f2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Started != 1 || res.Duplicates != 2 || res.Ignored != 5 || len(res.Failed) != 1 {
		t.Fatalf("result %+v; want 1 started, 2 duplicates, 5 ignored, 1 failed", res)
	}
	if f := res.Failed[0]; f.Key != "Incoming/alice/trip/down.jpg" || !strings.Contains(f.Error, "frontend down") {
		t.Errorf("failure %+v does not name the key and the cause", f)
	}
}

func TestStartFromEventsWithoutETag(t *testing.T) {
	tc := mocks.NewClient(t)
	p := &Pipeline{Temporal: tc, Bucket: "photoflow"}
	// No store to ask: starting under an ETag-less ID would process the object twice.
	res, err := p.StartFromEvents(context.Background(), []ObjectEvent{{Bucket: "photoflow", Key: "Incoming/a/b/c.jpg"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Started != 0 || len(res.Failed) != 1 || !strings.Contains(res.Failed[0].Error, "no ETag") {
		t.Errorf("result %+v; want one failure about the missing ETag", res)
	}
}

func TestStartFromEventsStopsWithContext(t *testing.T) {
	tc := mocks.NewClient(t)
	p := &Pipeline{Temporal: tc, Bucket: "photoflow"}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.StartFromEvents(ctx, []ObjectEvent{{Bucket: "photoflow", Key: "Incoming/a/b/c.jpg", ETag: "e"}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestStarterAdapter(t *testing.T) {
	tc := mocks.NewClient(t)
	in := photoflow.ImageInput{Bucket: "photoflow", Key: "Incoming/a/b/c.jpg", ETag: "e"}
	id := photoflow.WorkflowID(in.Bucket, in.Key, in.ETag)
	tc.On("DescribeWorkflowExecution", mock.Anything, id, "").Return(&workflowservice.DescribeWorkflowExecutionResponse{
		WorkflowExecutionInfo: execInfo(id, "r", time.Now())}, nil).Once()
	tc.On("GetWorkflow", mock.Anything, id, "r").Return(mocks.NewWorkflowRun(t)).Once()
	started, err := Starter{P: &Pipeline{Temporal: tc}}.Start(context.Background(), in)
	if err != nil || started {
		t.Errorf("Start = %v, %v; want not started (the run exists)", started, err)
	}
}
