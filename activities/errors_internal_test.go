package activities

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"photoflow"
	"photoflow/objstore"
	"photoflow/store"
)

// responseError is what the AWS SDK returns for an HTTP error without a recognised code.
func responseError(status int) error {
	return &smithy.OperationError{ServiceID: "S3", OperationName: "GetObject",
		Err: &awshttp.ResponseError{RequestID: "req", ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      errors.New("http error")}}}
}

func appError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "want an ApplicationError, got %T: %v", err, err)
	return appErr
}

func TestClassify(t *testing.T) {
	ctx := context.Background()
	opErr := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	cases := []struct {
		name      string
		err       error
		errType   string
		retryable bool
		delayed   bool // carries its own jittered NextRetryDelay
	}{
		{"SlowDown", &smithy.GenericAPIError{Code: "SlowDown", Message: "reduce your rate"}, photoflow.ErrThrottled, true, true},
		{"DynamoDB throughput", &smithy.GenericAPIError{Code: "ProvisionedThroughputExceededException"}, photoflow.ErrThrottled, true, true},
		{"wrapped throttling", fmt.Errorf("op: %w", &smithy.OperationError{ServiceID: "Rekognition",
			Err: &smithy.GenericAPIError{Code: "ThrottlingException"}}), photoflow.ErrThrottled, true, true},
		{"HTTP 503", responseError(http.StatusServiceUnavailable), photoflow.ErrUnavailable, true, false},
		{"HTTP 500", responseError(http.StatusInternalServerError), photoflow.ErrUnavailable, true, false},
		{"HTTP 429", responseError(http.StatusTooManyRequests), photoflow.ErrThrottled, true, true},
		{"HTTP 403", responseError(http.StatusForbidden), photoflow.ErrInternal, true, false},
		{"not found", fmt.Errorf("objstore: head: %w", objstore.ErrNotFound), photoflow.ErrObjectNotFound, false, false},
		{"changed", fmt.Errorf("objstore: get: %w", objstore.ErrChanged), photoflow.ErrObjectChanged, false, false},
		{"too large", fmt.Errorf("objstore: get: %w", objstore.ErrTooLarge), photoflow.ErrImageTooLarge, false, false},
		{"invalid record", fmt.Errorf("store: put: %w", store.ErrInvalid), photoflow.ErrInvalidInput, false, false},
		{"permanent code", &smithy.GenericAPIError{Code: "InvalidImageFormatException"}, "InvalidImageFormatException", false, false},
		{"connection refused", fmt.Errorf("send: %w", opErr), photoflow.ErrUnavailable, true, false},
		{"timeout", fmt.Errorf("get: %w", context.DeadlineExceeded), photoflow.ErrUnavailable, true, false},
		{"canceled", fmt.Errorf("get: %w", context.Canceled), photoflow.ErrUnavailable, true, false},
		{"unknown", errors.New("something odd"), photoflow.ErrInternal, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := classify(ctx, "op", c.err)
			appErr := appError(t, got)
			assert.Equal(t, c.errType, appErr.Type())
			assert.Equal(t, !c.retryable, appErr.NonRetryable())
			assert.ErrorContains(t, got, "op: ", "the operation is named")
			assert.ErrorContains(t, got, c.err.Error(), "the cause's text is kept")
			if c.delayed {
				d := appErr.NextRetryDelay()
				assert.Greater(t, d, time.Duration(0))
				assert.LessOrEqual(t, d, time.Minute)
				// Outside an activity the attempt counts as the first: the first step.
				assert.GreaterOrEqual(t, d, 500*time.Millisecond)
				assert.LessOrEqual(t, d, time.Second)
			} else {
				assert.Zero(t, appErr.NextRetryDelay(), "only throttling overrides the policy's backoff")
			}
		})
	}
}

func TestClassifyNonRetryableTypesMatchContract(t *testing.T) {
	nonRetryable := map[string]bool{}
	for _, typ := range photoflow.NonRetryableErrors {
		nonRetryable[typ] = true
	}
	for _, err := range []error{objstore.ErrNotFound, objstore.ErrChanged, objstore.ErrTooLarge, store.ErrInvalid} {
		appErr := appError(t, classify(context.Background(), "op", err))
		assert.True(t, nonRetryable[appErr.Type()], "%s is listed in NonRetryableErrors", appErr.Type())
	}
	for _, err := range []error{errors.New("x"), responseError(503), responseError(429)} {
		appErr := appError(t, classify(context.Background(), "op", err))
		assert.False(t, nonRetryable[appErr.Type()], "%s must not be listed in NonRetryableErrors", appErr.Type())
	}
}

func TestClassifyPassesApplicationErrorsThrough(t *testing.T) {
	ctx := context.Background()
	assert.NoError(t, classify(ctx, "op", nil))

	orig := temporal.NewNonRetryableApplicationError("bad", photoflow.ErrCorruptImage, nil)
	assert.Same(t, orig, classify(ctx, "op", orig))

	retryable := temporal.NewApplicationError("later", photoflow.ErrUnavailable)
	assert.Same(t, retryable, classify(ctx, "op", retryable))

	// Wrapped, it keeps its type and retryability rather than becoming InternalError.
	wrapped := fmt.Errorf("context: %w", orig)
	got := classify(ctx, "op", wrapped)
	assert.Equal(t, photoflow.ErrCorruptImage, appError(t, got).Type())
	assert.True(t, appError(t, got).NonRetryable())
}

func TestJitteredDelay(t *testing.T) {
	for attempt := int32(-1); attempt <= 20; attempt++ {
		step := time.Minute
		if exp := max(attempt-1, 0); exp < 16 {
			step = min(time.Second<<exp, time.Minute)
		}
		seen := map[time.Duration]bool{}
		for range 200 {
			d := jitteredDelay(time.Second, attempt)
			require.GreaterOrEqual(t, d, step/2, "attempt %d", attempt)
			require.LessOrEqual(t, d, step, "attempt %d", attempt)
			seen[d] = true
		}
		assert.Greater(t, len(seen), 1, "attempt %d: the delay is jittered", attempt)
	}
	assert.LessOrEqual(t, jitteredDelay(time.Second, 1<<30), time.Minute)
	assert.LessOrEqual(t, jitteredDelay(time.Second, -1<<30), time.Second)
}

func TestThrottleBackoffFromContext(t *testing.T) {
	ctx := context.Background()
	assert.Equal(t, DefaultThrottleBackoff, throttleBackoff(ctx))
	fast := WithThrottleBackoff(ctx, 100*time.Millisecond)
	assert.Equal(t, 100*time.Millisecond, throttleBackoff(fast))
	for range 50 {
		d := jitteredDelay(throttleBackoff(fast), 20)
		require.LessOrEqual(t, d, 6*time.Second, "capped at 60 steps")
		require.GreaterOrEqual(t, d, 3*time.Second)
	}
	appErr := appError(t, classify(fast, "op", &smithy.GenericAPIError{Code: "SlowDown"}))
	assert.LessOrEqual(t, appErr.NextRetryDelay(), 100*time.Millisecond)
}

func TestLimitsDefaults(t *testing.T) {
	assert.Equal(t, DefaultLimits, (&Activities{}).limits())
	l := (&Activities{Limits: Limits{MaxBytes: 10}}).limits()
	assert.Equal(t, Limits{MaxBytes: 10, MaxPixels: DefaultLimits.MaxPixels}, l)
	l = (&Activities{Limits: Limits{MaxBytes: -1, MaxPixels: 5}}).limits()
	assert.Equal(t, Limits{MaxBytes: DefaultLimits.MaxBytes, MaxPixels: 5}, l)
}
