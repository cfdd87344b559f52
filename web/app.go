package web

import (
	"bufio"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"photoflow"
	"photoflow/objstore"
	"photoflow/pipeline"
	"photoflow/store"
)

//go:embed static
var staticFiles embed.FS

// albumResponse is an album as the web app lists it.
type albumResponse struct {
	store.Album
	PhotoCount int     `json:"photoCount"`
	Cover      *string `json:"cover"`
}

func (a *API) listAlbums(w http.ResponseWriter, r *http.Request) {
	p := who(r)
	albums, err := a.Accounts.ListAlbums(r.Context(), p.User.Name)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	out := make([]albumResponse, 0, len(albums))
	for _, al := range albums {
		resp, err := a.albumSummary(r, al)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		out = append(out, resp)
	}
	writeJSON(w, http.StatusOK, map[string]any{"albums": out})
}

// albumSummary counts an album's photos and picks the newest finished one as its cover.
func (a *API) albumSummary(r *http.Request, al store.Album) (albumResponse, error) {
	resp := albumResponse{Album: al}
	f := store.Filter{UserID: al.UserID, AlbumID: al.AlbumID, Limit: store.MaxLimit}
	for {
		page, err := a.Store.List(r.Context(), f)
		if err != nil {
			return resp, err
		}
		resp.PhotoCount += len(page.Records)
		for _, rec := range page.Records {
			if resp.Cover == nil && rec.Status == photoflow.StatusSucceeded && rec.Thumbnail != nil {
				u := "/media/thumbnail/" + pathEscape(rec.ImageID)
				resp.Cover = &u
			}
		}
		if page.Next == "" {
			return resp, nil
		}
		f.Cursor = page.Next
	}
}

var slugUnsafe = regexp.MustCompile(`[^a-z0-9]+`)

// albumID derives a URL- and key-safe ID from a display name.
func albumID(name string) string {
	id := strings.Trim(slugUnsafe.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(id) > 48 {
		id = strings.Trim(id[:48], "-")
	}
	if id == "" {
		id = "album"
	}
	return id
}

type albumRequest struct {
	Name string `json:"name"`
}

func readAlbumName(w http.ResponseWriter, r *http.Request) (string, bool) {
	var req albumRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<10)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("expected {\"name\": …}: %w", err))
		return "", false
	}
	name := strings.TrimSpace(req.Name)
	if name == "" || utf8.RuneCountInString(name) > 100 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		writeError(w, http.StatusBadRequest, errors.New("album name: 1–100 characters, no control characters"))
		return "", false
	}
	return name, true
}

func (a *API) createAlbum(w http.ResponseWriter, r *http.Request) {
	p := who(r)
	name, ok := readAlbumName(w, r)
	if !ok {
		return
	}
	base := albumID(name)
	// A taken ID gets a numeric suffix: two albums may share a name, never an ID.
	for i := 1; i <= 100; i++ {
		id := base
		if i > 1 {
			id = fmt.Sprintf("%s-%d", base, i)
		}
		al := store.Album{UserID: p.User.Name, AlbumID: id, Name: name, CreatedAt: a.now()}
		err := a.Accounts.CreateAlbum(r.Context(), al)
		if errors.Is(err, store.ErrExists) {
			continue
		}
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusCreated, albumResponse{Album: al})
		return
	}
	writeError(w, http.StatusConflict, fmt.Errorf("too many albums named %q", name))
}

// ownAlbum loads an album of the signed-in user; another user's album is "not found", so
// its existence is not revealed.
func (a *API) ownAlbum(w http.ResponseWriter, r *http.Request) (store.Album, bool) {
	al, err := a.Accounts.GetAlbum(r.Context(), who(r).User.Name, r.PathValue("album"))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no album %q", r.PathValue("album")))
		return al, false
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return al, false
	}
	return al, true
}

func (a *API) renameAlbum(w http.ResponseWriter, r *http.Request) {
	al, ok := a.ownAlbum(w, r)
	if !ok {
		return
	}
	name, ok := readAlbumName(w, r)
	if !ok {
		return
	}
	renamed, err := a.Accounts.RenameAlbum(r.Context(), al.UserID, al.AlbumID, name)
	if err != nil {
		writeError(w, http.StatusConflict, err)
		return
	}
	writeJSON(w, http.StatusOK, albumResponse{Album: renamed})
}

func (a *API) deleteAlbum(w http.ResponseWriter, r *http.Request) {
	al, ok := a.ownAlbum(w, r)
	if !ok {
		return
	}
	if err := a.Accounts.MarkAlbumDeleting(r.Context(), al.UserID, al.AlbumID); err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	run, err := a.Pipeline.DeleteAlbum(r.Context(), al.UserID, al.AlbumID)
	if err != nil {
		writeError(w, http.StatusBadGateway, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"workflowId": run.GetID(), "runId": run.GetRunID()})
}

func (a *API) albumImages(w http.ResponseWriter, r *http.Request) {
	al, ok := a.ownAlbum(w, r)
	if !ok {
		return
	}
	recs, err := a.collect(r, store.Filter{UserID: al.UserID, AlbumID: al.AlbumID})
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": recs})
}

// collect reads every page of a filter (bounded by what one album or inbox holds).
func (a *API) collect(r *http.Request, f store.Filter) ([]photoflow.ImageRecord, error) {
	f.Limit = store.MaxLimit
	out := []photoflow.ImageRecord{}
	for range 100 {
		page, err := a.Store.List(r.Context(), f)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Records...)
		if page.Next == "" {
			break
		}
		f.Cursor = page.Next
	}
	return out, nil
}

// reviews is the moderation inbox: pending images of every user, oldest first.
func (a *API) reviews(w http.ResponseWriter, r *http.Request) {
	recs, err := a.collect(r, store.Filter{Status: photoflow.StatusPendingReview})
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	slices.Reverse(recs)
	writeJSON(w, http.StatusOK, map[string]any{"records": recs})
}

type batchDecision struct {
	ImageIDs []string `json:"imageIDs"`
	Decision string   `json:"decision"`
	Reason   string   `json:"reason"`
}

type decisionOutcome struct {
	ImageID  string           `json:"imageID"`
	Accepted bool             `json:"accepted"`
	Status   photoflow.Status `json:"status,omitempty"`
	Error    string           `json:"error,omitempty"`
}

// decideBatch approves or rejects many pending images; each gets its own answer.
func (a *API) decideBatch(w http.ResponseWriter, r *http.Request) {
	var req batchDecision
	dec := json.NewDecoder(io.LimitReader(r.Body, 256<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("expected {\"imageIDs\": […], \"decision\": \"approve|reject\", \"reason\": …}: %w", err))
		return
	}
	if len(req.ImageIDs) == 0 || len(req.ImageIDs) > 500 {
		writeError(w, http.StatusBadRequest, errors.New("imageIDs: 1 to 500 images"))
		return
	}
	d := photoflow.ReviewDecision{Decision: req.Decision, Reviewer: who(r).User.Name, Reason: req.Reason}
	results := make([]decisionOutcome, 0, len(req.ImageIDs))
	for _, id := range req.ImageIDs {
		out := decisionOutcome{ImageID: id}
		rec, err := a.Store.Get(r.Context(), id)
		if err == nil {
			var res photoflow.DecisionResult
			res, err = a.Pipeline.Decide(r.Context(), rec.WorkflowID, rec.RunID, d)
			out.Accepted, out.Status = res.Accepted, res.Status
		}
		if err != nil {
			out.Error = err.Error()
		}
		results = append(results, out)
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

// failures lists the signed-in user's failed images, and which failure types a rerun may fix.
func (a *API) failures(w http.ResponseWriter, r *http.Request) {
	recs, err := a.collect(r, store.Filter{UserID: who(r).User.Name, Status: photoflow.StatusFailed})
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": recs, "transient": pipeline.TransientErrors})
}

func (a *API) rerun(w http.ResponseWriter, r *http.Request) {
	rec, ok := a.readableRecord(w, r, true)
	if !ok {
		return
	}
	if !pipeline.Rerunnable(rec) {
		writeError(w, http.StatusConflict, fmt.Errorf("%s is %s (%s): only transient failures are re-run", rec.ImageID, rec.Status, rec.ErrorType))
		return
	}
	run, err := a.Pipeline.Rerun(r.Context(), rec)
	if err != nil {
		writeError(w, http.StatusBadGateway, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"workflowId": run.GetID(), "runId": run.GetRunID()})
}

// readableRecord loads the record named in the path if the caller may see it: its owner,
// or a reviewer (who must see what they judge) unless ownerOnly.
func (a *API) readableRecord(w http.ResponseWriter, r *http.Request, ownerOnly bool) (photoflow.ImageRecord, bool) {
	id := r.PathValue("id")
	rec, err := a.Store.Get(r.Context(), id)
	p := who(r)
	if err == nil && rec.UserID != p.User.Name && (ownerOnly || !p.reviewer()) {
		err = store.ErrNotFound // another user's image is not revealed
	}
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no image %q", id))
		return rec, false
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return rec, false
	}
	return rec, true
}

// media streams an image's original or thumbnail from the bucket.
func (a *API) media(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec, ok := a.readableRecord(w, r, false)
		if !ok {
			return
		}
		key := rec.S3Key
		if kind == "thumbnail" {
			if rec.Thumbnail == nil {
				writeError(w, http.StatusNotFound, errors.New("no thumbnail yet"))
				return
			}
			key = rec.Thumbnail.Key
		}
		if !ownedKey(rec, kind, key) {
			// A record naming a key outside its owner's prefix did not come from an upload
			// of theirs: answer as for a missing image rather than serve someone else's.
			writeError(w, http.StatusNotFound, fmt.Errorf("no image %q", rec.ImageID))
			return
		}
		body, info, err := a.Pipeline.Objects.Get(r.Context(), rec.S3Bucket, key, "")
		if errors.Is(err, objstore.ErrNotFound) {
			writeError(w, http.StatusNotFound, err)
			return
		}
		if err != nil {
			writeError(w, http.StatusBadGateway, err)
			return
		}
		defer body.Close()
		br := bufio.NewReaderSize(body, 512)
		head, _ := br.Peek(512) // a shorter object is all head; a read error shows in Copy
		ctype := mediaContentType(head)
		hd := w.Header()
		hd.Set("Content-Type", ctype)
		hd.Set("Content-Disposition", mediaDisposition(ctype, rec.ImageID))
		hd.Set("X-Content-Type-Options", "nosniff")
		// sandbox: were the bytes ever rendered as a document, it would have no origin to act in.
		hd.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox")
		hd.Set("Cache-Control", "private, max-age=300")
		hd.Set("ETag", `"`+info.ETag+`"`)
		if info.Size > 0 {
			hd.Set("Content-Length", fmt.Sprint(info.Size))
		}
		_, _ = io.Copy(w, br)
	}
}

// ownedKey reports whether key is where the pipeline keeps rec's original or thumbnail:
// under Incoming/<owner>/ or Thumbnail/<owner>/, with no path segment a store or proxy
// might resolve ("", ".", "..").
func ownedKey(rec photoflow.ImageRecord, kind, key string) bool {
	want := photoflow.IncomingPrefix + rec.ImageID
	if kind == "thumbnail" {
		want = photoflow.ThumbnailKey(rec.ImageID)
	}
	if key != want || rec.UserID == "" || !strings.HasPrefix(rec.ImageID, rec.UserID+"/") {
		return false
	}
	for seg := range strings.SplitSeq(rec.ImageID, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// static serves the embedded web app.
func (a *API) static() http.Handler {
	sub, _ := fs.Sub(staticFiles, "static")
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy",
			"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
		w.Header().Set("Referrer-Policy", "same-origin")
		if r.URL.Path == "/" {
			w.Header().Set("Cache-Control", "no-cache")
			http.ServeFileFS(w, r, sub, "index.html")
			return
		}
		http.StripPrefix("/static", files).ServeHTTP(w, r)
	})
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *API) limiter() *loginLimiter { return &a.logins }

// log is API.Log, or the process's default logger when none is set.
func (a *API) log() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.Default()
}

func (a *API) maxUpload() int64 {
	if a.MaxUpload > 0 {
		return a.MaxUpload
	}
	return 100 << 20
}

// pathEscape encodes an image ID as one URL path segment.
func pathEscape(id string) string { return url.PathEscape(id) }
