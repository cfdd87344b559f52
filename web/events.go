package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"photoflow/pipeline"
)

// MaxEventBody bounds one notification delivery. S3 sends one record a message and SNS
// caps messages at 256 KiB, so anything near this is not a notification.
const MaxEventBody = 1 << 20

// EventsHandler serves POST /api/s3-events: S3 event notifications (directly from MinIO's
// webhook, through SNS, or from an EventBridge API destination) start the runs of new
// uploads. Every start is idempotent, so a sender's retries and the bucket watcher's scans
// never process an object twice.
type EventsHandler struct {
	Pipeline *pipeline.Pipeline
	// Secret authenticates senders; empty disables the endpoint (404).
	Secret string
	Log    *slog.Logger
	// Metrics, when set, is told what each delivery did.
	Metrics func(started, duplicates, ignored, failed int)
}

// ServeHTTP answers 200 with a photoflow.EventsResult, or 503 when no start succeeded
// because Temporal failed, so the sender retries the delivery.
func (h *EventsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.Secret == "" {
		writeError(w, http.StatusNotFound, errors.New("not found"))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, errors.New("POST an S3 event notification"))
		return
	}
	if scheme, ok := h.authorized(r); !ok {
		// Says how the secret came, never what it was: a sender with a stale secret is the
		// usual cause, and this is how an operator finds it.
		h.log().Warn("S3 event refused: missing or wrong secret", "client", r.RemoteAddr, "scheme", scheme)
		w.Header().Set("WWW-Authenticate", `Bearer realm="photoflow s3-events"`)
		writeError(w, http.StatusUnauthorized, errors.New("missing or wrong event secret"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxEventBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("event body over %d bytes", MaxEventBody))
			return
		}
		writeError(w, http.StatusBadRequest, err)
		return
	}
	events, err := pipeline.ParseS3Event(body)
	var confirm *pipeline.SubscriptionConfirmationError
	switch {
	case errors.As(err, &confirm):
		// Logged for the operator, who confirms it; a 200 keeps SNS from retrying the
		// confirmation request on its own schedule.
		h.log().Warn("SNS subscription needs confirmation: visit its SubscribeURL to confirm it",
			"topic", confirm.TopicARN, "subscribeURL", confirm.SubscribeURL)
		writeJSON(w, http.StatusOK, map[string]string{"status": "subscription not confirmed", "message": confirm.Error()})
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, err)
		return
	}
	res, err := h.Pipeline.StartFromEvents(r.Context(), events)
	if h.Metrics != nil {
		h.Metrics(res.Started, res.Duplicates, res.Ignored, len(res.Failed))
	}
	for _, f := range res.Failed {
		h.log().Error("S3 event: run not started", "key", f.Key, "error", f.Error)
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	if len(res.Failed) > 0 && res.Started == 0 && res.Duplicates == 0 {
		writeJSON(w, http.StatusServiceUnavailable, res)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// authorized accepts the secret as a bearer token, in X-Photoflow-Secret, or as the
// password of HTTP Basic: SNS can authenticate only with credentials in the subscription
// URL, which it sends as Basic. scheme names the way the credential came, for the log.
func (h *EventsHandler) authorized(r *http.Request) (scheme string, ok bool) {
	var got string
	if v := r.Header.Get("X-Photoflow-Secret"); v != "" {
		got, scheme = v, "header"
	} else if auth := r.Header.Get("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "Bearer ") {
		got, scheme = strings.TrimSpace(auth[7:]), "bearer"
	} else if _, pw, ok := r.BasicAuth(); ok {
		got, scheme = pw, "basic"
	}
	if got == "" {
		return "none", false
	}
	// Hashing first makes the comparison constant-time in the length too.
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(h.Secret))
	return scheme, subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

func (h *EventsHandler) log() *slog.Logger {
	if h.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Log
}
