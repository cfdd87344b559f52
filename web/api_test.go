package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	commonpb "go.temporal.io/api/common/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/crypto/bcrypt"

	"photoflow"
	"photoflow/pipeline"
	"photoflow/store"
	"photoflow/web"
)

var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func rec(user, album, file string, st photoflow.Status, age time.Duration) photoflow.ImageRecord {
	key := photoflow.IncomingKey(user, album, file)
	return photoflow.ImageRecord{
		ImageID: photoflow.ImageID(key), UserID: user, AlbumID: album,
		S3Bucket: photoflow.DefaultBucket, S3Key: key, ETag: "etag-" + file,
		UploadTime: base.Add(-age), UpdateTime: base.Add(-age), Status: st,
		WorkflowID: photoflow.WorkflowID(photoflow.DefaultBucket, key, "etag-"+file), RunID: "run-" + file,
	}
}

// seed is ordered newest upload first, the order List promises.
var seed = []photoflow.ImageRecord{
	rec("alice", "trip", "x.jpg", photoflow.StatusSucceeded, 1*time.Minute),
	rec("alice", "trip", "skin.jpg", photoflow.StatusPendingReview, 2*time.Minute),
	rec("alice", "home", "cat.png", photoflow.StatusSucceeded, 3*time.Minute),
	rec("bob", "trip", "scan.tiff", photoflow.StatusFailed, 4*time.Minute),
	rec("bob", "office", "doc.jpg", photoflow.StatusProcessing, 5*time.Minute),
}

// Accounts of the fixture: images are private to their owner, and only a reviewer sees
// everyone's and may decide.
const (
	alice    = "alice"
	bob      = "bob"
	reviewer = "rita"
	anon     = ""
	password = "correct horse battery"
)

type fixture struct {
	srv      *httptest.Server
	temporal *mocks.Client
	api      *web.API
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "photoflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	for _, r := range seed {
		if err := st.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// The lowest cost keeps HTTP Basic, checked on every request, cheap under -race.
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for name, role := range map[string]string{alice: store.RoleUser, bob: store.RoleUser, reviewer: store.RoleReviewer} {
		if err := st.CreateUser(ctx, store.User{Name: name, Role: role, PasswordHash: hash, CreatedAt: base}, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CreateAlbum(ctx, store.Album{UserID: alice, AlbumID: "trip", Name: "trip", CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	tc := mocks.NewClient(t)
	api := &web.API{
		Pipeline: &pipeline.Pipeline{Temporal: tc, Bucket: photoflow.DefaultBucket, Namespace: photoflow.Namespace},
		Store:    st,
		Accounts: st,
		Ready:    func(context.Context) error { return nil },
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, temporal: tc, api: api}
}

// do sends a request as the named account (anon: none) and returns the status and the raw
// body, checking that every answer is JSON, errors included.
func (f *fixture) do(t *testing.T, as, method, path, contentType string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if as != anon {
		req.SetBasicAuth(as, password)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json (body %s)", method, path, ct, b)
	}
	return resp.StatusCode, b
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

func errorText(t *testing.T, b []byte) string {
	t.Helper()
	m := decode[map[string]any](t, b)
	s, ok := m["error"].(string)
	if !ok || s == "" {
		t.Fatalf("want a JSON error, got %s", b)
	}
	return s
}

func TestGetImage(t *testing.T) {
	f := newFixture(t)
	want := seed[0]
	for _, tc := range []struct{ as, path string }{
		{alice, "/api/images/" + url.PathEscape(want.ImageID)},
		{alice, "/api/images/alice%2Ftrip%2Fx.jpg"},
		{alice, "/api/images/" + want.ImageID},
		{reviewer, "/api/images/alice%2Ftrip%2Fx.jpg"},
	} {
		code, b := f.do(t, tc.as, http.MethodGet, tc.path, "", nil)
		if code != http.StatusOK {
			t.Fatalf("GET %s as %s: %d %s", tc.path, tc.as, code, b)
		}
		got := decode[photoflow.ImageRecord](t, b)
		if got.ImageID != want.ImageID || got.Status != want.Status || got.WorkflowID != want.WorkflowID || !got.UploadTime.Equal(want.UploadTime) {
			t.Errorf("GET %s: got %+v, want %+v", tc.path, got, want)
		}
	}

	for _, tc := range []struct {
		as, path string
		code     int
	}{
		{alice, "/api/images/alice%2Ftrip%2Fnope.jpg", http.StatusNotFound},
		// Another user's image is answered as absent, so IDs cannot be probed.
		{bob, "/api/images/alice%2Ftrip%2Fx.jpg", http.StatusNotFound},
		{anon, "/api/images/alice%2Ftrip%2Fx.jpg", http.StatusUnauthorized},
	} {
		code, b := f.do(t, tc.as, http.MethodGet, tc.path, "", nil)
		if code != tc.code {
			t.Errorf("GET %s as %q: %d %s, want %d", tc.path, tc.as, code, b, tc.code)
			continue
		}
		if msg := errorText(t, b); code == http.StatusNotFound && !strings.Contains(msg, "alice/trip/") {
			t.Errorf("404 error %q does not name the image", msg)
		}
	}
}

type listPage struct {
	Records []photoflow.ImageRecord `json:"records"`
	Next    string                  `json:"next"`
}

func ids(rs []photoflow.ImageRecord) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.ImageID)
	}
	return out
}

func TestListFilters(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		as, query string
		want      []string
	}{
		{reviewer, "", ids(seed)},
		{reviewer, "?album=trip", []string{"alice/trip/x.jpg", "alice/trip/skin.jpg", "bob/trip/scan.tiff"}},
		{reviewer, "?user=bob", []string{"bob/trip/scan.tiff", "bob/office/doc.jpg"}},
		{reviewer, "?status=SUCCEEDED", []string{"alice/trip/x.jpg", "alice/home/cat.png"}},
		{reviewer, "?user=alice&album=trip&status=PENDING_REVIEW", []string{"alice/trip/skin.jpg"}},
		{reviewer, "?limit=2", []string{"alice/trip/x.jpg", "alice/trip/skin.jpg"}},
		// A user sees only their own images, whatever the filter.
		{alice, "", []string{"alice/trip/x.jpg", "alice/trip/skin.jpg", "alice/home/cat.png"}},
		{alice, "?album=trip", []string{"alice/trip/x.jpg", "alice/trip/skin.jpg"}},
		{bob, "?user=bob&status=FAILED", []string{"bob/trip/scan.tiff"}},
	} {
		code, b := f.do(t, tc.as, http.MethodGet, "/api/images"+tc.query, "", nil)
		if code != http.StatusOK {
			t.Fatalf("%s %q: %d %s", tc.as, tc.query, code, b)
		}
		page := decode[listPage](t, b)
		if got := ids(page.Records); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s %q: got %v, want %v", tc.as, tc.query, got, tc.want)
		}
	}

	if code, b := f.do(t, alice, http.MethodGet, "/api/images?user=bob", "", nil); code != http.StatusForbidden {
		t.Errorf("alice listing bob's images: %d %s, want 403", code, b)
	}
	if code, b := f.do(t, anon, http.MethodGet, "/api/images", "", nil); code != http.StatusUnauthorized {
		t.Errorf("anonymous list: %d %s, want 401", code, b)
	}
}

func TestListEmptyIsArray(t *testing.T) {
	f := newFixture(t)
	code, b := f.do(t, reviewer, http.MethodGet, "/api/images?user=nobody", "", nil)
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, b)
	}
	// A JavaScript client iterates records without a null check.
	raw := decode[map[string]json.RawMessage](t, b)
	if string(raw["records"]) != "[]" {
		t.Errorf("records = %s, want []", raw["records"])
	}
	if _, ok := raw["next"]; ok {
		t.Errorf("last page carries next: %s", b)
	}
}

func TestListPaging(t *testing.T) {
	f := newFixture(t)
	var got []string
	q := url.Values{"limit": {"2"}}
	for pages := 0; ; pages++ {
		if pages > len(seed) {
			t.Fatalf("paging does not end; so far %v", got)
		}
		code, b := f.do(t, reviewer, http.MethodGet, "/api/images?"+q.Encode(), "", nil)
		if code != http.StatusOK {
			t.Fatalf("page %d: %d %s", pages, code, b)
		}
		page := decode[listPage](t, b)
		if len(page.Records) > 2 {
			t.Fatalf("page %d has %d records, limit 2", pages, len(page.Records))
		}
		got = append(got, ids(page.Records)...)
		if page.Next == "" {
			break
		}
		q.Set("cursor", page.Next)
	}
	if fmt.Sprint(got) != fmt.Sprint(ids(seed)) {
		t.Errorf("paged %v, want %v", got, ids(seed))
	}

	// Paging within a filter keeps the filter.
	code, b := f.do(t, reviewer, http.MethodGet, "/api/images?album=trip&limit=1", "", nil)
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, b)
	}
	first := decode[listPage](t, b)
	if first.Next == "" {
		t.Fatal("no next for the first of three trip images")
	}
	code, b = f.do(t, reviewer, http.MethodGet, "/api/images?album=trip&limit=5&cursor="+url.QueryEscape(first.Next), "", nil)
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, b)
	}
	if got, want := ids(decode[listPage](t, b).Records), []string{"alice/trip/skin.jpg", "bob/trip/scan.tiff"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("second trip page %v, want %v", got, want)
	}
}

func TestListBadRequests(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ query, wantErr string }{
		{"?status=BOGUS", "BOGUS"},
		{"?status=succeeded", "succeeded"},
		{"?limit=0", "limit"},
		{"?limit=-3", "limit"},
		{"?limit=abc", "limit"},
		{"?cursor=garbage", ""},
	} {
		code, b := f.do(t, reviewer, http.MethodGet, "/api/images"+tc.query, "", nil)
		if code != http.StatusBadRequest {
			t.Errorf("%q: %d %s, want 400", tc.query, code, b)
			continue
		}
		if msg := errorText(t, b); !strings.Contains(msg, tc.wantErr) {
			t.Errorf("%q: error %q does not mention %q", tc.query, msg, tc.wantErr)
		}
	}
}

type part struct {
	field, fileName string
	data            []byte
}

func multipartBody(t *testing.T, parts ...part) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.fileName != "" {
			w, err = mw.CreateFormFile(p.field, p.fileName)
		} else {
			w, err = mw.CreateFormField(p.field)
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(p.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), &buf
}

// Every case stops before the bucket and Temporal: the fixture has no object store, and the
// Temporal mock fails the test on any call.
func TestUploadRejects(t *testing.T) {
	f := newFixture(t)
	f.api.MaxUpload = 1 << 10
	img := []byte("\xff\xd8\xff not really a JPEG, never read this far")
	file := part{"file", "x.jpg", img}
	user := func(s string) part { return part{"user", "", []byte(s)} }
	album := func(s string) part { return part{"album", "", []byte(s)} }

	for _, tc := range []struct {
		name    string
		as      string
		parts   []part
		code    int
		wantErr string
	}{
		{"anonymous", anon, []part{file, album("trip")}, 401, "sign in"},
		{"missing file", alice, []part{album("trip")}, 400, `"file"`},
		{"file sent as a plain field", alice, []part{{"file", "", img}, album("trip")}, 400, `"file"`},
		{"someone else's name", alice, []part{file, user("bob"), album("trip")}, 403, "own"},
		{"traversal user", alice, []part{file, user("../x"), album("trip")}, 403, "own"},
		{"user with space", alice, []part{file, user("a b"), album("trip")}, 403, "own"},
		{"empty album", alice, []part{file, album("")}, 400, `album ""`},
		{"traversal album", alice, []part{file, album("../x")}, 400, `album "../x"`},
		{"album with space", alice, []part{file, album("a b")}, 400, `album "a b"`},
		{"album not created", alice, []part{file, album("nope")}, 404, `"nope"`},
		{"other user's album", bob, []part{file, album("trip")}, 404, `"trip"`},
		{"dot-dot file name", alice, []part{{"file", "..", img}, album("trip")}, 400, "file name"},
		{"long file name", alice, []part{{"file", strings.Repeat("a", 201) + ".jpg", img}, album("trip")}, 400, "file name"},
		{"over MaxUpload", alice, []part{{"file", "big.jpg", bytes.Repeat([]byte{'x'}, 2<<10)}, album("trip")}, 413, "limit"},
		// Over the body bound (MaxUpload plus 1 MiB of form overhead): cut off while reading.
		{"body over bound", alice, []part{album("trip"), {"file", "huge.jpg", bytes.Repeat([]byte{'x'}, 2<<20)}}, 413, "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct, body := multipartBody(t, tc.parts...)
			code, b := f.do(t, tc.as, http.MethodPost, "/api/images", ct, body)
			if code != tc.code {
				t.Fatalf("%d %s, want %d", code, b, tc.code)
			}
			if msg := errorText(t, b); !strings.Contains(msg, tc.wantErr) {
				t.Errorf("error %q does not mention %q", msg, tc.wantErr)
			}
		})
	}

	for _, ct := range []string{"application/json", ""} {
		code, b := f.do(t, alice, http.MethodPost, "/api/images", ct, strings.NewReader(`{"file":"x.jpg","album":"trip"}`))
		if code != http.StatusBadRequest {
			t.Errorf("Content-Type %q: %d %s, want 400", ct, code, b)
		} else if msg := errorText(t, b); !strings.Contains(msg, "multipart") {
			t.Errorf("Content-Type %q: error %q does not say what was expected", ct, msg)
		}
	}
}

const decisionPath = "/api/images/alice%2Ftrip%2Fskin.jpg/decision"

func TestDecisionBadRequests(t *testing.T) {
	f := newFixture(t)
	for _, body := range []string{
		``,
		`{"decision":`,
		`["approve"]`,
		`{"decision":"approve","extra":1}`,
		`{"decision":"approve","Reasons":"x"}`,
	} {
		code, b := f.do(t, reviewer, http.MethodPost, decisionPath, "application/json", strings.NewReader(body))
		if code != http.StatusBadRequest {
			t.Errorf("body %q: %d %s, want 400", body, code, b)
			continue
		}
		errorText(t, b)
	}

	ok := `{"decision":"approve"}`
	for _, tc := range []struct {
		as, path string
		code     int
	}{
		{reviewer, "/api/images/alice%2Ftrip%2Fnope.jpg/decision", http.StatusNotFound},
		{alice, decisionPath, http.StatusForbidden}, // even on her own image
		{anon, decisionPath, http.StatusUnauthorized},
	} {
		code, b := f.do(t, tc.as, http.MethodPost, tc.path, "application/json", strings.NewReader(ok))
		if code != tc.code {
			t.Errorf("%s as %q: %d %s, want %d", tc.path, tc.as, code, b, tc.code)
			continue
		}
		errorText(t, b)
	}
	// mocks.NewClient fails the test if any of these reached Temporal.
}

func updateOf(r photoflow.ImageRecord, d photoflow.ReviewDecision) any {
	return mock.MatchedBy(func(o client.UpdateWorkflowOptions) bool {
		return o.WorkflowID == r.WorkflowID && o.RunID == r.RunID && o.UpdateName == photoflow.DecisionUpdate &&
			o.WaitForStage == client.WorkflowUpdateStageCompleted &&
			len(o.Args) == 1 && o.Args[0] == d
	})
}

func TestDecisionRefused(t *testing.T) {
	pending := seed[1]
	d := photoflow.ReviewDecision{Decision: photoflow.DecisionApprove, Reviewer: reviewer, Reason: "a sunset"}
	body := `{"decision":"approve","reason":"a sunset"}`
	validator := temporal.NewApplicationError("a decision was already made by carol", "InvalidDecision")

	for _, tc := range []struct {
		name    string
		setup   func(*mocks.Client)
		wantErr string
	}{
		{"validator rejects", func(c *mocks.Client) {
			c.On("UpdateWorkflow", mock.Anything, updateOf(pending, d)).
				Return(nil, fmt.Errorf("update: %w", validator)).Once()
		}, "already made by carol"},
		{"outcome carries the rejection", func(c *mocks.Client) {
			h := mocks.NewWorkflowUpdateHandle(t)
			h.On("Get", mock.Anything, mock.Anything).Return(validator).Once()
			c.On("UpdateWorkflow", mock.Anything, updateOf(pending, d)).Return(h, nil).Once()
		}, "already made by carol"},
		{"run finished", func(c *mocks.Client) {
			c.On("UpdateWorkflow", mock.Anything, updateOf(pending, d)).
				Return(nil, serviceerror.NewNotFound("workflow execution already completed")).Once()
		}, pipeline.ErrNoPendingReview.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.setup(f.temporal)
			code, b := f.do(t, reviewer, http.MethodPost, decisionPath, "application/json", strings.NewReader(body))
			if code != http.StatusConflict {
				t.Fatalf("%d %s, want 409", code, b)
			}
			got := decode[map[string]any](t, b)
			if got["accepted"] != false {
				t.Errorf("accepted = %v, want false", got["accepted"])
			}
			if msg, _ := got["error"].(string); !strings.Contains(msg, tc.wantErr) {
				t.Errorf("error %q does not carry %q", msg, tc.wantErr)
			}
			if got["status"] != string(pending.Status) {
				t.Errorf("status = %v, want %s", got["status"], pending.Status)
			}
		})
	}
}

func TestDecisionOtherFailureIsBadGateway(t *testing.T) {
	f := newFixture(t)
	f.temporal.On("UpdateWorkflow", mock.Anything, mock.Anything).
		Return(nil, serviceerror.NewUnavailable("frontend down")).Once()
	code, b := f.do(t, reviewer, http.MethodPost, decisionPath, "application/json", strings.NewReader(`{"decision":"approve"}`))
	if code != http.StatusBadGateway {
		t.Fatalf("%d %s, want 502", code, b)
	}
	if msg := errorText(t, b); !strings.Contains(msg, "frontend down") {
		t.Errorf("error %q hides the cause", msg)
	}
}

func TestDecisionAccepted(t *testing.T) {
	f := newFixture(t)
	pending := seed[1]
	// The body's reviewer is ignored: the decision is recorded under the signed-in account.
	d := photoflow.ReviewDecision{Decision: photoflow.DecisionReject, Reviewer: reviewer}
	want := photoflow.DecisionResult{Accepted: true, Status: photoflow.StatusProcessing, Decision: photoflow.DecisionReject, Reviewer: reviewer}
	h := mocks.NewWorkflowUpdateHandle(t)
	h.On("Get", mock.Anything, mock.AnythingOfType("*photoflow.DecisionResult")).
		Return(func(_ context.Context, v any) error {
			*v.(*photoflow.DecisionResult) = want
			return nil
		}).Once()
	f.temporal.On("UpdateWorkflow", mock.Anything, updateOf(pending, d)).Return(h, nil).Once()

	code, b := f.do(t, reviewer, http.MethodPost, decisionPath, "application/json", strings.NewReader(`{"decision":"reject","reviewer":"mallory"}`))
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, b)
	}
	if got := decode[photoflow.DecisionResult](t, b); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestProgress(t *testing.T) {
	f := newFixture(t)
	r := seed[4]
	q := photoflow.Progress{ImageID: r.ImageID, Status: photoflow.StatusProcessing, Stage: photoflow.StageExtractMetadata,
		Stages: []photoflow.StageTiming{{Stage: photoflow.StageStarting, Started: base}}, Record: r}
	v := mocks.NewEncodedValue(t)
	v.On("Get", mock.AnythingOfType("*photoflow.Progress")).Return(func(p any) error {
		*p.(*photoflow.Progress) = q
		return nil
	}).Once()
	f.temporal.On("QueryWorkflow", mock.Anything, r.WorkflowID, r.RunID, photoflow.StatusQuery).Return(v, nil).Once()
	f.temporal.On("DescribeWorkflowExecution", mock.Anything, r.WorkflowID, r.RunID).Return(
		&workflowservice.DescribeWorkflowExecutionResponse{PendingActivities: []*workflowpb.PendingActivityInfo{{
			ActivityType: &commonpb.ActivityType{Name: photoflow.ExtractImageMetadataActivity},
			Attempt:      3,
			LastFailure:  &failurepb.Failure{Message: "connection reset by peer"},
		}}}, nil).Once()

	code, b := f.do(t, bob, http.MethodGet, "/api/images/"+url.PathEscape(r.ImageID)+"/progress", "", nil)
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, b)
	}
	got := decode[photoflow.Progress](t, b)
	if got.Attempt != 3 {
		t.Errorf("attempt = %d, want 3", got.Attempt)
	}
	if !strings.Contains(got.LastError, photoflow.ExtractImageMetadataActivity) || !strings.Contains(got.LastError, "connection reset by peer") {
		t.Errorf("lastError = %q, want the activity and its failure", got.LastError)
	}
	if got.Stage != q.Stage || got.ImageID != r.ImageID || len(got.Stages) != 1 {
		t.Errorf("query answer not passed through: %+v", got)
	}
}

func TestProgressErrors(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		as, path string
		code     int
	}{
		{reviewer, "/api/images/alice%2Ftrip%2Fnope.jpg/progress", http.StatusNotFound},
		{alice, "/api/images/bob%2Fwork%2Fdoc.jpg/progress", http.StatusNotFound},
		{anon, "/api/images/bob%2Fwork%2Fdoc.jpg/progress", http.StatusUnauthorized},
	} {
		if code, b := f.do(t, tc.as, http.MethodGet, tc.path, "", nil); code != tc.code {
			t.Errorf("%s as %q: %d %s, want %d", tc.path, tc.as, code, b, tc.code)
		}
	}
	r := seed[0]
	f.temporal.On("QueryWorkflow", mock.Anything, r.WorkflowID, r.RunID, photoflow.StatusQuery).
		Return(nil, serviceerror.NewNotFound("workflow not found")).Once()
	code, b := f.do(t, alice, http.MethodGet, "/api/images/"+url.PathEscape(r.ImageID)+"/progress", "", nil)
	if code != http.StatusBadGateway {
		t.Errorf("failed query: %d %s, want 502", code, b)
	}
}

func TestHealth(t *testing.T) {
	f := newFixture(t)
	code, b := f.do(t, anon, http.MethodGet, "/healthz", "", nil)
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, b)
	}
	if got := decode[map[string]string](t, b); got["status"] != "ok" {
		t.Errorf("body %s", b)
	}

	f.api.Ready = func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("readiness check without a deadline could hang the probe")
		}
		return errors.New("s3: connection refused")
	}
	code, b = f.do(t, anon, http.MethodGet, "/healthz", "", nil)
	if code != http.StatusServiceUnavailable {
		t.Fatalf("%d %s, want 503", code, b)
	}
	if msg := errorText(t, b); msg != "s3: connection refused" {
		t.Errorf("error %q, want the readiness failure", msg)
	}
}
