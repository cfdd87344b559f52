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
	"net/netip"
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
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the client to the
	// sign-in limiter. Empty, the limiter counts by the connection's address and ignores
	// the header, which any client can write.
	TrustedProxies []netip.Prefix

	logins loginLimiter
}

// access is who may call a route.
type access int

const (
	// accessPublic routes answer without an account: health, sign-in, setup, the app.
	accessPublic access = iota
	// accessUser routes need an account; what they show is scoped to it.
	accessUser
	// accessReviewer routes need a reviewer account.
	accessReviewer
)

// route is one entry of the API's routing table.
type route struct {
	pattern string
	access  access
	handler http.HandlerFunc
}

// routes is the one list of what the API serves and who may call it. Handler registers
// exactly these, so the authorization tests can check that every route has a case.
func (a *API) routes() []route {
	return []route{
		{"GET /healthz", accessPublic, a.health},
		{"GET /api/session", accessPublic, a.getSession},
		{"POST /api/login", accessPublic, a.login},
		{"POST /api/setup", accessPublic, a.setup},
		{"POST /api/logout", accessUser, a.logout},

		{"GET /api/albums", accessUser, a.listAlbums},
		{"POST /api/albums", accessUser, a.createAlbum},
		{"PATCH /api/albums/{album}", accessUser, a.renameAlbum},
		{"DELETE /api/albums/{album}", accessUser, a.deleteAlbum},
		{"GET /api/albums/{album}/images", accessUser, a.albumImages},

		{"POST /api/images", accessUser, a.upload},
		{"GET /api/images", accessUser, a.list},
		{"GET /api/images/{id...}", accessUser, a.get},
		{"GET /api/images/{id}/progress", accessUser, a.progress},
		{"POST /api/images/{id}/decision", accessReviewer, a.decision},
		{"POST /api/images/{id}/rerun", accessUser, a.rerun},
		{"GET /api/reviews", accessReviewer, a.reviews},
		{"POST /api/reviews/decisions", accessReviewer, a.decideBatch},
		{"GET /api/failures", accessUser, a.failures},

		{"GET /media/thumbnail/{id}", accessUser, a.media("thumbnail")},
		{"GET /media/original/{id}", accessUser, a.media("original")},
		{"GET /", accessPublic, a.static().ServeHTTP},
	}
}

// Handler routes the API and the web app. Every /api and /media route but /healthz,
// sign-in and setup needs an account: a session cookie (browsers, with a CSRF token on
// every change) or HTTP Basic (scripts).
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range a.routes() {
		h := rt.handler
		switch rt.access {
		case accessUser:
			h = a.requireUser(false, h)
		case accessReviewer:
			h = a.requireUser(true, h)
		}
		mux.HandleFunc(rt.pattern, h)
	}
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
			writeTooLarge(w, limit, fmt.Sprintf("upload exceeds the %d-byte limit per file", limit))
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
		writeTooLarge(w, limit, fmt.Sprintf("file is %d bytes, over the %d-byte limit per file", hdr.Size, limit))
		return
	}
	album := r.FormValue("album")
	if err := pipeline.CheckName("album", album); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	name, err := uploadFileName(hdr.Filename)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	// Refused here, before the bucket: a file that is no image at all would only fail in the
	// pipeline, and meanwhile it would sit in the bucket under a photo's name.
	if status, err := checkUploadType(f, hdr.Size, name); err != nil {
		writeError(w, status, err)
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
	sub, err := a.Pipeline.Submit(r.Context(), p.User.Name, album, name, data)
	if err != nil {
		a.log().Error("upload failed", "user", p.User.Name, "album", album, "file", name, "error", err)
		if a.TriggerError != nil {
			a.TriggerError("upload")
		}
		writeError(w, http.StatusBadGateway, err)
		return
	}
	writeJSON(w, http.StatusAccepted, sub)
}

// writeTooLarge is the 413 of an upload, with the limit also as a number for scripts.
func writeTooLarge(w http.ResponseWriter, limit int64, msg string) {
	writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": msg, "maxUpload": limit})
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
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// Answers carry user data (names, EXIF, error text): no sniffing them into a page, and
	// no keeping them, CSRF token included, in a shared cache.
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
