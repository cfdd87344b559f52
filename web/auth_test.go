package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/mocks"

	"photoflow"
	"photoflow/pipeline"
	"photoflow/store"
	"photoflow/web"
)

// newEmptyFixture has no accounts, records or albums: the first-run state.
func newEmptyFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "photoflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
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

// req is everything a browser or a script may put on a request.
type req struct {
	basic  string // account for HTTP Basic; anon for none
	token  string // session cookie value
	csrf   string
	origin string
	ctype  string
	body   io.Reader
	header map[string]string
}

type reply struct {
	code    int
	header  http.Header
	body    []byte
	cookies []*http.Cookie
}

func (f *fixture) send(t *testing.T, method, path string, q req) reply {
	t.Helper()
	hr, err := http.NewRequest(method, f.srv.URL+path, q.body)
	if err != nil {
		t.Fatal(err)
	}
	if q.ctype != "" {
		hr.Header.Set("Content-Type", q.ctype)
	}
	if q.basic != anon {
		hr.SetBasicAuth(q.basic, password)
	}
	if q.token != "" {
		hr.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: q.token})
	}
	if q.csrf != "" {
		hr.Header.Set("X-CSRF-Token", q.csrf)
	}
	if q.origin != "" {
		hr.Header.Set("Origin", q.origin)
	}
	for k, v := range q.header {
		hr.Header.Set(k, v)
	}
	resp, err := f.srv.Client().Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{code: resp.StatusCode, header: resp.Header, body: b, cookies: resp.Cookies()}
}

func jsonBody(s string) req {
	return req{ctype: "application/json", body: strings.NewReader(s)}
}

// credentialsFor is a sign-in form as the web app sends it: JSON from the app's own origin.
func (f *fixture) credentialsFor(name, pw string) req {
	q := jsonBody(`{"name":` + quoteJSON(name) + `,"password":` + quoteJSON(pw) + `}`)
	q.origin = f.srv.URL
	return q
}

func quoteJSON(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func sessionCookie(t *testing.T, r reply) *http.Cookie {
	t.Helper()
	for _, c := range r.cookies {
		if c.Name == web.SessionCookie {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v (body %s)", web.SessionCookie, r.header.Values("Set-Cookie"), r.body)
	return nil
}

// browser is a signed-in web app: its cookie, its CSRF token and its origin.
type browser struct{ token, csrf, origin string }

// as returns q sent by the browser, with every credential it carries.
func (b browser) as(q req) req {
	q.token, q.csrf, q.origin = b.token, b.csrf, b.origin
	return q
}

func (f *fixture) signIn(t *testing.T, name string) browser {
	t.Helper()
	r := f.send(t, http.MethodPost, "/api/login", f.credentialsFor(name, password))
	if r.code != http.StatusOK {
		t.Fatalf("sign in as %s: %d %s", name, r.code, r.body)
	}
	body := decode[map[string]any](t, r.body)
	csrf, _ := body["csrf"].(string)
	if csrf == "" {
		t.Fatalf("sign-in answer has no CSRF token: %s", r.body)
	}
	return browser{token: sessionCookie(t, r).Value, csrf: csrf, origin: f.srv.URL}
}

// clock is API.Now under the test's control; handlers read it from server goroutines.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type sessionBody struct {
	User struct {
		Name string `json:"name"`
		Role string `json:"role"`
	} `json:"user"`
	CSRF          string `json:"csrf"`
	MaxUpload     int64  `json:"maxUpload"`
	SetupRequired *bool  `json:"setupRequired"`
	Error         string `json:"error"`
}

func TestSetupFirstAccount(t *testing.T) {
	f := newEmptyFixture(t)
	setupRequired := func(want bool) {
		t.Helper()
		r := f.send(t, http.MethodGet, "/api/session", req{})
		if r.code != http.StatusUnauthorized {
			t.Fatalf("GET /api/session signed out: %d %s, want 401", r.code, r.body)
		}
		s := decode[sessionBody](t, r.body)
		if s.SetupRequired == nil || *s.SetupRequired != want {
			t.Errorf("setupRequired in %s, want %v", r.body, want)
		}
	}
	setupRequired(true)

	for _, tc := range []struct{ name, pw, why string }{
		{"root", "short", "password"},
		{"root", strings.Repeat("x", 73), "password"},
		{"a b", "long enough password", "name"},
		{"", "long enough password", "name"},
	} {
		r := f.send(t, http.MethodPost, "/api/setup", f.credentialsFor(tc.name, tc.pw))
		if r.code != http.StatusBadRequest {
			t.Errorf("setup %q/%q: %d %s, want 400", tc.name, tc.pw, r.code, r.body)
		} else if msg := errorText(t, r.body); !strings.Contains(msg, tc.why) {
			t.Errorf("setup %q/%q: error %q does not mention the %s", tc.name, tc.pw, msg, tc.why)
		}
	}
	// A refused setup must not use up the one chance to create the first account.
	setupRequired(true)

	r := f.send(t, http.MethodPost, "/api/setup", f.credentialsFor("root", "long enough password"))
	if r.code != http.StatusOK {
		t.Fatalf("setup: %d %s", r.code, r.body)
	}
	c := sessionCookie(t, r)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure {
		t.Errorf("cookie over plain HTTP: HttpOnly=%v SameSite=%v Path=%q Secure=%v; want true, Strict, /, false",
			c.HttpOnly, c.SameSite, c.Path, c.Secure)
	}
	body := decode[sessionBody](t, r.body)
	if body.User.Name != "root" || body.User.Role != store.RoleReviewer || body.CSRF == "" {
		t.Errorf("setup answer %s: want root as reviewer with a CSRF token", r.body)
	}
	u, err := f.api.Accounts.GetUser(context.Background(), "root")
	if err != nil || u.Role != store.RoleReviewer {
		t.Errorf("stored account %+v, %v; want a reviewer", u, err)
	}
	if string(u.PasswordHash) == "long enough password" || len(u.PasswordHash) == 0 {
		t.Errorf("stored password hash %q is not a hash", u.PasswordHash)
	}

	r = f.send(t, http.MethodGet, "/api/session", req{token: c.Value})
	if r.code != http.StatusOK {
		t.Fatalf("GET /api/session with the setup cookie: %d %s", r.code, r.body)
	}
	if s := decode[sessionBody](t, r.body); s.User.Name != "root" || s.CSRF != body.CSRF {
		t.Errorf("session %s, want root with the CSRF token %q", r.body, body.CSRF)
	}
	setupRequired(false)

	// Setup is for the first account only, whoever asks.
	r = f.send(t, http.MethodPost, "/api/setup", f.credentialsFor("mallory", "long enough password"))
	if r.code != http.StatusConflict {
		t.Errorf("second setup: %d %s, want 409", r.code, r.body)
	}
	if _, err := f.api.Accounts.GetUser(context.Background(), "mallory"); err == nil {
		t.Error("second setup created an account")
	}
}

func TestSessionWithBasic(t *testing.T) {
	f := newFixture(t)
	r := f.send(t, http.MethodGet, "/api/session", req{basic: alice})
	if r.code != http.StatusOK {
		t.Fatalf("%d %s", r.code, r.body)
	}
	s := decode[sessionBody](t, r.body)
	// A script has no cookie, so it gets no CSRF token to leak.
	if s.User.Name != alice || s.User.Role != store.RoleUser || s.CSRF != "" || s.MaxUpload <= 0 {
		t.Errorf("session %s", r.body)
	}
	r = f.send(t, http.MethodGet, "/api/session", req{})
	if s := decode[sessionBody](t, r.body); r.code != http.StatusUnauthorized || s.SetupRequired == nil || *s.SetupRequired {
		t.Errorf("signed out with accounts present: %d %s, want 401 and setupRequired false", r.code, r.body)
	}
}

func TestLoginCookie(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		proto  string
		secure bool
	}{{"", false}, {"https", true}, {"HTTPS", true}, {"http", false}} {
		q := f.credentialsFor(alice, password)
		q.header = map[string]string{"X-Forwarded-Proto": tc.proto}
		r := f.send(t, http.MethodPost, "/api/login", q)
		if r.code != http.StatusOK {
			t.Fatalf("login (proto %q): %d %s", tc.proto, r.code, r.body)
		}
		c := sessionCookie(t, r)
		if c.Secure != tc.secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
			t.Errorf("proto %q: Secure=%v HttpOnly=%v SameSite=%v Path=%q; want Secure=%v, HttpOnly, Strict, /",
				tc.proto, c.Secure, c.HttpOnly, c.SameSite, c.Path, tc.secure)
		}
		if len(c.Value) < 32 {
			t.Errorf("session token %q is too short to be unguessable", c.Value)
		}
	}

	a, b := f.signIn(t, alice), f.signIn(t, alice)
	if a.token == b.token || a.csrf == b.csrf {
		t.Error("two sign-ins share a token or a CSRF token")
	}
	r := f.send(t, http.MethodGet, "/api/session", req{token: a.token})
	if s := decode[sessionBody](t, r.body); r.code != http.StatusOK || s.User.Name != alice || s.CSRF != a.csrf {
		t.Errorf("session with the cookie: %d %s", r.code, r.body)
	}
}

func TestLoginWrongCredentials(t *testing.T) {
	f := newFixture(t)
	wrong := f.send(t, http.MethodPost, "/api/login", f.credentialsFor(alice, "not the password"))
	unknown := f.send(t, http.MethodPost, "/api/login", f.credentialsFor("nobody", password))
	for _, r := range []reply{wrong, unknown} {
		if r.code != http.StatusUnauthorized {
			t.Fatalf("%d %s, want 401", r.code, r.body)
		}
		for _, c := range r.cookies {
			if c.Name == web.SessionCookie {
				t.Errorf("failed sign-in set a session cookie")
			}
		}
	}
	// One answer for both, so the sign-in form does not reveal which accounts exist.
	if w, u := errorText(t, wrong.body), errorText(t, unknown.body); w != u {
		t.Errorf("wrong password says %q, unknown name says %q", w, u)
	}
}

func TestLoginRefusesForeignRequests(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		edit func(*req)
	}{
		{"form content type", func(q *req) { q.ctype = "application/x-www-form-urlencoded" }},
		{"text/plain", func(q *req) { q.ctype = "text/plain" }},
		{"no content type", func(q *req) { q.ctype = "" }},
		{"foreign Origin", func(q *req) { q.origin = "http://evil.example" }},
		{"null Origin", func(q *req) { q.origin = "null" }},
		{"foreign Referer", func(q *req) { q.origin = ""; q.header = map[string]string{"Referer": "http://evil.example/x"} }},
	} {
		for _, path := range []string{"/api/login", "/api/setup"} {
			q := f.credentialsFor(alice, password)
			tc.edit(&q)
			r := f.send(t, http.MethodPost, path, q)
			if r.code != http.StatusForbidden {
				t.Errorf("%s %s: %d %s, want 403", path, tc.name, r.code, r.body)
			}
			if len(r.cookies) != 0 {
				t.Errorf("%s %s: refused request set %v", path, tc.name, r.header.Values("Set-Cookie"))
			}
		}
	}
	// The same credentials from the app's origin work, so the refusals above were the guard's.
	f.signIn(t, alice)
}

func TestLoginRateLimit(t *testing.T) {
	f := newFixture(t)
	// Near the wall clock: the store sweeps expired sessions by it.
	c := &clock{now: time.Now()}
	f.api.Now = c.Now
	for i := range 5 {
		r := f.send(t, http.MethodPost, "/api/login", f.credentialsFor(alice, "guess"))
		if r.code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s, want 401", i+1, r.code, r.body)
		}
		c.Add(time.Second)
	}
	// The right password does not help once the limit is reached: the guesser would know.
	r := f.send(t, http.MethodPost, "/api/login", f.credentialsFor(alice, password))
	if r.code != http.StatusTooManyRequests {
		t.Fatalf("sixth attempt within a minute: %d %s, want 429", r.code, r.body)
	}
	errorText(t, r.body)
	// HTTP Basic is the same door.
	if r := f.send(t, http.MethodGet, "/api/albums", req{basic: alice}); r.code != http.StatusTooManyRequests {
		t.Errorf("HTTP Basic while limited: %d %s, want 429", r.code, r.body)
	}
	// The limit is per name: another account from the same client is not locked out.
	if r := f.send(t, http.MethodPost, "/api/login", f.credentialsFor(bob, password)); r.code != http.StatusOK {
		t.Errorf("bob while alice is limited: %d %s, want 200", r.code, r.body)
	}

	c.Add(50 * time.Second) // the first failure is now 55 s old
	if r := f.send(t, http.MethodPost, "/api/login", f.credentialsFor(alice, password)); r.code != http.StatusTooManyRequests {
		t.Errorf("within the minute: %d %s, want 429", r.code, r.body)
	}
	c.Add(10 * time.Second) // every failure is over a minute old
	if r := f.send(t, http.MethodPost, "/api/login", f.credentialsFor(alice, password)); r.code != http.StatusOK {
		t.Errorf("after a minute: %d %s, want 200", r.code, r.body)
	}
}

func TestLoginSuccessResetsLimit(t *testing.T) {
	f := newFixture(t)
	f.api.Now = (&clock{now: time.Now()}).Now
	// A user who mistypes now and then must not lock herself out by signing in between.
	for round := range 3 {
		for i := range 4 {
			if r := f.send(t, http.MethodPost, "/api/login", f.credentialsFor(alice, "typo")); r.code != http.StatusUnauthorized {
				t.Fatalf("round %d, typo %d: %d %s, want 401", round, i+1, r.code, r.body)
			}
		}
		if r := f.send(t, http.MethodPost, "/api/login", f.credentialsFor(alice, password)); r.code != http.StatusOK {
			t.Fatalf("round %d, right password: %d %s, want 200", round, r.code, r.body)
		}
	}
}

func TestBasicWrongPasswordCounts(t *testing.T) {
	f := newFixture(t)
	f.api.Now = (&clock{now: time.Now()}).Now
	for i := range 5 {
		q := req{header: map[string]string{"Authorization": "Basic " + basicToken(alice, "guess")}}
		if r := f.send(t, http.MethodGet, "/api/albums", q); r.code != http.StatusUnauthorized {
			t.Fatalf("wrong Basic password %d: %d %s, want 401", i+1, r.code, r.body)
		}
	}
	if r := f.send(t, http.MethodGet, "/api/albums", req{basic: alice}); r.code != http.StatusTooManyRequests {
		t.Errorf("Basic after five wrong passwords: %d %s, want 429", r.code, r.body)
	}
}

// flipFirst changes one character, so only a full comparison tells the tokens apart.
func flipFirst(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

func basicToken(name, pw string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(name, pw)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

func TestLogout(t *testing.T) {
	f := newFixture(t)
	b := f.signIn(t, alice)
	other := f.signIn(t, alice)
	// Signing out is a change: without the token a foreign page could sign the user out.
	if r := f.send(t, http.MethodPost, "/api/logout", req{token: b.token, origin: b.origin}); r.code != http.StatusForbidden {
		t.Errorf("logout without CSRF token: %d %s, want 403", r.code, r.body)
	}
	r := f.send(t, http.MethodPost, "/api/logout", b.as(req{}))
	if r.code != http.StatusNoContent {
		t.Fatalf("logout: %d %s, want 204", r.code, r.body)
	}
	if c := sessionCookie(t, r); c.MaxAge >= 0 || c.Value != "" {
		t.Errorf("logout cookie %+v does not clear the session cookie", c)
	}
	// The server forgets the session: a kept copy of the cookie no longer signs in.
	for _, path := range []string{"/api/session", "/api/albums"} {
		if r := f.send(t, http.MethodGet, path, req{token: b.token}); r.code != http.StatusUnauthorized {
			t.Errorf("GET %s with the old cookie: %d %s, want 401", path, r.code, r.body)
		}
	}
	if r := f.send(t, http.MethodGet, "/api/session", req{token: other.token}); r.code != http.StatusOK {
		t.Errorf("logout ended another session of the same user: %d %s", r.code, r.body)
	}
}

func TestExpiredSessionRefused(t *testing.T) {
	f := newFixture(t)
	c := &clock{now: time.Now()}
	f.api.Now = c.Now
	b := f.signIn(t, alice)
	c.Add(7*24*time.Hour - time.Minute)
	if r := f.send(t, http.MethodGet, "/api/albums", req{token: b.token}); r.code != http.StatusOK {
		t.Fatalf("session a minute before expiry: %d %s", r.code, r.body)
	}
	c.Add(2 * time.Minute)
	if r := f.send(t, http.MethodGet, "/api/albums", req{token: b.token}); r.code != http.StatusUnauthorized {
		t.Errorf("session past its week: %d %s, want 401", r.code, r.body)
	}
}

func TestCSRF(t *testing.T) {
	f := newFixture(t)
	b := f.signIn(t, alice)
	f.temporal.On("ExecuteWorkflow", anyArgs(4)...).Return(workflowRun(t, "del", "run-del"), nil).Once()

	for _, tc := range []struct {
		method, path, body string
		ok                 int
	}{
		{http.MethodPost, "/api/albums", `{"name":"csrf new"}`, http.StatusCreated},
		{http.MethodPatch, "/api/albums/trip", `{"name":"csrf renamed"}`, http.StatusOK},
		{http.MethodDelete, "/api/albums/trip", ``, http.StatusAccepted},
	} {
		name := tc.method + " " + tc.path
		for _, bad := range []struct {
			why  string
			edit func(*req)
		}{
			{"no token", func(q *req) { q.csrf = "" }},
			{"wrong token", func(q *req) { q.csrf = flipFirst(b.csrf) }},
			{"token with a suffix", func(q *req) { q.csrf = b.csrf + "0" }},
			{"another session's token", func(q *req) { q.csrf = f.signIn(t, alice).csrf }},
			{"foreign Origin", func(q *req) { q.origin = "http://evil.example" }},
			{"foreign Referer", func(q *req) {
				q.origin = ""
				q.header = map[string]string{"Referer": "https://evil.example/page"}
			}},
		} {
			q := b.as(jsonBody(tc.body))
			bad.edit(&q)
			if r := f.send(t, tc.method, tc.path, q); r.code != http.StatusForbidden {
				t.Errorf("%s, %s: %d %s, want 403", name, bad.why, r.code, r.body)
			}
		}
		if r := f.send(t, tc.method, tc.path, b.as(jsonBody(tc.body))); r.code != tc.ok {
			t.Errorf("%s with the right token: %d %s, want %d", name, r.code, r.body, tc.ok)
		}
	}

	// Refused requests changed nothing: only the accepted create added an album.
	r := f.send(t, http.MethodGet, "/api/albums", req{token: b.token}) // a read needs no token
	if r.code != http.StatusOK {
		t.Fatalf("GET /api/albums with the cookie: %d %s", r.code, r.body)
	}
	if got := albumNames(decode[albumList](t, r.body)); got != "[csrf renamed csrf new]" {
		t.Errorf("albums after the CSRF attempts: %s", got)
	}

	// A script with HTTP Basic has no cookie a foreign page could ride, so no token.
	if r := f.send(t, http.MethodPost, "/api/albums", req{basic: alice, ctype: "application/json", body: strings.NewReader(`{"name":"script"}`)}); r.code != http.StatusCreated {
		t.Errorf("HTTP Basic POST without token: %d %s, want 201", r.code, r.body)
	}
}

// TestSignedOutRefused walks every route class: none may answer without an account.
func TestSignedOutRefused(t *testing.T) {
	f := newFixture(t)
	// Each request a minute apart, so the sign-in limiter never turns a 401 into a 429.
	c := &clock{now: time.Now()}
	f.api.Now = c.Now
	x := "/" + url.PathEscape(seed[0].ImageID)
	routes := []struct{ method, path string }{
		{http.MethodGet, "/api/albums"},
		{http.MethodPost, "/api/albums"},
		{http.MethodPatch, "/api/albums/trip"},
		{http.MethodDelete, "/api/albums/trip"},
		{http.MethodGet, "/api/albums/trip/images"},
		{http.MethodPost, "/api/images"},
		{http.MethodGet, "/api/images"},
		{http.MethodGet, "/api/images" + x},
		{http.MethodGet, "/api/images" + x + "/progress"},
		{http.MethodPost, "/api/images" + x + "/decision"},
		{http.MethodPost, "/api/images" + x + "/rerun"},
		{http.MethodGet, "/api/reviews"},
		{http.MethodPost, "/api/reviews/decisions"},
		{http.MethodGet, "/api/failures"},
		{http.MethodGet, "/media/thumbnail" + x},
		{http.MethodGet, "/media/original" + x},
		{http.MethodPost, "/api/logout"},
	}
	for _, who := range []struct {
		name string
		q    req
	}{
		{"no credentials", req{}},
		{"unknown cookie", req{token: "forged-token", origin: f.srv.URL, csrf: "x"}},
		{"wrong Basic password", req{header: map[string]string{"Authorization": "Basic " + basicToken(bob, "nope")}}},
	} {
		for _, rt := range routes {
			q := who.q
			q.ctype, q.body = "application/json", strings.NewReader(`{"name":"x","decision":"approve","imageIDs":["a"]}`)
			c.Add(time.Minute)
			r := f.send(t, rt.method, rt.path, q)
			if r.code != http.StatusUnauthorized {
				t.Errorf("%s %s, %s: %d %s, want 401", rt.method, rt.path, who.name, r.code, r.body)
				continue
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("%s %s: 401 as %q", rt.method, rt.path, ct)
			}
		}
	}
	// An unknown name costs a full-cost bcrypt check (seconds under -race): one route will do,
	// since every route shares the middleware.
	nobody := req{header: map[string]string{"Authorization": "Basic " + basicToken("nobody", password)}}
	if r := f.send(t, http.MethodGet, "/api/albums", nobody); r.code != http.StatusUnauthorized {
		t.Errorf("HTTP Basic for an unknown name: %d %s, want 401", r.code, r.body)
	}
	// The mock Temporal client fails the test on any call, and the album is untouched.
	if al, err := f.api.Accounts.GetAlbum(context.Background(), alice, "trip"); err != nil || al.Name != "trip" || al.Deleting {
		t.Errorf("alice's album after signed-out changes: %+v, %v", al, err)
	}
}
