package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/crypto/bcrypt"

	"photoflow"
	"photoflow/objstore"
	"photoflow/pipeline"
	"photoflow/store"
)

func anyArgs(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = mock.Anything
	}
	return out
}

func workflowRun(t *testing.T, id, runID string) *mocks.WorkflowRun {
	run := mocks.NewWorkflowRun(t)
	run.On("GetID").Return(id).Maybe()
	run.On("GetRunID").Return(runID).Maybe()
	return run
}

type albumJSON struct {
	UserID     string    `json:"userID"`
	AlbumID    string    `json:"albumID"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"createdAt"`
	Deleting   bool      `json:"deleting"`
	PhotoCount int       `json:"photoCount"`
	Cover      *string   `json:"cover"`
}

type albumList struct {
	Albums []albumJSON `json:"albums"`
}

func albumNames(l albumList) string {
	var out []string
	for _, a := range l.Albums {
		out = append(out, a.Name)
	}
	return fmt.Sprint(out)
}

// withObjects gives the fixture an embedded S3 with the pipeline's bucket in place.
func withObjects(t *testing.T, f *fixture) *objstore.Store {
	t.Helper()
	e, err := objstore.StartEmbedded(filepath.Join(t.TempDir(), "s3.bolt"), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	ctx := context.Background()
	s, err := objstore.New(ctx, objstore.Config{Endpoint: e.Endpoint(), Region: "us-east-1",
		AccessKey: "k", SecretKey: "s", PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureBucket(ctx, photoflow.DefaultBucket); err != nil {
		t.Fatal(err)
	}
	f.api.Pipeline.Objects = s
	return s
}

func put(t *testing.T, f *fixture, recs ...photoflow.ImageRecord) {
	t.Helper()
	for _, r := range recs {
		if err := f.api.Store.Put(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
}

func withThumb(r photoflow.ImageRecord) photoflow.ImageRecord {
	r.Thumbnail = &photoflow.Thumbnail{Key: "Thumbnail/" + r.ImageID, Width: 10, Height: 10}
	return r
}

func failed(r photoflow.ImageRecord, errType string) photoflow.ImageRecord {
	r.Status, r.ErrorType, r.ErrReason = photoflow.StatusFailed, errType, errType+" happened"
	return r
}

func postAlbum(t *testing.T, f *fixture, as, name string) reply {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"name": name})
	return f.send(t, http.MethodPost, "/api/albums", req{basic: as, ctype: "application/json", body: bytes.NewReader(b)})
}

func TestCreateAlbum(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ name, id string }{
		{"Summer Trip 2026", "summer-trip-2026"},
		// Two albums may share a name, never an ID.
		{"Summer Trip 2026", "summer-trip-2026-2"},
		{"summer  trip—2026!", "summer-trip-2026-3"},
		{`<img src=x onerror="alert(1)"> & 'x'`, "img-src-x-onerror-alert-1-x"},
		{"Été à Zürich", "t-z-rich"},
		{"日本", "album"},
		{strings.Repeat("é", 100), "album-2"},
	} {
		r := postAlbum(t, f, alice, tc.name)
		if r.code != http.StatusCreated {
			t.Errorf("create %q: %d %s, want 201", tc.name, r.code, r.body)
			continue
		}
		got := decode[albumJSON](t, r.body)
		// The name is data; escaping it is the page's job, so it comes back verbatim.
		if got.AlbumID != tc.id || got.Name != tc.name || got.UserID != alice || got.Deleting {
			t.Errorf("create %q: %+v, want ID %q and the name verbatim", tc.name, got, tc.id)
		}
		if al, err := f.api.Accounts.GetAlbum(context.Background(), alice, tc.id); err != nil || al.Name != tc.name {
			t.Errorf("stored album %q: %+v, %v", tc.id, al, err)
		}
	}
	// The fixture's "trip" is alice's; bob's first "trip" is his own and unsuffixed.
	if r := postAlbum(t, f, bob, "trip"); r.code != http.StatusCreated || decode[albumJSON](t, r.body).AlbumID != "trip" {
		t.Errorf("bob's trip: %d %s, want 201 with ID trip", r.code, r.body)
	}
	if r := postAlbum(t, f, alice, "Trip"); decode[albumJSON](t, r.body).AlbumID != "trip-2" {
		t.Errorf("alice's second trip: %s, want ID trip-2", r.body)
	}
}

func TestCreateAlbumInvalid(t *testing.T) {
	f := newFixture(t)
	for _, name := range []string{
		"",
		"   ",
		strings.Repeat("a", 101),
		strings.Repeat("é", 101),
		"a\x00b",
		"tab\there",
		"new\nline",
		"del\x7f",
	} {
		r := postAlbum(t, f, alice, name)
		if r.code != http.StatusBadRequest {
			t.Errorf("name %q: %d %s, want 400", name, r.code, r.body)
			continue
		}
		errorText(t, r.body)
	}
	for _, body := range []string{``, `{"name":`, `["x"]`, `{"name":7}`} {
		r := f.send(t, http.MethodPost, "/api/albums", req{basic: alice, ctype: "application/json", body: strings.NewReader(body)})
		if r.code != http.StatusBadRequest {
			t.Errorf("body %q: %d %s, want 400", body, r.code, r.body)
		}
	}
	al, err := f.api.Accounts.ListAlbums(context.Background(), alice)
	if err != nil || len(al) != 1 {
		t.Errorf("albums after refused creates: %+v, %v; want only trip", al, err)
	}
}

func TestListAlbums(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cover := withThumb(rec(alice, "trip", "cover.jpg", photoflow.StatusSucceeded, 10*time.Minute))
	put(t, f,
		cover,
		// Older and finished: the cover is the newest finished photo, not any.
		withThumb(rec(alice, "trip", "old.jpg", photoflow.StatusSucceeded, 20*time.Minute)),
		// Newer but unfinished or rejected: a thumbnail alone does not make a cover.
		withThumb(rec(alice, "trip", "busy.jpg", photoflow.StatusProcessing, 30*time.Second)),
		withThumb(rec(alice, "trip", "bad.jpg", photoflow.StatusRejected, 40*time.Second)),
	)
	for _, al := range []store.Album{
		{UserID: alice, AlbumID: "home", Name: "Home", CreatedAt: base.Add(time.Hour)},
		{UserID: alice, AlbumID: "empty", Name: "Empty", CreatedAt: base.Add(-time.Hour)},
		{UserID: bob, AlbumID: "office", Name: "Office", CreatedAt: base},
	} {
		if err := f.api.Accounts.CreateAlbum(ctx, al); err != nil {
			t.Fatal(err)
		}
	}

	r := f.send(t, http.MethodGet, "/api/albums", req{basic: alice})
	if r.code != http.StatusOK {
		t.Fatalf("%d %s", r.code, r.body)
	}
	list := decode[albumList](t, r.body)
	type summary struct {
		id    string
		count int
		cover string
	}
	var got []summary
	for _, a := range list.Albums {
		s := summary{a.AlbumID, a.PhotoCount, "null"}
		if a.Cover != nil {
			s.cover = *a.Cover
		}
		got = append(got, s)
	}
	// Oldest album first; bob's photos in his own "trip" are not counted in alice's.
	want := []summary{
		{"empty", 0, "null"},
		{"trip", 6, "/media/thumbnail/" + url.PathEscape(cover.ImageID)},
		{"home", 1, "null"}, // its photo is finished but has no thumbnail
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("albums %v, want %v", got, want)
	}
	// The web app tests cover === null; an absent or empty field would read as a URL.
	raw := decode[map[string][]map[string]json.RawMessage](t, r.body)
	if c := string(raw["albums"][0]["cover"]); c != "null" {
		t.Errorf("empty album's cover is %s in JSON, want null", c)
	}

	r = f.send(t, http.MethodGet, "/api/albums", req{basic: bob})
	if got := decode[albumList](t, r.body); len(got.Albums) != 1 || got.Albums[0].AlbumID != "office" {
		t.Errorf("bob's albums: %s", r.body)
	}
	r = f.send(t, http.MethodGet, "/api/albums", req{basic: reviewer})
	if r.code != http.StatusOK || string(decode[map[string]json.RawMessage](t, r.body)["albums"]) != "[]" {
		t.Errorf("an account without albums: %d %s, want an empty array", r.code, r.body)
	}
}

func TestAlbumImages(t *testing.T) {
	f := newFixture(t)
	r := f.send(t, http.MethodGet, "/api/albums/trip/images", req{basic: alice})
	if r.code != http.StatusOK {
		t.Fatalf("%d %s", r.code, r.body)
	}
	// Only alice's trip, newest first: not bob's trip, not alice's other albums.
	if got, want := ids(decode[listPage](t, r.body).Records), []string{"alice/trip/x.jpg", "alice/trip/skin.jpg"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("images %v, want %v", got, want)
	}
}

func TestRenameAlbum(t *testing.T) {
	f := newFixture(t)
	r := f.send(t, http.MethodPatch, "/api/albums/trip", req{basic: alice, ctype: "application/json", body: strings.NewReader(`{"name":"  Trip <2026>  "}`)})
	if r.code != http.StatusOK {
		t.Fatalf("%d %s", r.code, r.body)
	}
	got := decode[albumJSON](t, r.body)
	// The ID stays: it is in every image key of the album.
	if got.AlbumID != "trip" || got.Name != "Trip <2026>" || !got.CreatedAt.Equal(base) {
		t.Errorf("renamed %+v", got)
	}
	r = f.send(t, http.MethodGet, "/api/albums", req{basic: alice})
	if names := albumNames(decode[albumList](t, r.body)); names != "[Trip <2026>]" {
		t.Errorf("albums after rename: %s", names)
	}
	for _, body := range []string{`{"name":""}`, `{"name":"a\u0001"}`, `{"name":"` + strings.Repeat("x", 101) + `"}`} {
		if r := f.send(t, http.MethodPatch, "/api/albums/trip", req{basic: alice, ctype: "application/json", body: strings.NewReader(body)}); r.code != http.StatusBadRequest {
			t.Errorf("rename to %s: %d %s, want 400", body, r.code, r.body)
		}
	}
	if r := f.send(t, http.MethodPatch, "/api/albums/nope", req{basic: alice, ctype: "application/json", body: strings.NewReader(`{"name":"x"}`)}); r.code != http.StatusNotFound {
		t.Errorf("rename a missing album: %d %s, want 404", r.code, r.body)
	}
}

func TestDeleteAlbum(t *testing.T) {
	f := newFixture(t)
	// With a bucket, an upload let through below would reach the Temporal mock and fail
	// there by name instead of panicking on a missing object store.
	withObjects(t, f)
	wantID := photoflow.AlbumDeleteWorkflowID(alice, "trip")
	f.temporal.On("ExecuteWorkflow", mock.Anything,
		mock.MatchedBy(func(o client.StartWorkflowOptions) bool {
			return o.ID == wantID && o.TaskQueue == photoflow.TaskQueue
		}),
		photoflow.DeleteAlbumWorkflow,
		photoflow.AlbumDeleteInput{AlbumRef: photoflow.AlbumRef{UserID: alice, AlbumID: "trip"}},
	).Return(workflowRun(t, wantID, "run-del-1"), nil).Once()

	b := f.signIn(t, alice)
	r := f.send(t, http.MethodDelete, "/api/albums/trip", b.as(req{}))
	if r.code != http.StatusAccepted {
		t.Fatalf("%d %s, want 202", r.code, r.body)
	}
	if got := decode[map[string]string](t, r.body); got["workflowId"] != wantID || got["runId"] != "run-del-1" {
		t.Errorf("answer %s, want the run's IDs", r.body)
	}
	al, err := f.api.Accounts.GetAlbum(context.Background(), alice, "trip")
	if err != nil || !al.Deleting {
		t.Errorf("album after DELETE: %+v, %v; want it marked deleting", al, err)
	}
	r = f.send(t, http.MethodGet, "/api/albums", req{basic: alice})
	if l := decode[albumList](t, r.body); len(l.Albums) != 1 || !l.Albums[0].Deleting {
		t.Errorf("list after DELETE: %s, want trip with deleting true", r.body)
	}

	// While the workflow empties the album, nothing may be added to it.
	ct, body := multipartBody(t, part{"file", "late.jpg", []byte("\xff\xd8\xff")}, part{"album", "", []byte("trip")})
	if r := f.send(t, http.MethodPost, "/api/images", b.as(req{ctype: ct, body: body})); r.code != http.StatusNotFound {
		t.Errorf("upload into a deleting album: %d %s, want 404", r.code, r.body)
	}
	if r := f.send(t, http.MethodPatch, "/api/albums/trip", b.as(jsonBody(`{"name":"back"}`))); r.code < 400 {
		t.Errorf("rename of a deleting album: %d %s, want a refusal", r.code, r.body)
	}
}

func TestDeleteAlbumTemporalDown(t *testing.T) {
	f := newFixture(t)
	f.temporal.On("ExecuteWorkflow", anyArgs(4)...).Return(nil, errors.New("frontend unavailable")).Once()
	r := f.send(t, http.MethodDelete, "/api/albums/trip", req{basic: alice})
	if r.code != http.StatusBadGateway {
		t.Errorf("%d %s, want 502", r.code, r.body)
	}
}

// TestOthersAlbumsAndImages: another user's things answer as absent, so they cannot be probed.
func TestOthersAlbumsAndImages(t *testing.T) {
	f := newFixture(t)
	put(t, f, failed(rec(alice, "trip", "slow.jpg", photoflow.StatusFailed, 6*time.Minute), photoflow.ErrTimeout))
	bb := f.signIn(t, bob)
	for _, q := range []req{{basic: bob}, bb.as(req{})} {
		for _, tc := range []struct{ method, path, body string }{
			{http.MethodGet, "/api/albums/trip/images", ""},
			{http.MethodPatch, "/api/albums/trip", `{"name":"mine now"}`},
			{http.MethodDelete, "/api/albums/trip", ""},
		} {
			q := q
			q.ctype, q.body = "application/json", strings.NewReader(tc.body)
			if r := f.send(t, tc.method, tc.path, q); r.code != http.StatusNotFound {
				t.Errorf("bob %s %s: %d %s, want 404", tc.method, tc.path, r.code, r.body)
			}
		}
		ct, body := multipartBody(t, part{"file", "x.jpg", []byte("\xff\xd8\xff")}, part{"album", "", []byte("trip")})
		q.ctype, q.body = ct, body
		if r := f.send(t, http.MethodPost, "/api/images", q); r.code != http.StatusNotFound {
			t.Errorf("bob uploading into alice's trip: %d %s, want 404", r.code, r.body)
		}

		for _, id := range []string{seed[0].ImageID, "alice/trip/slow.jpg"} {
			e := "/" + url.PathEscape(id)
			for _, tc := range []struct{ method, path string }{
				{http.MethodGet, "/api/images" + e},
				{http.MethodGet, "/api/images/" + id},
				{http.MethodGet, "/api/images" + e + "/progress"},
				{http.MethodGet, "/media/thumbnail" + e},
				{http.MethodGet, "/media/original" + e},
				{http.MethodPost, "/api/images" + e + "/rerun"},
			} {
				q := q
				q.ctype, q.body = "", nil
				r := f.send(t, tc.method, tc.path, q)
				if r.code != http.StatusNotFound {
					t.Errorf("bob %s %s: %d %s, want 404", tc.method, tc.path, r.code, r.body)
				} else if msg := errorText(t, r.body); !strings.Contains(msg, "no image") {
					t.Errorf("bob %s %s: %q, want the same answer as a missing image", tc.method, tc.path, msg)
				}
			}
		}
	}
	if al, _ := f.api.Accounts.GetAlbum(context.Background(), alice, "trip"); al.Name != "trip" || al.Deleting {
		t.Errorf("bob changed alice's album: %+v", al)
	}
	// The mock Temporal client fails the test had any of these reached it.
}

func TestReviewerOnlyRoutes(t *testing.T) {
	f := newFixture(t)
	ab := f.signIn(t, alice)
	for _, q := range []req{{basic: alice}, ab.as(req{})} {
		for _, tc := range []struct{ method, path, body string }{
			{http.MethodGet, "/api/reviews", ""},
			{http.MethodPost, "/api/reviews/decisions", `{"imageIDs":["alice/trip/skin.jpg"],"decision":"approve"}`},
			// Even her own image: a user must not approve her own upload.
			{http.MethodPost, decisionPath, `{"decision":"approve"}`},
		} {
			q := q
			q.ctype, q.body = "application/json", strings.NewReader(tc.body)
			r := f.send(t, tc.method, tc.path, q)
			if r.code != http.StatusForbidden {
				t.Errorf("alice %s %s: %d %s, want 403", tc.method, tc.path, r.code, r.body)
			}
		}
	}
}

func TestUploadOverMaxUploadWithSession(t *testing.T) {
	f := newFixture(t)
	f.api.MaxUpload = 4 << 10
	b := f.signIn(t, alice)
	// The announced limit is the one enforced.
	if s := decode[sessionBody](t, f.send(t, http.MethodGet, "/api/session", req{token: b.token}).body); s.MaxUpload != 4<<10 {
		t.Errorf("session maxUpload %d, want %d", s.MaxUpload, 4<<10)
	}
	ct, body := multipartBody(t, part{"album", "", []byte("trip")}, part{"file", "big.jpg", bytes.Repeat([]byte{0xff}, 4<<10+1)})
	r := f.send(t, http.MethodPost, "/api/images", b.as(req{ctype: ct, body: body}))
	if r.code != http.StatusRequestEntityTooLarge {
		t.Errorf("%d %s, want 413", r.code, r.body)
	}
}

func TestReviewsInbox(t *testing.T) {
	f := newFixture(t)
	put(t, f,
		rec(bob, "office", "old.jpg", photoflow.StatusPendingReview, 10*time.Minute),
		rec(alice, "home", "new.jpg", photoflow.StatusPendingReview, 30*time.Second),
		rec(bob, "office", "done.jpg", photoflow.StatusRejected, 20*time.Minute),
	)
	for _, q := range []req{{basic: reviewer}, f.signIn(t, reviewer).as(req{})} {
		r := f.send(t, http.MethodGet, "/api/reviews", q)
		if r.code != http.StatusOK {
			t.Fatalf("%d %s", r.code, r.body)
		}
		// Every user's pending images, the longest waiting first.
		want := []string{"bob/office/old.jpg", "alice/trip/skin.jpg", "alice/home/new.jpg"}
		if got := ids(decode[listPage](t, r.body).Records); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("inbox %v, want %v", got, want)
		}
	}
}

func TestReviewsInboxEmpty(t *testing.T) {
	f := newEmptyFixture(t)
	if err := f.api.Accounts.CreateUser(context.Background(), store.User{Name: reviewer, Role: store.RoleReviewer, PasswordHash: cheapHash(t), CreatedAt: base}, false); err != nil {
		t.Fatal(err)
	}
	r := f.send(t, http.MethodGet, "/api/reviews", req{basic: reviewer})
	if raw := decode[map[string]json.RawMessage](t, r.body); r.code != http.StatusOK || string(raw["records"]) != "[]" {
		t.Errorf("empty inbox: %d %s, want records []", r.code, r.body)
	}
}

func TestBatchDecisions(t *testing.T) {
	f := newFixture(t)
	other := rec(bob, "office", "pending.jpg", photoflow.StatusPendingReview, 10*time.Minute)
	put(t, f, other)
	pending := seed[1]
	d := photoflow.ReviewDecision{Decision: photoflow.DecisionReject, Reviewer: reviewer, Reason: "not a photo"}

	h := mocks.NewWorkflowUpdateHandle(t)
	h.On("Get", mock.Anything, mock.AnythingOfType("*photoflow.DecisionResult")).
		Return(func(_ context.Context, v any) error {
			*v.(*photoflow.DecisionResult) = photoflow.DecisionResult{Accepted: true, Status: photoflow.StatusRejected, Decision: d.Decision, Reviewer: reviewer}
			return nil
		}).Once()
	f.temporal.On("UpdateWorkflow", mock.Anything, updateOf(pending, d)).Return(h, nil).Once()
	f.temporal.On("UpdateWorkflow", mock.Anything, updateOf(other, d)).
		Return(nil, temporal.NewApplicationError("a decision was already made by carol", "InvalidDecision")).Once()

	b := f.signIn(t, reviewer)
	body := `{"imageIDs":["alice/trip/skin.jpg","bob/office/pending.jpg","alice/trip/gone.jpg"],"decision":"reject","reason":"not a photo"}`
	r := f.send(t, http.MethodPost, "/api/reviews/decisions", b.as(jsonBody(body)))
	if r.code != http.StatusOK {
		t.Fatalf("%d %s", r.code, r.body)
	}
	type outcome struct {
		ImageID  string `json:"imageID"`
		Accepted bool   `json:"accepted"`
		Status   string `json:"status"`
		Error    string `json:"error"`
	}
	got := decode[struct {
		Results []outcome `json:"results"`
	}](t, r.body).Results
	if len(got) != 3 {
		t.Fatalf("results %s, want one per image in order", r.body)
	}
	if g := got[0]; g.ImageID != pending.ImageID || !g.Accepted || g.Status != string(photoflow.StatusRejected) || g.Error != "" {
		t.Errorf("accepted image: %+v", g)
	}
	if g := got[1]; g.ImageID != other.ImageID || g.Accepted || !strings.Contains(g.Error, "already made by carol") {
		t.Errorf("rejected image: %+v, want the validator's reason", g)
	}
	// A store miss is that image's answer and never reaches Temporal.
	if g := got[2]; g.ImageID != "alice/trip/gone.jpg" || g.Accepted || g.Error == "" {
		t.Errorf("unknown image: %+v, want an error", g)
	}
}

func TestBatchDecisionsBadRequests(t *testing.T) {
	f := newFixture(t)
	b := f.signIn(t, reviewer)
	many, _ := json.Marshal(map[string]any{"imageIDs": slices.Repeat([]string{"alice/trip/skin.jpg"}, 501), "decision": "approve"})
	for _, body := range []string{
		`{"imageIDs":[],"decision":"approve"}`,
		`{"decision":"approve"}`,
		// The reviewer is the signed-in account; a body naming one is refused outright.
		`{"imageIDs":["alice/trip/skin.jpg"],"decision":"approve","reviewer":"mallory"}`,
		`{"imageIDs":["alice/trip/skin.jpg"],"decision":"approve","extra":1}`,
		`{"imageIDs":"alice/trip/skin.jpg","decision":"approve"}`,
		`not json`,
		string(many),
	} {
		r := f.send(t, http.MethodPost, "/api/reviews/decisions", b.as(jsonBody(body)))
		if r.code != http.StatusBadRequest {
			t.Errorf("body %.80s: %d %s, want 400", body, r.code, r.body)
			continue
		}
		errorText(t, r.body)
	}
}

func TestFailures(t *testing.T) {
	f := newFixture(t)
	slow := failed(rec(alice, "trip", "slow.jpg", photoflow.StatusFailed, 6*time.Minute), photoflow.ErrTimeout)
	odd := failed(rec(alice, "home", "odd.gif", photoflow.StatusFailed, 7*time.Minute), photoflow.ErrFileNotSupported)
	put(t, f, slow, odd, failed(rec(bob, "office", "b.jpg", photoflow.StatusFailed, 8*time.Minute), photoflow.ErrTimeout))

	r := f.send(t, http.MethodGet, "/api/failures", req{basic: alice})
	if r.code != http.StatusOK {
		t.Fatalf("%d %s", r.code, r.body)
	}
	got := decode[struct {
		Records   []photoflow.ImageRecord `json:"records"`
		Transient []string                `json:"transient"`
	}](t, r.body)
	if ids := ids(got.Records); fmt.Sprint(ids) != fmt.Sprint([]string{slow.ImageID, odd.ImageID}) {
		t.Errorf("alice's failures %v, want only her FAILED records, newest first", ids)
	}
	if len(got.Records) > 0 && got.Records[0].ErrorType != photoflow.ErrTimeout {
		t.Errorf("failure record lost its errorType: %+v", got.Records[0])
	}
	if !slices.Equal(got.Transient, pipeline.TransientErrors) || !slices.Contains(got.Transient, photoflow.ErrTimeout) {
		t.Errorf("transient = %v, want %v", got.Transient, pipeline.TransientErrors)
	}
	// The reviewer's failures page is also only the reviewer's own.
	r = f.send(t, http.MethodGet, "/api/failures", req{basic: reviewer})
	if l := decode[listPage](t, r.body); r.code != http.StatusOK || len(l.Records) != 0 {
		t.Errorf("reviewer's failures: %d %s, want none", r.code, r.body)
	}
}

func TestRerun(t *testing.T) {
	f := newFixture(t)
	objs := withObjects(t, f)
	ctx := context.Background()
	slow := failed(rec(alice, "trip", "slow.jpg", photoflow.StatusFailed, 6*time.Minute), photoflow.ErrTimeout)
	odd := failed(rec(alice, "trip", "odd.gif", photoflow.StatusFailed, 7*time.Minute), photoflow.ErrFileNotSupported)
	put(t, f, slow, odd)
	etag, err := objs.Put(ctx, slow.S3Bucket, slow.S3Key, []byte("\xff\xd8\xff rerun me"), "image/jpeg", nil)
	if err != nil {
		t.Fatal(err)
	}

	for _, r0 := range []photoflow.ImageRecord{odd, seed[0], seed[1]} {
		r := f.send(t, http.MethodPost, "/api/images/"+url.PathEscape(r0.ImageID)+"/rerun", req{basic: alice})
		if r.code != http.StatusConflict {
			t.Errorf("rerun %s (%s %s): %d %s, want 409", r0.ImageID, r0.Status, r0.ErrorType, r.code, r.body)
		}
	}

	wantID := photoflow.WorkflowID(slow.S3Bucket, slow.S3Key, etag)
	f.temporal.On("ExecuteWorkflow", mock.Anything,
		mock.MatchedBy(func(o client.StartWorkflowOptions) bool {
			// Only this policy lets the server refuse to repeat a run that succeeded.
			return o.ID == wantID && o.TaskQueue == photoflow.TaskQueue &&
				o.WorkflowIDReusePolicy == enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY
		}),
		photoflow.ImageProcessingWorkflow,
		mock.MatchedBy(func(in photoflow.ImageInput) bool {
			return in.Bucket == slow.S3Bucket && in.Key == slow.S3Key && in.ETag == etag &&
				in.UserID == alice && in.AlbumID == "trip" && in.UploadTime.Equal(slow.UploadTime)
		}),
	).Return(workflowRun(t, wantID, "run-2"), nil).Once()

	b := f.signIn(t, alice)
	r := f.send(t, http.MethodPost, "/api/images/"+url.PathEscape(slow.ImageID)+"/rerun", b.as(req{}))
	if r.code != http.StatusAccepted {
		t.Fatalf("rerun of a timeout: %d %s, want 202", r.code, r.body)
	}
	if got := decode[map[string]string](t, r.body); got["workflowId"] != wantID || got["runId"] != "run-2" {
		t.Errorf("answer %s", r.body)
	}
}

func TestRerunObjectGone(t *testing.T) {
	f := newFixture(t)
	withObjects(t, f)
	slow := failed(rec(alice, "trip", "slow.jpg", photoflow.StatusFailed, 6*time.Minute), photoflow.ErrUnavailable)
	put(t, f, slow)
	// No object to run on: the request fails before Temporal (the mock would fail the test).
	r := f.send(t, http.MethodPost, "/api/images/"+url.PathEscape(slow.ImageID)+"/rerun", req{basic: alice})
	if r.code < 400 {
		t.Errorf("rerun without the original: %d %s, want an error", r.code, r.body)
	}
}

func TestMedia(t *testing.T) {
	f := newFixture(t)
	objs := withObjects(t, f)
	ctx := context.Background()
	thumbBytes := []byte("\xff\xd8\xff\xe0 a thumbnail")
	x := withThumb(seed[0])
	if _, err := objs.Put(ctx, x.S3Bucket, x.Thumbnail.Key, thumbBytes, "image/jpeg", nil); err != nil {
		t.Fatal(err)
	}
	// An upload that claimed to be HTML must never render as a page on this origin.
	html := []byte("<html><script>alert(document.cookie)</script></html>")
	if _, err := objs.Put(ctx, x.S3Bucket, x.S3Key, html, "text/html", nil); err != nil {
		t.Fatal(err)
	}
	noObject := withThumb(seed[2]) // alice/home/cat.png: a thumbnail key, but nothing stored
	put(t, f, x, noObject)

	get := func(as, path string) reply {
		t.Helper()
		return f.send(t, http.MethodGet, path, req{basic: as})
	}
	thumb := "/media/thumbnail/" + url.PathEscape(x.ImageID)
	for _, as := range []string{alice, reviewer} { // the owner, and a reviewer judging it
		r := get(as, thumb)
		if r.code != http.StatusOK {
			t.Fatalf("%s GET %s: %d %s", as, thumb, r.code, r.body)
		}
		if !bytes.Equal(r.body, thumbBytes) {
			t.Errorf("%s: body %q, want the stored thumbnail", as, r.body)
		}
		if ct := r.header.Get("Content-Type"); ct != "image/jpeg" {
			t.Errorf("%s: Content-Type %q, want image/jpeg", as, ct)
		}
		if v := r.header.Get("X-Content-Type-Options"); v != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q, want nosniff", as, v)
		}
	}

	r := get(alice, "/media/original/"+url.PathEscape(x.ImageID))
	if r.code != http.StatusOK || !bytes.Equal(r.body, html) {
		t.Fatalf("original: %d %q", r.code, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("text/html object served as %q, want application/octet-stream", ct)
	}
	if v := r.header.Get("X-Content-Type-Options"); v != "nosniff" {
		t.Errorf("original: X-Content-Type-Options %q, want nosniff", v)
	}

	// A reviewer sees another user's record and media, but rerunning is the owner's.
	if r := get(reviewer, "/api/images/"+url.PathEscape(x.ImageID)); r.code != http.StatusOK {
		t.Errorf("reviewer GET alice's record: %d %s", r.code, r.body)
	}
	slow := failed(rec(alice, "trip", "slow.jpg", photoflow.StatusFailed, 6*time.Minute), photoflow.ErrTimeout)
	put(t, f, slow)
	if _, err := objs.Put(ctx, slow.S3Bucket, slow.S3Key, thumbBytes, "image/jpeg", nil); err != nil {
		t.Fatal(err)
	}
	if r := f.send(t, http.MethodPost, "/api/images/"+url.PathEscape(slow.ImageID)+"/rerun", req{basic: reviewer}); r.code != http.StatusNotFound {
		t.Errorf("reviewer rerun of alice's failure: %d %s, want 404", r.code, r.body)
	}

	for _, tc := range []struct{ as, path, why string }{
		{alice, "/media/thumbnail/" + url.PathEscape(seed[1].ImageID), "no thumbnail yet"},
		{alice, "/media/thumbnail/" + url.PathEscape(noObject.ImageID), "thumbnail object missing"},
		{alice, "/media/original/" + url.PathEscape(noObject.ImageID), "original object missing"},
		{alice, "/media/thumbnail/alice%2Ftrip%2Fnope.jpg", "no record"},
		{bob, thumb, "another user's"},
	} {
		r := get(tc.as, tc.path)
		if r.code != http.StatusNotFound {
			t.Errorf("%s (%s): %d %s, want 404", tc.path, tc.why, r.code, r.body)
			continue
		}
		errorText(t, r.body)
	}
}

func TestStatic(t *testing.T) {
	f := newFixture(t)
	r := f.send(t, http.MethodGet, "/", req{})
	if r.code != http.StatusOK {
		t.Fatalf("GET /: %d %s", r.code, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("GET /: Content-Type %q", ct)
	}
	if !bytes.Contains(r.body, []byte(`src="/static/app.js"`)) {
		t.Errorf("GET / is not the app's index.html: %.200s", r.body)
	}
	csp := r.header.Get("Content-Security-Policy")
	for _, d := range []string{"script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP %q lacks %q", csp, d)
		}
	}
	for _, d := range strings.Split(csp, ";") {
		if d = strings.TrimSpace(d); strings.HasPrefix(d, "script-src") && strings.Contains(d, "unsafe-inline") {
			t.Errorf("CSP %q allows inline scripts", csp)
		}
	}

	r = f.send(t, http.MethodGet, "/static/app.js", req{})
	if r.code != http.StatusOK {
		t.Fatalf("GET /static/app.js: %d %s", r.code, r.body)
	}
	// A module script with another type is refused by the browser.
	if ct := r.header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Errorf("app.js Content-Type %q", ct)
	}
	if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Content-Security-Policy") == "" {
		t.Errorf("app.js headers %v", r.header)
	}
	if r := f.send(t, http.MethodGet, "/static/nope.js", req{}); r.code != http.StatusNotFound {
		t.Errorf("missing static file: %d", r.code)
	}
}

func cheapHash(t *testing.T) []byte {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
