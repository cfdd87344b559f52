package faults

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"photoflow"
	"photoflow/store"
	"photoflow/vision"
)

// Transport wraps an S3 client's HTTP transport. Faults come back as S3 itself sends them:
// a status and an XML error document, parsed by the SDK into the error the activities
// classify. Half of the server errors happen after the request was carried out (the answer
// is lost on the way back), which is what makes idempotent activities necessary.
func (in *Injector) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if !in.spec.Injects(Objects) {
		return base
	}
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		kind := in.draw(Objects)
		if kind == "" {
			return base.RoundTrip(req)
		}
		if kind == ServerError && in.coin() {
			// Carried out, then the answer is lost.
			resp, err := base.RoundTrip(req)
			if err != nil {
				return nil, err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			return s3Error(req, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again."), nil
		}
		if req.Body != nil {
			_ = req.Body.Close() // the request is never sent
		}
		switch kind {
		case Hang:
			return nil, hang(req.Context())
		case ServerError:
			return s3Error(req, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again."), nil
		case Throttle:
			return s3Error(req, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate."), nil
		default: // Permanent
			return s3Error(req, http.StatusForbidden, "AccessDenied", "Access Denied"), nil
		}
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// coin is a fair draw from the injector's source.
func (in *Injector) coin() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.rng.IntN(2) == 0
}

func s3Error(req *http.Request, status int, code, msg string) *http.Response {
	body := []byte(fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>`+
		`<Error><Code>%s</Code><Message>%s (injected fault)</Message><RequestId>faults</RequestId></Error>`, code, msg))
	if req.Method == http.MethodHead {
		body = nil // HEAD answers carry no body; the SDK goes by the status.
	}
	h := http.Header{}
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Amz-Request-Id", "faults")
	return &http.Response{Status: strconv.Itoa(status) + " " + http.StatusText(status), StatusCode: status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h,
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req}
}

// Store wraps a metadata store. Faults are DynamoDB-shaped API errors; half of the server
// errors on writes come after the write was made.
func (in *Injector) Store(s store.Store) store.Store {
	if !in.spec.Injects(Store) {
		return s
	}
	return &faultyStore{Store: s, in: in}
}

type faultyStore struct {
	store.Store
	in *Injector
}

// fault runs before a call: it returns the injected error, or nil to let the call through.
// after is true when the call should run first and its answer be replaced by err.
func (f *faultyStore) fault(ctx context.Context, op string) (err error, after bool) {
	kind := f.in.draw(Store)
	switch kind {
	case "":
		return nil, false
	case Hang:
		return hang(ctx), false
	case ServerError:
		return apiError(kind, "", op), f.in.coin()
	}
	return apiError(kind, "ProvisionedThroughputExceededException", op), false
}

func (f *faultyStore) Put(ctx context.Context, rec photoflow.ImageRecord) error {
	err, after := f.fault(ctx, "PutItem")
	if err == nil || after {
		if perr := f.Store.Put(ctx, rec); perr != nil || err == nil {
			return perr
		}
	}
	return err
}

func (f *faultyStore) Get(ctx context.Context, imageID string) (photoflow.ImageRecord, error) {
	if err, _ := f.fault(ctx, "GetItem"); err != nil {
		return photoflow.ImageRecord{}, err
	}
	return f.Store.Get(ctx, imageID)
}

func (f *faultyStore) List(ctx context.Context, fl store.Filter) (store.Page, error) {
	if err, _ := f.fault(ctx, "Query"); err != nil {
		return store.Page{}, err
	}
	return f.Store.List(ctx, fl)
}

func (f *faultyStore) Delete(ctx context.Context, imageID string) error {
	err, after := f.fault(ctx, "DeleteItem")
	if err == nil || after {
		if derr := f.Store.Delete(ctx, imageID); derr != nil || err == nil {
			return derr
		}
	}
	return err
}

// Analyzer wraps a vision service. Faults are Rekognition-shaped API errors.
func (in *Injector) Analyzer(a vision.Analyzer) vision.Analyzer {
	if !in.spec.Injects(Vision) {
		return a
	}
	return &faultyVision{a: a, in: in}
}

type faultyVision struct {
	a  vision.Analyzer
	in *Injector
}

func (f *faultyVision) fault(ctx context.Context, op string) error {
	switch kind := f.in.draw(Vision); kind {
	case "":
		return nil
	case Hang:
		return hang(ctx)
	default:
		return apiError(kind, "ThrottlingException", op)
	}
}

// MinSide passes the wrapped analyzer's Resolution on (0, full size, when it has none).
func (f *faultyVision) MinSide() int {
	if r, ok := f.a.(vision.Resolution); ok {
		return r.MinSide()
	}
	return 0
}

func (f *faultyVision) DetectLabels(ctx context.Context, img vision.Image, maxLabels int, minConfidence float64) ([]photoflow.Label, error) {
	if err := f.fault(ctx, "DetectLabels"); err != nil {
		return nil, err
	}
	return f.a.DetectLabels(ctx, img, maxLabels, minConfidence)
}

func (f *faultyVision) DetectModeration(ctx context.Context, img vision.Image) ([]photoflow.Label, error) {
	if err := f.fault(ctx, "DetectModerationLabels"); err != nil {
		return nil, err
	}
	return f.a.DetectModeration(ctx, img)
}
