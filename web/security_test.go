package web_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"image"
	"image/jpeg"
	"image/png"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"

	"photoflow"
	"photoflow/objstore"
	"photoflow/web"
)

// routeCase is how TestEveryRouteIsGuarded calls one route of the API. Paths and bodies
// name alice's things: her album "trip" and her image x.jpg.
type routeCase struct {
	// access must match what the routing table declares: public, user or reviewer.
	access string
	path   string
	body   string // JSON; "upload" for a multipart upload of a JPEG into trip
	// signedOut is a public route's documented answer without an account.
	signedOut int
	// owned: the route acts on the caller's own album or image, so bob must get 404.
	owned bool
}

var imgPath = "/" + url.PathEscape(seed[0].ImageID) // alice/trip/x.jpg

// routeCases has one entry per route of the API. A route added to the routing table
// without an entry here fails TestEveryRouteIsGuarded.
var routeCases = map[string]routeCase{
	"GET /healthz":     {access: "public", path: "/healthz", signedOut: http.StatusOK},
	"GET /api/session": {access: "public", path: "/api/session", signedOut: http.StatusUnauthorized},
	"POST /api/login":  {access: "public", path: "/api/login", body: `{"name":"alice","password":"not it"}`, signedOut: http.StatusUnauthorized},
	// Accounts exist, so setup is over.
	"POST /api/setup":  {access: "public", path: "/api/setup", body: `{"name":"root","password":"long enough password"}`, signedOut: http.StatusConflict},
	"POST /api/logout": {access: "user", path: "/api/logout"},

	"GET /api/albums":                {access: "user", path: "/api/albums"},
	"POST /api/albums":               {access: "user", path: "/api/albums", body: `{"name":"new"}`},
	"PATCH /api/albums/{album}":      {access: "user", path: "/api/albums/trip", body: `{"name":"mine"}`, owned: true},
	"DELETE /api/albums/{album}":     {access: "user", path: "/api/albums/trip", owned: true},
	"GET /api/albums/{album}/images": {access: "user", path: "/api/albums/trip/images", owned: true},

	"POST /api/images":               {access: "user", path: "/api/images", body: "upload", owned: true},
	"GET /api/images":                {access: "user", path: "/api/images"},
	"GET /api/images/{id...}":        {access: "user", path: "/api/images" + imgPath, owned: true},
	"GET /api/images/{id}/progress":  {access: "user", path: "/api/images" + imgPath + "/progress", owned: true},
	"POST /api/images/{id}/decision": {access: "reviewer", path: "/api/images" + imgPath + "/decision", body: `{"decision":"approve"}`},
	"POST /api/images/{id}/rerun":    {access: "user", path: "/api/images" + imgPath + "/rerun", owned: true},
	"GET /api/reviews":               {access: "reviewer", path: "/api/reviews"},
	"POST /api/reviews/decisions":    {access: "reviewer", path: "/api/reviews/decisions", body: `{"imageIDs":["alice/trip/skin.jpg"],"decision":"approve"}`},
	"GET /api/failures":              {access: "user", path: "/api/failures"},
	"GET /media/thumbnail/{id}":      {access: "user", path: "/media/thumbnail" + imgPath, owned: true},
	"GET /media/original/{id}":       {access: "user", path: "/media/original" + imgPath, owned: true},
	"GET /":                          {access: "public", path: "/", signedOut: http.StatusOK},
}

func (c routeCase) request(t *testing.T, q req) req {
	t.Helper()
	switch c.body {
	case "":
	case "upload":
		q.ctype, q.body = multipartBody(t, part{"album", "", []byte("trip")}, part{"file", "x.jpg", jpegBytes(t)})
	default:
		q.ctype, q.body = "application/json", strings.NewReader(c.body)
	}
	return q
}

// TestEveryRouteIsGuarded walks the routing table: signed out, as the wrong kind of
// account, as another user, and as a page on another site. None of these may reach
// Temporal (the mock fails the test) or the bucket (the fixture has none).
func TestEveryRouteIsGuarded(t *testing.T) {
	f := newFixture(t)
	declared := web.RouteAccess(f.api)
	for pattern, access := range declared {
		c, ok := routeCases[pattern]
		if !ok {
			t.Errorf("route %q (%s) has no entry in routeCases: add one", pattern, access)
		} else if c.access != access {
			t.Errorf("route %q is %s in the routing table, %s in routeCases", pattern, access, c.access)
		}
	}
	mux, ok := f.api.Handler().(*http.ServeMux)
	if !ok {
		t.Fatalf("Handler is a %T: teach this test to find its routes", f.api.Handler())
	}
	for pattern, c := range routeCases {
		if _, ok := declared[pattern]; !ok {
			t.Errorf("routeCases has %q, which the routing table does not", pattern)
			continue
		}
		method, _, _ := strings.Cut(pattern, " ")
		r := httptest.NewRequest(method, c.path, nil)
		if _, got := mux.Handler(r); got != pattern {
			t.Errorf("%s %s reaches %q, not the route %q it is the case of", method, c.path, got, pattern)
		}
	}

	isChange := func(pattern string) bool { return !strings.HasPrefix(pattern, "GET ") }
	alice, bob, rita := f.signIn(t, alice), f.signIn(t, bob), f.signIn(t, reviewer)
	check := func(pattern, who string, c routeCase, q req, want int) {
		t.Helper()
		method, _, _ := strings.Cut(pattern, " ")
		r := f.send(t, method, c.path, c.request(t, q))
		if r.code != want {
			t.Errorf("%s %s: %d %s, want %d", pattern, who, r.code, r.body, want)
		}
		if pattern == "GET /" {
			return
		}
		// Every API answer, refusals included, is JSON that no browser may sniff into a page.
		if ct, ns := r.header.Get("Content-Type"), r.header.Get("X-Content-Type-Options"); ct != "application/json" || ns != "nosniff" {
			t.Errorf("%s %s: Content-Type %q, X-Content-Type-Options %q; want application/json, nosniff", pattern, who, ct, ns)
		}
	}

	for _, pattern := range slices.Sorted(func(yield func(string) bool) {
		for p := range routeCases {
			if !yield(p) {
				return
			}
		}
	}) {
		c := routeCases[pattern]
		if c.access == "public" {
			check(pattern, "signed out", c, req{origin: f.srv.URL}, c.signedOut)
			if isChange(pattern) {
				check(pattern, "from another site", c, req{origin: "https://evil.example"}, http.StatusForbidden)
			}
			continue
		}
		check(pattern, "signed out", c, req{}, http.StatusUnauthorized)
		check(pattern, "with a forged cookie", c, req{token: "forged", csrf: "forged", origin: f.srv.URL}, http.StatusUnauthorized)

		caller := alice
		if c.access == "reviewer" {
			caller = rita
			check(pattern, "as a plain user (Basic)", c, req{basic: "alice"}, http.StatusForbidden)
			check(pattern, "as a plain user (session)", c, alice.as(req{}), http.StatusForbidden)
		}
		if c.owned {
			check(pattern, "as another user (Basic)", c, req{basic: "bob"}, http.StatusNotFound)
			check(pattern, "as another user (session)", c, bob.as(req{}), http.StatusNotFound)
		}
		if isChange(pattern) {
			noToken := caller.as(req{})
			noToken.csrf = ""
			check(pattern, "without the CSRF token", c, noToken, http.StatusForbidden)
			foreign := caller.as(req{})
			foreign.origin = "https://evil.example"
			check(pattern, "from another site", c, foreign, http.StatusForbidden)
			foreign.origin, foreign.header = "", map[string]string{"Referer": "https://evil.example/page"}
			check(pattern, "from another site's page", c, foreign, http.StatusForbidden)
		}
	}

	// The S3 event endpoint is mounted beside the API; its guard is the shared secret.
	ev := newEventsFixture(t, eventsSecret)
	body := s3Event(created("Incoming/alice/trip/x.jpg", "e1"))
	for name, h := range map[string]map[string]string{
		"no secret":    nil,
		"wrong secret": {"Authorization": "Bearer " + eventsSecret + "-not"},
	} {
		if code, b := ev.post(t, body, h); code != http.StatusUnauthorized {
			t.Errorf("POST /api/s3-events, %s: %d %s, want 401", name, code, b)
		}
	}
}

// jpegBytes is a small real JPEG.
func jpegBytes(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8)), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func pngBytes(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Headers of formats the pipeline identifies but does not process: enough for a signature.
var (
	gifHeader  = []byte("GIF89a\x08\x00\x08\x00\x80\x00\x00")
	tiffHeader = []byte("II*\x00\x08\x00\x00\x00\x00\x00")
	bmpHeader  = append([]byte("BM\x46\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00"), make([]byte, 40)...)
	webpHeader = []byte("RIFF\x1a\x00\x00\x00WEBPVP8 \x0e\x00\x00\x00")
	heicHeader = []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")
	avifHeader = []byte("\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf")
)

// bucketKeys lists every key in the fixture's bucket.
func bucketKeys(t *testing.T, objs *objstore.Store) []string {
	t.Helper()
	var keys []string
	err := objs.ListAll(context.Background(), photoflow.DefaultBucket, "", func(o objstore.ListedObject) error {
		keys = append(keys, o.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// expectRuns lets uploads start runs: none exists yet, and each start succeeds.
func expectRuns(t *testing.T, f *fixture) {
	f.temporal.On("DescribeWorkflowExecution", anyArgs(3)...).Return(nil, serviceerror.NewNotFound("no run")).Maybe()
	f.temporal.On("ExecuteWorkflow", anyArgs(4)...).Return(workflowRun(t, "wf", "run"), nil).Maybe()
}

func uploadAs(t *testing.T, f *fixture, as, album, name string, data []byte) reply {
	t.Helper()
	ct, body := multipartBody(t, part{"album", "", []byte(album)}, part{"file", name, data})
	return f.send(t, http.MethodPost, "/api/images", req{basic: as, ctype: ct, body: body})
}

func TestUploadRefusesWhatIsNotAnImage(t *testing.T) {
	f := newFixture(t)
	objs := withObjects(t, f)
	jpg := jpegBytes(t)
	for _, tc := range []struct {
		why, name string
		data      []byte
		wantErr   string
	}{
		{"text named .jpg", "notes.jpg", []byte("not an image at all\n"), "not an image"},
		{"HTML", "page.jpg", []byte("<!doctype html><script>alert(document.cookie)</script>"), "not an image"},
		{"SVG named .jpg", "logo.jpg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), "not an image"},
		{"SVG", "logo.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), "image/svg+xml"},
		{"ELF executable", "a.jpg", append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 64)...), "not an image"},
		{"Windows executable", "setup.png", append([]byte("MZ\x90\x00\x03"), make([]byte, 64)...), "not an image"},
		{"PDF", "scan.jpg", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), "not an image"},
		{"zip", "photos.jpg", []byte("PK\x03\x04\x14\x00\x00\x00"), "not an image"},
		{"MP4 video", "clip.jpg", []byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"), "not an image"},
		{"empty", "empty.jpg", nil, "empty"},
		// An image signature in front of markup must not land labelled as markup.
		{"JPEG named .html", "x.html", jpg, "text/html"},
		{"JPEG named .svg", "x.svg", jpg, "image/svg+xml"},
		{"JPEG named .js", "x.js", jpg, "javascript"},
	} {
		r := uploadAs(t, f, alice, "trip", tc.name, tc.data)
		if r.code != http.StatusUnsupportedMediaType {
			t.Errorf("%s: %d %s, want 415", tc.why, r.code, r.body)
			continue
		}
		if msg := errorText(t, r.body); !strings.Contains(msg, tc.wantErr) || !strings.Contains(msg, tc.name) {
			t.Errorf("%s: error %q should name the file and say %q", tc.why, msg, tc.wantErr)
		}
	}
	if keys := bucketKeys(t, objs); len(keys) != 0 {
		t.Errorf("refused uploads reached the bucket: %v", keys)
	}
	// The Temporal mock fails the test had any of them started a run.
}

func TestUploadLetsImagesThrough(t *testing.T) {
	f := newFixture(t)
	objs := withObjects(t, f)
	expectRuns(t, f)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"photo.jpg", jpegBytes(t)},
		{"screen.png", pngBytes(t)},
		// Identified by the pipeline and recorded as FileNotSupported, which the user sees.
		{"anim.gif", gifHeader},
		{"scan.tiff", tiffHeader},
		{"paint.bmp", bmpHeader},
		{"web.webp", webpHeader},
		{"phone.heic", heicHeader},
		{"new.avif", avifHeader},
		// A damaged JPEG is recorded as what it is, not refused at the door.
		{"cut.jpg", []byte("\xff\xd8\xff\xe0 cut short")},
		// No extension, or one the type table does not know: the content decides.
		{"IMG_0001", jpegBytes(t)},
		{"IMG_0002.jpg_original", jpegBytes(t)},
	} {
		r := uploadAs(t, f, alice, "trip", tc.name, tc.data)
		if r.code != http.StatusAccepted {
			t.Errorf("%s: %d %s, want 202", tc.name, r.code, r.body)
			continue
		}
		if got := decode[map[string]any](t, r.body)["key"]; got != "Incoming/alice/trip/"+tc.name {
			t.Errorf("%s: key %v", tc.name, got)
		}
	}
	if got := len(bucketKeys(t, objs)); got != 11 {
		t.Errorf("%d objects in the bucket, want 11", got)
	}
}

func TestUploadOverLimitNamesIt(t *testing.T) {
	f := newFixture(t)
	objs := withObjects(t, f)
	f.api.MaxUpload = 1 << 10
	big := append(jpegBytes(t), bytes.Repeat([]byte{0}, 2<<10)...)
	huge := append(jpegBytes(t), bytes.Repeat([]byte{0}, 2<<20)...)
	for name, data := range map[string][]byte{"over the file limit": big, "over the body bound": huge} {
		r := uploadAs(t, f, alice, "trip", "big.jpg", data)
		if r.code != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: %d %s, want 413", name, r.code, r.body)
			continue
		}
		body := decode[map[string]any](t, r.body)
		if msg, _ := body["error"].(string); !strings.Contains(msg, "1024-byte limit") {
			t.Errorf("%s: error %q does not name the limit", name, msg)
		}
		if body["maxUpload"] != float64(1<<10) {
			t.Errorf("%s: maxUpload %v, want 1024", name, body["maxUpload"])
		}
	}
	if keys := bucketKeys(t, objs); len(keys) != 0 {
		t.Errorf("oversized uploads reached the bucket: %v", keys)
	}
}

// TestUploadKeysStayInAlbum: whatever the album and file names, an upload lands under
// Incoming/<the signed-in user>/<one of their albums>/, or nowhere.
func TestUploadKeysStayInAlbum(t *testing.T) {
	f := newFixture(t)
	objs := withObjects(t, f)
	expectRuns(t, f)
	jpg := jpegBytes(t)

	// Directories in a file name are dropped: the base name is the file's name.
	for sent, want := range map[string]string{
		"../../etc/passwd.jpg":        "passwd.jpg",
		`..\..\windows\win.jpg`:       "win.jpg",
		`C:\Users\me\Pictures\a.jpg`:  "a.jpg",
		"/etc/abs.jpg":                "abs.jpg",
		"trip/../../bob/office/b.jpg": "b.jpg",
		"..%2F..%2Fbob%2Fenc.jpg":     "..%2F..%2Fbob%2Fenc.jpg", // never decoded: one segment
		"caf\u00e9 \u65e5\u672c.jpg":  "caf\u00e9 \u65e5\u672c.jpg",
	} {
		r := uploadAs(t, f, alice, "trip", sent, jpg)
		if r.code != http.StatusAccepted {
			t.Errorf("file %q: %d %s, want 202", sent, r.code, r.body)
			continue
		}
		if got := decode[map[string]any](t, r.body)["key"]; got != "Incoming/alice/trip/"+want {
			t.Errorf("file %q: key %v, want Incoming/alice/trip/%s", sent, got, want)
		}
	}

	for _, name := range []string{
		"..",
		"../",
		`..\`,
		strings.Repeat("a", 250) + ".jpg",
		"a\u2215b.jpg",        // division slash
		"a\uff0fb.jpg",        // fullwidth solidus
		"a\uff3cb.jpg",        // fullwidth reverse solidus
		"a\u2044b.jpg",        // fraction slash
		"photo\u202egpj.exe",  // right-to-left override
		"zero\u200bwidth.jpg", // zero-width space
		"line\u2028break.jpg", // line separator
		"bad\xffutf8.jpg",     // not UTF-8
		"tab\there.jpg",       // control character
		"nul\x00.jpg",         // NUL
	} {
		r := uploadAs(t, f, alice, "trip", name, jpg)
		if r.code != http.StatusBadRequest {
			t.Errorf("file %q: %d %s, want 400", name, r.code, r.body)
		}
	}
	for _, album := range []string{"../bob", "..", "trip/../../bob", "trip/..", `trip\..\..`, "..%2Fbob", "/trip", "trip\x00", "tr\u2215ip", "\uff54rip", strings.Repeat("t", 65)} {
		r := uploadAs(t, f, alice, album, "x.jpg", jpg)
		if r.code != http.StatusBadRequest {
			t.Errorf("album %q: %d %s, want 400", album, r.code, r.body)
		}
	}
	// A name of someone else's album is a name of none of yours.
	if r := uploadAs(t, f, bob, "trip", "x.jpg", jpg); r.code != http.StatusNotFound {
		t.Errorf("bob into trip: %d %s, want 404", r.code, r.body)
	}

	for _, k := range bucketKeys(t, objs) {
		rest, ok := strings.CutPrefix(k, "Incoming/alice/trip/")
		if !ok || rest == "" || strings.ContainsAny(rest, `/\`) || rest == "." || rest == ".." {
			t.Errorf("object key %q is not a file in Incoming/alice/trip/", k)
		}
	}
}

// TestMediaServesOnlyOwnKeys: the media routes read the key from the record, and only a key
// where the pipeline keeps the record owner's files.
func TestMediaServesOnlyOwnKeys(t *testing.T) {
	f := newFixture(t)
	objs := withObjects(t, f)
	ctx := context.Background()
	secret := []byte("\xff\xd8\xff bob's private photo")
	for _, k := range []string{"Incoming/bob/office/doc.jpg", "Thumbnail/bob/office/doc.jpg"} {
		if _, err := objs.Put(ctx, photoflow.DefaultBucket, k, secret, "image/jpeg", nil); err != nil {
			t.Fatal(err)
		}
	}
	// Records that point into bob's files but say alice owns them: from an object put in
	// the bucket with forged metadata, say.
	forged := rec(alice, "trip", "forged.jpg", photoflow.StatusSucceeded, time.Minute)
	forged.S3Key = "Incoming/bob/office/doc.jpg"
	forged.Thumbnail = &photoflow.Thumbnail{Key: "Thumbnail/bob/office/doc.jpg"}
	dotdot := rec(alice, "trip", "x", photoflow.StatusSucceeded, time.Minute)
	dotdot.ImageID = "alice/../bob/office/doc.jpg"
	dotdot.S3Key = "Incoming/" + dotdot.ImageID
	dotdot.Thumbnail = &photoflow.Thumbnail{Key: "Thumbnail/" + dotdot.ImageID}
	put(t, f, forged, dotdot)

	for _, id := range []string{forged.ImageID, dotdot.ImageID} {
		for _, kind := range []string{"original", "thumbnail"} {
			for _, as := range []string{alice, reviewer} {
				r := f.send(t, http.MethodGet, "/media/"+kind+"/"+url.PathEscape(id), req{basic: as})
				if r.code != http.StatusNotFound || bytes.Contains(r.body, secret) {
					t.Errorf("%s %s of %q: %d %q, want 404", as, kind, id, r.code, r.body)
				}
			}
		}
	}
	// Traversal in the URL reaches no one's files either.
	for _, p := range []string{
		"/media/original/alice%2F..%2Fbob%2Foffice%2Fdoc.jpg",
		"/media/original/..%2Fbob%2Foffice%2Fdoc.jpg",
		"/media/original/alice/../bob/office/doc.jpg",
		"/media/original/%2e%2e/Incoming/bob/office/doc.jpg",
		"/media/original/alice%5C..%5Cbob%5Coffice%5Cdoc.jpg",
		"/media/original/bob%2Foffice%2Fdoc.jpg%00",
	} {
		r := f.send(t, http.MethodGet, p, req{basic: alice})
		if r.code == http.StatusOK || bytes.Contains(r.body, secret) {
			t.Errorf("alice GET %s: %d %q", p, r.code, r.body)
		}
	}
}

// TestMediaHeaders: whatever type an object was stored with, it is served as the image its
// bytes are, or as a download; never as a page.
func TestMediaHeaders(t *testing.T) {
	f := newFixture(t)
	objs := withObjects(t, f)
	ctx := context.Background()
	jpg, pngb := jpegBytes(t), pngBytes(t)
	for _, tc := range []struct {
		file, storedAs string
		data           []byte
		ctype, disp    string
	}{
		{"photo.jpg", "image/jpeg", jpg, "image/jpeg", `inline; filename=photo.jpg`},
		{"shot.png", "image/png", pngb, "image/png", `inline; filename=shot.png`},
		{"png.svg", "image/svg+xml", pngb, "image/png", `inline; filename=png.svg`},
		{"page.jpg", "text/html", []byte("<html><script>alert(1)</script></html>"), "application/octet-stream", `attachment; filename=page.jpg`},
		{"logo.jpg", "image/svg+xml", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), "application/octet-stream", `attachment; filename=logo.jpg`},
		{"caf\u00e9.jpg", "image/jpeg", jpg, "image/jpeg", `inline; filename*=utf-8''caf%C3%A9.jpg`},
		{`q"uote.jpg`, "image/jpeg", jpg, "image/jpeg", `inline; filename="q\"uote.jpg"`},
	} {
		r0 := rec(alice, "trip", tc.file, photoflow.StatusSucceeded, time.Minute)
		if _, err := objs.Put(ctx, r0.S3Bucket, r0.S3Key, tc.data, tc.storedAs, nil); err != nil {
			t.Fatal(err)
		}
		put(t, f, r0)
		r := f.send(t, http.MethodGet, "/media/original/"+url.PathEscape(r0.ImageID), req{basic: alice})
		if r.code != http.StatusOK || !bytes.Equal(r.body, tc.data) {
			t.Errorf("%s: %d %q", tc.file, r.code, r.body)
			continue
		}
		h := r.header
		if got := h.Get("Content-Type"); got != tc.ctype {
			t.Errorf("%s stored as %s: Content-Type %q, want %q", tc.file, tc.storedAs, got, tc.ctype)
		}
		if got := h.Get("Content-Disposition"); got != tc.disp {
			t.Errorf("%s: Content-Disposition %q, want %q", tc.file, got, tc.disp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
			t.Errorf("%s: X-Content-Type-Options %q, CSP %q; want nosniff and a sandbox", tc.file,
				h.Get("X-Content-Type-Options"), h.Get("Content-Security-Policy"))
		}
	}
}

// TestJSONHeaders: success answers carry the same headers as refusals.
func TestJSONHeaders(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"/api/albums", "/api/images", "/api/session", "/healthz"} {
		r := f.send(t, http.MethodGet, p, req{basic: alice})
		h := r.header
		if r.code != http.StatusOK || h.Get("Content-Type") != "application/json" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: %d, Content-Type %q, X-Content-Type-Options %q, Cache-Control %q", p, r.code,
				h.Get("Content-Type"), h.Get("X-Content-Type-Options"), h.Get("Cache-Control"))
		}
	}
}

// TestStaticBuildsNoMarkupFromData: the web app puts every dynamic value into the page as
// text or an attribute, never as markup.
func TestStaticBuildsNoMarkupFromData(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("static", "*.js"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in static/: %v", err)
	}
	sinks := regexp.MustCompile(`\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\s*\(|new\s+Function\s*\(|createContextualFragment|DOMParser|srcdoc|javascript:`)
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if m := sinks.FindString(line); m != "" {
				t.Errorf("%s:%d uses %s: build elements with h() and text instead", name, i+1, m)
			}
		}
	}
	// h() is the one place attributes are set: event handlers from literal names only, and
	// every value through setAttribute or a text node.
	ui, err := os.ReadFile(filepath.Join("static", "ui.js"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"el.setAttribute(k,", "el.append(c instanceof Node ? c : String(c))"} {
		if !bytes.Contains(ui, []byte(want)) {
			t.Errorf("ui.js h() no longer has %q: check that it still keeps data out of markup", want)
		}
	}
}

func TestSessionCookieOverTLS(t *testing.T) {
	f := newFixture(t)
	h := f.api.Handler()
	login := httptest.NewRequest(http.MethodPost, "https://photos.example/api/login",
		strings.NewReader(`{"name":"alice","password":"`+password+`"}`))
	login.Header.Set("Content-Type", "application/json")
	login.Header.Set("Origin", "https://photos.example")
	login.TLS = &tls.ConnectionState{}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, login)
	if w.Code != http.StatusOK {
		t.Fatalf("login over TLS: %d %s", w.Code, w.Body)
	}
	var c *http.Cookie
	for _, ck := range w.Result().Cookies() {
		if ck.Name == web.SessionCookie {
			c = ck
		}
	}
	if c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie over TLS: %+v; want Secure, HttpOnly, SameSite=Strict", c)
	}
	csrf := decode[sessionBody](t, w.Body.Bytes()).CSRF

	logout := httptest.NewRequest(http.MethodPost, "https://photos.example/api/logout", nil)
	logout.AddCookie(c)
	logout.Header.Set("Origin", "https://photos.example")
	logout.Header.Set("X-CSRF-Token", csrf)
	logout.TLS = &tls.ConnectionState{}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, logout)
	if w.Code != http.StatusNoContent {
		t.Fatalf("logout: %d %s", w.Code, w.Body)
	}
	for _, ck := range w.Result().Cookies() {
		if ck.Name == web.SessionCookie && (!ck.Secure || !ck.HttpOnly || ck.MaxAge >= 0) {
			t.Errorf("clearing cookie over TLS: %+v", ck)
		}
	}
}

// TestLoginRotatesSession: signing in ends the session the browser held, so no token from
// before a sign-in is worth anything after it.
func TestLoginRotatesSession(t *testing.T) {
	f := newFixture(t)
	for _, as := range []string{alice, bob} { // the same account again, and another one
		before := f.signIn(t, alice)
		q := f.credentialsFor(as, password)
		q.token = before.token
		r := f.send(t, http.MethodPost, "/api/login", q)
		if r.code != http.StatusOK {
			t.Fatalf("login as %s holding alice's cookie: %d %s", as, r.code, r.body)
		}
		after := sessionCookie(t, r).Value
		if after == before.token {
			t.Fatalf("login as %s kept the session token", as)
		}
		if r := f.send(t, http.MethodGet, "/api/session", req{token: before.token}); r.code != http.StatusUnauthorized {
			t.Errorf("old cookie after signing in as %s: %d %s, want 401", as, r.code, r.body)
		}
		if r := f.send(t, http.MethodGet, "/api/session", req{token: after}); r.code != http.StatusOK {
			t.Errorf("new cookie: %d %s", r.code, r.body)
		}
	}
}

// syncBuffer collects log output written by server goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestNoSecretsInLogs signs in, fails to, trips the CSRF guard and delivers events, with
// every log line kept, and then looks for each secret that went by.
func TestNoSecretsInLogs(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var secrets []string
	keep := func(s ...string) { secrets = append(secrets, s...) }

	setupPW := "first account password"
	empty := newEmptyFixture(t)
	empty.api.Log = logger
	r := empty.send(t, http.MethodPost, "/api/setup", empty.credentialsFor("root", setupPW))
	if r.code != http.StatusOK {
		t.Fatalf("setup: %d %s", r.code, r.body)
	}
	keep(setupPW, sessionCookie(t, r).Value, decode[sessionBody](t, r.body).CSRF)

	f := newFixture(t)
	f.api.Log = logger
	f.api.Now = (&clock{now: time.Now()}).Now
	b := f.signIn(t, alice)
	keep(password, b.token, b.csrf)
	wrongPW, typedAsName := "wrong-password-123", "my-secret-password"
	keep(wrongPW, typedAsName)
	f.send(t, http.MethodPost, "/api/login", f.credentialsFor(alice, wrongPW))
	f.send(t, http.MethodPost, "/api/login", f.credentialsFor(typedAsName, password))
	for range 6 { // up to and past the limit
		f.send(t, http.MethodPost, "/api/login", f.credentialsFor(bob, wrongPW))
	}
	f.send(t, http.MethodGet, "/api/albums", req{basic: reviewer})
	f.send(t, http.MethodGet, "/api/albums", req{header: map[string]string{"Authorization": "Basic " + basicToken(reviewer, wrongPW)}})
	f.send(t, http.MethodPost, "/api/albums", req{token: b.token, origin: b.origin, ctype: "application/json", body: strings.NewReader(`{"name":"x"}`)})
	f.send(t, http.MethodPost, "/api/albums", req{token: b.token, origin: b.origin, csrf: flipFirst(b.csrf), ctype: "application/json", body: strings.NewReader(`{"name":"x"}`)})
	f.send(t, http.MethodPost, "/api/albums", b.as(req{origin: "https://evil.example", ctype: "application/json", body: strings.NewReader(`{"name":"x"}`)}))
	f.send(t, http.MethodPost, "/api/logout", b.as(req{}))

	ev := newEventsFixture(t, eventsSecret)
	ev.handler.Log = logger
	wrongSecret := "a-secret-of-some-other-system"
	keep(eventsSecret, wrongSecret)
	ev.post(t, testEvent, bearer)
	ev.post(t, testEvent, map[string]string{"Authorization": "Bearer " + wrongSecret})
	ev.post(t, testEvent, map[string]string{"X-Photoflow-Secret": wrongSecret})
	ev.post(t, testEvent, map[string]string{"Authorization": "Basic " + basic("sns", wrongSecret)})
	ev.post(t, testEvent, map[string]string{"Authorization": "Basic " + basic("sns", eventsSecret)})
	keep(basicToken(reviewer, password), basicToken(reviewer, wrongPW), basic("sns", wrongSecret), basic("sns", eventsSecret))

	out := logs.String()
	// The log says what happened, so its silence about secrets means something.
	for _, want := range []string{"first account created", "sign-in failed", "sign-in limit reached", "change refused", "S3 event refused"} {
		if !strings.Contains(out, want) {
			t.Errorf("log has no %q line:\n%s", want, out)
		}
	}
	for _, s := range secrets {
		for _, form := range []string{s, url.QueryEscape(s), base64.StdEncoding.EncodeToString([]byte(s))} {
			if form != "" && strings.Contains(out, form) {
				t.Errorf("log contains the secret %q (as %q):\n%s", s, form, out)
			}
		}
	}
}

func TestLoginLimiterIsBounded(t *testing.T) {
	api := &web.API{}
	t0 := time.Now()
	// One client trying a new name each time gets a few tries across names, not one per name.
	allowed := 0
	for i := range 1000 {
		if web.LimiterAttempt(api, "203.0.113.1", "name"+strings.Repeat("x", i), t0) {
			allowed++
		}
	}
	if allowed > 30 || allowed < 5 {
		t.Errorf("one client made %d failed attempts across names in a minute, want 5–30", allowed)
	}
	if n := web.LimiterSize(api); n > allowed+1 {
		t.Errorf("limiter holds %d entries after %d counted failures", n, allowed)
	}
	// Many clients, one failure each: held for the window, then swept.
	for i := range 5000 {
		web.LimiterAttempt(api, netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String(), "alice", t0)
	}
	if n := web.LimiterSize(api); n < 5000 {
		t.Fatalf("limiter holds %d entries, want every recent failure", n)
	}
	web.LimiterAttempt(api, "198.51.100.1", "bob", t0.Add(61*time.Second))
	if n := web.LimiterSize(api); n > 2 {
		t.Errorf("a window later the limiter holds %d entries, want the new attempt's 2", n)
	}

	// At its bound it refuses clients it does not know instead of growing.
	web.SetLimiterMaxKeys(api, 100)
	t1 := t0.Add(10 * time.Minute)
	for i := range 500 {
		web.LimiterAttempt(api, netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}).String(), "alice", t1)
	}
	if n := web.LimiterSize(api); n > 100 {
		t.Errorf("limiter holds %d entries, over its bound of 100", n)
	}
	if !web.LimiterAttempt(api, "192.0.2.9", "carol", t1.Add(61*time.Second)) {
		t.Error("a window after the flood a new client is still refused")
	}
}

func TestLoginLimitIgnoresForwardedFor(t *testing.T) {
	f := newFixture(t)
	f.api.Now = (&clock{now: time.Now()}).Now
	for i := range 5 {
		q := f.credentialsFor(alice, "guess")
		q.header = map[string]string{"X-Forwarded-For": "198.51.100." + string(rune('1'+i)), "X-Real-IP": "198.51.100.9",
			"Forwarded": "for=198.51.100.9"}
		if r := f.send(t, http.MethodPost, "/api/login", q); r.code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s", i+1, r.code, r.body)
		}
	}
	q := f.credentialsFor(alice, password)
	q.header = map[string]string{"X-Forwarded-For": "192.0.2.200"}
	if r := f.send(t, http.MethodPost, "/api/login", q); r.code != http.StatusTooManyRequests {
		t.Errorf("a made-up X-Forwarded-For escaped the limit: %d %s, want 429", r.code, r.body)
	}
}

func TestLoginLimitBehindTrustedProxy(t *testing.T) {
	f := newFixture(t)
	f.api.Now = (&clock{now: time.Now()}).Now
	f.api.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	login := func(pw, xff string) int {
		t.Helper()
		q := f.credentialsFor(alice, pw)
		q.header = map[string]string{"X-Forwarded-For": xff}
		return f.send(t, http.MethodPost, "/api/login", q).code
	}
	for range 5 {
		if code := login("guess", "203.0.113.7"); code != http.StatusUnauthorized {
			t.Fatalf("failure: %d", code)
		}
	}
	if code := login(password, "203.0.113.7"); code != http.StatusTooManyRequests {
		t.Errorf("the limited client behind the proxy: %d, want 429", code)
	}
	// Another client behind the same proxy is not locked out by the first.
	if code := login(password, "203.0.113.8"); code != http.StatusOK {
		t.Errorf("another client behind the proxy: %d, want 200", code)
	}
	// The client writes what it likes to the left; the proxy appends what it saw.
	if code := login(password, "203.0.113.8, 203.0.113.7"); code != http.StatusTooManyRequests {
		t.Errorf("a spoofed entry left of the proxy's: %d, want 429", code)
	}
	// An IPv6 subscriber's /64 is one client.
	for i := range 5 {
		if code := login("guess", "2001:db8:1:2::"+string(rune('a'+i))); code != http.StatusUnauthorized {
			t.Fatalf("IPv6 failure %d: %d", i+1, code)
		}
	}
	if code := login(password, "2001:db8:1:2:ffff::1"); code != http.StatusTooManyRequests {
		t.Errorf("another address in the same /64: %d, want 429", code)
	}
	if code := login(password, "2001:db8:1:3::1"); code != http.StatusOK {
		t.Errorf("another /64: %d, want 200", code)
	}
}

func TestTrustedProxyIsNotEveryone(t *testing.T) {
	f := newFixture(t)
	f.api.Now = (&clock{now: time.Now()}).Now
	// The test server's client connects from loopback; trusting another network leaves the
	// header ignored.
	f.api.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for i := range 5 {
		q := f.credentialsFor(alice, "guess")
		q.header = map[string]string{"X-Forwarded-For": "198.51.100." + string(rune('1'+i))}
		f.send(t, http.MethodPost, "/api/login", q)
	}
	q := f.credentialsFor(alice, password)
	q.header = map[string]string{"X-Forwarded-For": "198.51.100.200"}
	if r := f.send(t, http.MethodPost, "/api/login", q); r.code != http.StatusTooManyRequests {
		t.Errorf("X-Forwarded-For from an untrusted peer was believed: %d, want 429", r.code)
	}
}
