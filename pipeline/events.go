package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"photoflow"
	"photoflow/objstore"
)

// ObjectEvent is one "object created" notification, whatever carried it.
type ObjectEvent struct {
	Bucket string
	// Key is the object key as stored (decoded from the event's URL encoding).
	Key  string
	ETag string
	Size int64
	// EventName is the event's own name, e.g. ObjectCreated:Put or "Object Created".
	EventName string
}

// SubscriptionConfirmationError is an SNS subscription waiting for confirmation. The URL is
// never fetched here: confirming would let anyone who can reach the endpoint subscribe it
// to any topic, so an operator confirms it by hand.
type SubscriptionConfirmationError struct {
	TopicARN     string
	SubscribeURL string
}

func (e *SubscriptionConfirmationError) Error() string {
	return fmt.Sprintf("SNS subscription to %s is not confirmed: an operator must confirm it by visiting its SubscribeURL (%s)",
		e.TopicARN, e.SubscribeURL)
}

// s3Record is one record of the S3 event notification format (AWS and MinIO).
type s3Record struct {
	EventName string `json:"eventName"`
	S3        struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key  string `json:"key"`
			Size int64  `json:"size"`
			ETag string `json:"eTag"`
		} `json:"object"`
	} `json:"s3"`
}

// envelope holds the fields of every body shape we accept; which ones are set tells the
// shapes apart. MinIO's top-level EventName and Key duplicate its records and are left out.
type envelope struct {
	Records *[]s3Record `json:"Records"`
	// SNS.
	Type         string `json:"Type"`
	Message      string `json:"Message"`
	TopicARN     string `json:"TopicArn"`
	SubscribeURL string `json:"SubscribeURL"`
	// EventBridge.
	DetailType string          `json:"detail-type"`
	Detail     json.RawMessage `json:"detail"`
	// The s3:TestEvent S3 sends when a notification is configured.
	Event string `json:"Event"`
}

type eventBridgeDetail struct {
	Bucket struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object struct {
		Key  string `json:"key"`
		Size int64  `json:"size"`
		ETag string `json:"etag"`
	} `json:"object"`
}

// ParseS3Event reads a notification body: the S3 event format (from S3 directly, SQS or a
// MinIO webhook), the same inside an SNS envelope, or an EventBridge event. It returns the
// object-created events only; test events, removals and other kinds yield none. An SNS
// subscription confirmation is a *SubscriptionConfirmationError.
func ParseS3Event(body []byte) ([]ObjectEvent, error) {
	return parseEvent(body, true)
}

func parseEvent(body []byte, allowSNS bool) ([]ObjectEvent, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("event body is not JSON: %w", err)
	}
	switch {
	case env.Records != nil:
		return s3Events(*env.Records)
	case env.Type != "" && allowSNS:
		switch env.Type {
		case "Notification":
			// The message is one more JSON document; an SNS message inside it would be
			// nothing S3 sends, so one level is all that is unwrapped.
			return parseEvent([]byte(env.Message), false)
		case "SubscriptionConfirmation":
			return nil, &SubscriptionConfirmationError{TopicARN: env.TopicARN, SubscribeURL: env.SubscribeURL}
		case "UnsubscribeConfirmation":
			return nil, nil
		}
		return nil, fmt.Errorf("unknown SNS message type %q", env.Type)
	case env.DetailType != "":
		if env.DetailType != "Object Created" {
			return nil, nil
		}
		var d eventBridgeDetail
		if err := json.Unmarshal(env.Detail, &d); err != nil {
			return nil, fmt.Errorf("EventBridge detail: %w", err)
		}
		if d.Bucket.Name == "" || d.Object.Key == "" {
			return nil, errors.New("EventBridge Object Created event without bucket or key")
		}
		return []ObjectEvent{{Bucket: d.Bucket.Name, Key: d.Object.Key, ETag: strings.Trim(d.Object.ETag, `"`),
			Size: d.Object.Size, EventName: env.DetailType}}, nil
	case env.Event == "s3:TestEvent":
		return nil, nil
	}
	return nil, fmt.Errorf("not an S3, SNS or EventBridge event: %.80s", bytes.TrimSpace(body))
}

func s3Events(records []s3Record) ([]ObjectEvent, error) {
	var out []ObjectEvent
	for i, r := range records {
		// MinIO prefixes the names with "s3:", as S3's configuration does; S3's events do not.
		name := strings.TrimPrefix(r.EventName, "s3:")
		if !strings.HasPrefix(name, "ObjectCreated:") {
			continue
		}
		// S3 form-encodes keys ("red flower.jpg" arrives as "red+flower.jpg"); a literal '+'
		// arrives as %2B. MinIO encodes '/' too.
		key, err := url.QueryUnescape(r.S3.Object.Key)
		if err != nil {
			return nil, fmt.Errorf("record %d: object key %q: %w", i, r.S3.Object.Key, err)
		}
		if r.S3.Bucket.Name == "" || key == "" {
			return nil, fmt.Errorf("record %d (%s) has no bucket or key", i, r.EventName)
		}
		out = append(out, ObjectEvent{Bucket: r.S3.Bucket.Name, Key: key, ETag: strings.Trim(r.S3.Object.ETag, `"`),
			Size: r.S3.Object.Size, EventName: name})
	}
	return out, nil
}

// StartFromEvents starts the run of every new object the events announce under Incoming/
// of the pipeline's bucket. Events for other buckets or keys are ignored; an event repeated
// within the delivery, or for an object that already has a run, counts as a duplicate. It
// returns an error only when ctx ends before every event was handled.
func (p *Pipeline) StartFromEvents(ctx context.Context, events []ObjectEvent) (photoflow.EventsResult, error) {
	res := photoflow.EventsResult{Failed: []photoflow.EventFailure{}}
	seen := map[string]bool{}
	for _, ev := range events {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if ev.Bucket != p.Bucket || !photoflow.IsUploadKey(ev.Key) {
			res.Ignored++
			continue
		}
		etag := strings.Trim(ev.ETag, `"`)
		if etag == "" {
			// Without the ETag the workflow ID would differ from the upload API's for the
			// same object, and the two would both process it.
			var err error
			if etag, err = p.currentETag(ctx, ev); errors.Is(err, objstore.ErrNotFound) {
				res.Ignored++
				continue
			} else if err != nil {
				res.Failed = append(res.Failed, photoflow.EventFailure{Key: ev.Key, Error: err.Error()})
				continue
			}
		}
		id := photoflow.WorkflowID(ev.Bucket, ev.Key, etag)
		if seen[id] {
			res.Duplicates++
			continue
		}
		seen[id] = true
		_, started, err := p.Start(ctx, photoflow.ImageInput{Bucket: ev.Bucket, Key: ev.Key, ETag: etag,
			UploadTime: time.Now().UTC()})
		switch {
		case err != nil:
			res.Failed = append(res.Failed, photoflow.EventFailure{Key: ev.Key, Error: err.Error()})
		case started:
			res.Started++
		default:
			res.Duplicates++
		}
	}
	return res, nil
}

func (p *Pipeline) currentETag(ctx context.Context, ev ObjectEvent) (string, error) {
	if p.Objects == nil {
		return "", fmt.Errorf("event for %s has no ETag and no object store is configured to look it up", ev.Key)
	}
	info, err := p.Objects.Head(ctx, ev.Bucket, ev.Key)
	if err != nil {
		return "", err
	}
	return info.ETag, nil
}

// Starter adapts a Pipeline to the activities' RunStarter, so the bucket watcher starts
// runs exactly as the upload API and S3 events do.
type Starter struct{ P *Pipeline }

// Start starts the object's run unless it has one; started reports whether it did.
func (s Starter) Start(ctx context.Context, in photoflow.ImageInput) (bool, error) {
	_, started, err := s.P.Start(ctx, in)
	return started, err
}
