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

// API is the HTTP API and the web app.
type API struct {
	Pipeline *pipeline.Pipeline
	Store    store.Store
	Accounts store.Accounts
	// Ready reports whether every backend answers; /healthz returns 503 until it does.
	Ready func(context.Context) error
	// MaxUpload bounds one uploaded file (default 100 MiB).
	MaxUpload int64
	// TemporalUI is the Web UI's base URL for links to runs; empty hides them.
	TemporalUI string
	Log        *slog.Logger
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
	// TriggerError, when set, counts an upload whose run could not be started (metrics).
	TriggerError func(source string)

	logins loginLimiter
}

// Handler routes the API and the web app. Every /api and /media route but /healthz,
// sign-in and setup needs an account: a session cookie (browsers, with a CSRF token on
// every change) or HTTP Basic (scripts).
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	user := func(h http.HandlerFunc) http.HandlerFunc { return a.requireUser(false, h) }
	reviewer := func(h http.HandlerFunc) http.HandlerFunc { return a.requireUser(true, h) }

	mux.HandleFunc("GET /healthz", a.health)
	mux.HandleFunc("GET /api/session", a.getSession)
	mux.HandleFunc("POST /api/login", a.login)
	mux.HandleFunc("POST /api/setup", a.setup)
	mux.HandleFunc("POST /api/logout", user(a.logout))

	mux.HandleFunc("GET /api/albums", user(a.listAlbums))
	mux.HandleFunc("POST /api/albums", user(a.createAlbum))
	mux.HandleFunc("PATCH /api/albums/{album}", user(a.renameAlbum))
	mux.HandleFunc("DELETE /api/albums/{album}", user(a.deleteAlbum))
	mux.HandleFunc("GET /api/albums/{album}/images", user(a.albumImages))

	mux.HandleFunc("POST /api/images", user(a.upload))
	mux.HandleFunc("GET /api/images", user(a.list))
	mux.HandleFunc("GET /api/images/{id...}", user(a.get))
	mux.HandleFunc("GET /api/images/{id}/progress", user(a.progress))
	mux.HandleFunc("POST /api/images/{id}/decision", reviewer(a.decision))
	mux.HandleFunc("POST /api/images/{id}/rerun", user(a.rerun))
	mux.HandleFunc("GET /api/reviews", reviewer(a.reviews))
	mux.HandleFunc("POST /api/reviews/decisions", reviewer(a.decideBatch))
	mux.HandleFunc("GET /api/failures", user(a.failures))

	mux.HandleFunc("GET /media/thumbnail/{id}", user(a.media("thumbnail")))
	mux.HandleFunc("GET /media/original/{id}", user(a.media("original")))
	mux.Handle("GET /", a.static())
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
	p := who(r)
	limit := a.maxUpload()
	r.Body = http.MaxBytesReader(w, r.Body, limit+1<<20)
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("upload exceeds the %d-byte limit", limit))
			return
		}
		writeError(w, http.StatusBadRequest, fmt.Errorf("expected multipart/form-data with file and album: %w", err))
		return
	}
	defer func() { _ = r.MultipartForm.RemoveAll() }()
	if u := r.FormValue("user"); u != "" && u != p.User.Name {
		writeError(w, http.StatusForbidden, errors.New("you can upload only to your own albums"))
		return
	}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		writeError(w, http.StatusBadRequest, errors.New("missing form field \"file\""))
		return
	}
	defer f.Close()
	if hdr.Size > limit {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("file is %d bytes, over the %d-byte limit", hdr.Size, limit))
		return
	}
	album := r.FormValue("album")
	if err := pipeline.CheckName("album", album); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if _, err := pipeline.CleanFileName(hdr.Filename); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	al, err := a.Accounts.GetAlbum(r.Context(), p.User.Name, album)
	if errors.Is(err, store.ErrNotFound) || err == nil && al.Deleting {
		writeError(w, http.StatusNotFound, fmt.Errorf("no album %q: create it first", album))
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	data, err := io.ReadAll(f)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	sub, err := a.Pipeline.Submit(r.Context(), p.User.Name, album, hdr.Filename, data)
	if err != nil {
		a.Log.Error("upload failed", "user", p.User.Name, "album", album, "file", hdr.Filename, "error", err)
		if a.TriggerError != nil {
			a.TriggerError("upload")
		}
		writeError(w, http.StatusBadGateway, err)
		return
	}
	writeJSON(w, http.StatusAccepted, sub)
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	if rec, ok := a.readableRecord(w, r, false); ok {
		writeJSON(w, http.StatusOK, rec)
	}
}

func (a *API) progress(w http.ResponseWriter, r *http.Request) {
	rec, ok := a.readableRecord(w, r, false)
	if !ok {
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
	if p := who(r); !p.reviewer() {
		if f.UserID != "" && f.UserID != p.User.Name {
			writeError(w, http.StatusForbidden, errors.New("you can list only your own images"))
			return
		}
		f.UserID = p.User.Name
	}
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

// decision delivers one reviewer's decision; the reviewer is the signed-in account, never
// a name from the body.
func (a *API) decision(w http.ResponseWriter, r *http.Request) {
	var d photoflow.ReviewDecision
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("expected {\"decision\": \"approve|reject\", \"reason\": ...}: %w", err))
		return
	}
	rec, ok := a.readableRecord(w, r, false)
	if !ok {
		return
	}
	d.Reviewer = who(r).User.Name
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
