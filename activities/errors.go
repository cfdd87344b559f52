package activities

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/aws/smithy-go"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"photoflow"
	"photoflow/objstore"
	"photoflow/store"
)

// throttlingCodes are the AWS error codes that mean "slow down": S3, DynamoDB and
// Rekognition spell it differently.
var throttlingCodes = map[string]bool{
	"SlowDown": true, "Throttling": true, "ThrottlingException": true,
	"ThrottledException": true, "RequestLimitExceeded": true, "TooManyRequestsException": true,
	"ProvisionedThroughputExceededException": true, "RequestThrottled": true,
	"RequestThrottledException": true, "LimitExceededException": true,
}

// permanentCodes are client errors that no retry can fix.
var permanentCodes = map[string]bool{
	"InvalidImageFormatException": true, "ImageTooLargeException": true,
	"InvalidParameterException": true, "ValidationException": true, "InvalidS3ObjectException": true,
	// A missing IAM permission needs an operator; retrying only delays the verdict.
	"AccessDeniedException": true,
}

// badInput fails the activity for good: retrying the same input cannot help.
func badInput(errType, format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), errType, nil)
}

// classify turns an error from a backend into a typed application error, so the retry
// policy's NonRetryableErrorTypes can match it (a raw SDK error's type is its Go struct
// name, which no policy names). Throttling gets its own jittered delay: the server's
// backoff has none, and a fleet retrying in lockstep is what throttled it.
func classify(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	msg := op + ": " + err.Error()
	var appErr *temporal.ApplicationError
	switch {
	case errors.As(err, &appErr):
		return err
	case errors.Is(err, objstore.ErrNotFound):
		return temporal.NewNonRetryableApplicationError(msg, photoflow.ErrObjectNotFound, nil)
	case errors.Is(err, objstore.ErrChanged):
		return temporal.NewNonRetryableApplicationError(msg, photoflow.ErrObjectChanged, nil)
	case errors.Is(err, objstore.ErrTooLarge):
		return temporal.NewNonRetryableApplicationError(msg, photoflow.ErrImageTooLarge, nil)
	case errors.Is(err, store.ErrInvalid):
		return temporal.NewNonRetryableApplicationError(msg, photoflow.ErrInvalidInput, nil)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// Before store.IsRetryable, which also counts a deadline: a timeout is an
		// unavailable backend, not a request to slow down.
		return temporal.NewApplicationError(msg, photoflow.ErrUnavailable)
	}
	// AWS error codes, HTTP statuses and network errors come before store.IsRetryable,
	// which also accepts any AWS 5xx or failed send (for DynamoDB): those are an
	// unavailable backend, and only contention and throttling should be told to slow down.
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code := apiErr.ErrorCode()
		switch {
		case throttlingCodes[code]:
			return throttled(ctx, msg)
		case permanentCodes[code]:
			return temporal.NewNonRetryableApplicationError(msg, code, nil)
		case apiErr.ErrorFault() == smithy.FaultServer:
			// Rekognition's InternalServerError is a server fault whatever status carried it.
			return temporal.NewApplicationError(msg, photoflow.ErrUnavailable)
		}
	}
	status := objstore.HTTPStatus(err)
	switch {
	case status == http.StatusTooManyRequests:
		return throttled(ctx, msg)
	case status >= 500:
		return temporal.NewApplicationError(msg, photoflow.ErrUnavailable)
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return temporal.NewApplicationError(msg, photoflow.ErrUnavailable)
	}
	if store.IsRetryable(err) {
		return throttled(ctx, msg)
	}
	return temporal.NewApplicationError(msg, photoflow.ErrInternal)
}

// throttled is a retryable Throttled error whose next delay is "equal jitter": half the
// exponential step fixed, half random, capped at 60 steps (a minute by default).
func throttled(ctx context.Context, msg string) error {
	return temporal.NewApplicationErrorWithOptions(msg, photoflow.ErrThrottled,
		temporal.ApplicationErrorOptions{NextRetryDelay: jitteredDelay(throttleBackoff(ctx), attempt(ctx))})
}

func jitteredDelay(base time.Duration, attempt int32) time.Duration {
	step := base << min(max(attempt-1, 0), 6)
	step = min(step, 60*base)
	return step/2 + rand.N(step/2+1)
}

// DefaultThrottleBackoff is the first step of the delay after a throttling error.
const DefaultThrottleBackoff = time.Second

type throttleKey struct{}

// WithThrottleBackoff sets the first step of the delay after a throttling error for the
// activities run with ctx (the worker's BackgroundActivityContext). Tests that inject
// throttling shorten it; production keeps the default.
func WithThrottleBackoff(ctx context.Context, base time.Duration) context.Context {
	return context.WithValue(ctx, throttleKey{}, base)
}

func throttleBackoff(ctx context.Context) time.Duration {
	if d, ok := ctx.Value(throttleKey{}).(time.Duration); ok && d > 0 {
		return d
	}
	return DefaultThrottleBackoff
}

func attempt(ctx context.Context) int32 {
	if !activity.IsActivity(ctx) {
		return 1
	}
	return activity.GetInfo(ctx).Attempt
}
