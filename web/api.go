// Package web serves photoflow's HTTP API (JSON).
//
// Image IDs contain slashes (alice/trip/IMG_0042.jpg). In a URL an image ID is one path
// segment with its slashes percent-encoded, as encodeURIComponent or url.PathEscape produce:
// /api/images/alice%2Ftrip%2FIMG_0042.jpg/decision. GET /api/images/{id} also accepts the
// slashes unencoded.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"photoflow"
	"photoflow/pipeline"
	"photoflow/store"
)

// API is the HTTP API.
type API struct {
	Pipeline *pipeline.Pipeline
	Store    store.Store
	// Ready reports whether every backend answers; /healthz returns 503 until it does.
	Ready func(context.Context) error
	// MaxUpload bounds one uploaded file (default 100 MiB).
	MaxUpload int64
	Log       *slog.Logger
}

// Handler routes the API.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.health)
	mux.HandleFunc("POST /api/images", a.upload)
	mux.HandleFunc("GET /api/images", a.list)
	mux.HandleFunc("GET /api/images/{id...}", a.get)
	mux.HandleFunc("GET /api/images/{id}/progress", a.progress)
	mux.HandleFunc("POST /api/images/{id}/decision", a.decision)
	return mux
}

func (a *API) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := a.Ready(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *API) upload(w http.ResponseWriter, r *http.Request) {
	limit := a.MaxUpload
	if limit <= 0 {
		limit = 100 << 20
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit+1<<20)
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("upload exceeds %d bytes", limit))
			return
		}
		writeError(w, http.StatusBadRequest, fmt.Errorf("expected multipart/form-data with file, user and album: %w", err))
		return
	}
	defer r.MultipartForm.RemoveAll()
	f, hdr, err := r.FormFile("file")
	if err != nil {
		writeError(w, http.StatusBadRequest, errors.New("missing form field \"file\""))
		return
	}
	defer f.Close()
	if hdr.Size > limit {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("file is %d bytes, over the %d limit", hdr.Size, limit))
		return
	}
	data, err := io.ReadAll(f)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	user, album := r.FormValue("user"), r.FormValue("album")
	for _, check := range []error{pipeline.CheckName("user", user), pipeline.CheckName("album", album)} {
		if check != nil {
			writeError(w, http.StatusBadRequest, check)
			return
		}
	}
	if _, err := pipeline.CleanFileName(hdr.Filename); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	sub, err := a.Pipeline.Submit(r.Context(), user, album, hdr.Filename, data)
	if err != nil {
		a.Log.Error("upload failed", "user", user, "album", album, "file", hdr.Filename, "error", err)
		writeError(w, http.StatusBadGateway, err)
		return
	}
	writeJSON(w, http.StatusAccepted, sub)
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rec, err := a.Store.Get(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no image %q", id))
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

func (a *API) progress(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rec, err := a.Store.Get(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no image %q", id))
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	prog, err := a.Pipeline.Progress(r.Context(), rec.WorkflowID, rec.RunID)
	if err != nil {
		writeError(w, http.StatusBadGateway, err)
		return
	}
	writeJSON(w, http.StatusOK, prog)
}

// listResponse is one page of records.
type listResponse struct {
	Records []photoflow.ImageRecord `json:"records"`
	Next    string                  `json:"next,omitempty"`
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.Filter{UserID: q.Get("user"), AlbumID: q.Get("album"), Status: photoflow.Status(q.Get("status")), Cursor: q.Get("cursor")}
	if f.Status != "" && !f.Status.Valid() {
		writeError(w, http.StatusBadRequest, fmt.Errorf("unknown status %q", f.Status))
		return
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			writeError(w, http.StatusBadRequest, fmt.Errorf("limit must be a positive integer"))
			return
		}
		f.Limit = n
	}
	page, err := a.Store.List(r.Context(), f)
	if errors.Is(err, store.ErrInvalid) {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	if page.Records == nil {
		page.Records = []photoflow.ImageRecord{}
	}
	writeJSON(w, http.StatusOK, listResponse{Records: page.Records, Next: page.Next})
}

func (a *API) decision(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var d photoflow.ReviewDecision
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("expected {\"decision\": \"approve|reject\", \"reviewer\": ..., \"reason\": ...}: %w", err))
		return
	}
	rec, err := a.Store.Get(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no image %q", id))
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	res, err := a.Pipeline.Decide(r.Context(), rec.WorkflowID, rec.RunID, d)
	var rejected *pipeline.DecisionRejectedError
	switch {
	case errors.As(err, &rejected), errors.Is(err, pipeline.ErrNoPendingReview):
		writeJSON(w, http.StatusConflict, map[string]any{"accepted": false, "error": err.Error(), "status": rec.Status})
	case err != nil:
		writeError(w, http.StatusBadGateway, err)
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
