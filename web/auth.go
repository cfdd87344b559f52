package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"photoflow/pipeline"
	"photoflow/store"
)

// SessionCookie names the session cookie.
const SessionCookie = "photoflow_session"

// sessionTTL is how long a sign-in lasts.
const sessionTTL = 7 * 24 * time.Hour

// BcryptCost is the password hash cost: ~50 ms a check on this class of machine, slow
// enough to make a stolen hash expensive, fast enough for a sign-in.
const BcryptCost = 11

// HashPassword is the one way passwords become stored hashes.
func HashPassword(password string) ([]byte, error) {
	if len(password) < 8 {
		return nil, errors.New("password must be at least 8 characters")
	}
	if len(password) > 72 {
		return nil, errors.New("password must be at most 72 bytes")
	}
	return bcrypt.GenerateFromPassword([]byte(password), BcryptCost)
}

// principal is who a request acts as.
type principal struct {
	User    store.User
	Session *store.Session // nil for HTTP Basic (scripts): no cookie, so no CSRF
}

func (p *principal) reviewer() bool { return p.User.Role == store.RoleReviewer }

type ctxKey struct{}

func who(r *http.Request) *principal {
	p, _ := r.Context().Value(ctxKey{}).(*principal)
	return p
}

// authenticate finds the principal from the session cookie or HTTP Basic credentials.
func (a *API) authenticate(r *http.Request) (*principal, error) {
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		se, err := a.Accounts.GetSession(r.Context(), tokenHash(c.Value), a.now())
		if err != nil {
			return nil, err
		}
		u, err := a.Accounts.GetUser(r.Context(), se.UserName)
		if err != nil {
			return nil, err
		}
		return &principal{User: u, Session: &se}, nil
	}
	if name, pw, ok := r.BasicAuth(); ok {
		u, err := a.checkPassword(r, name, pw)
		if err != nil {
			return nil, err
		}
		return &principal{User: u}, nil
	}
	return nil, store.ErrNotFound
}

// errBadCredentials is the one answer to a wrong name or a wrong password, so neither
// reveals which accounts exist.
var errBadCredentials = errors.New("wrong name or password")

// errTooManyAttempts is the limiter's refusal.
var errTooManyAttempts = errors.New("too many sign-in attempts; wait a minute")

func (a *API) checkPassword(r *http.Request, name, password string) (store.User, error) {
	key := clientIP(r) + "\x00" + name
	if !a.limiter().allow(key, a.now()) {
		return store.User{}, errTooManyAttempts
	}
	u, err := a.Accounts.GetUser(r.Context(), name)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			// Spend the same time as a real check, so timing does not reveal names.
			_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
			a.limiter().fail(key, a.now())
			return store.User{}, errBadCredentials
		}
		return store.User{}, err
	}
	if bcrypt.CompareHashAndPassword(u.PasswordHash, []byte(password)) != nil {
		a.limiter().fail(key, a.now())
		return store.User{}, errBadCredentials
	}
	a.limiter().reset(key)
	return u, nil
}

var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("not a password of anyone"), BcryptCost)
	return h
})

// requireUser wraps a handler that needs a signed-in user; with reviewer set, a reviewer.
// State-changing requests with a cookie session must carry the session's CSRF token.
func (a *API) requireUser(reviewer bool, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := a.authenticate(r)
		switch {
		case errors.Is(err, errTooManyAttempts):
			writeError(w, http.StatusTooManyRequests, err)
			return
		case errors.Is(err, store.ErrNotFound), errors.Is(err, errBadCredentials):
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "sign in first"})
			return
		case err != nil:
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		if p.Session != nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !sameOrigin(r) {
				writeError(w, http.StatusForbidden, errors.New("cross-origin request refused"))
				return
			}
			// Header only: reading a form here would parse an upload before its size check.
			tok := r.Header.Get("X-CSRF-Token")
			if subtle.ConstantTimeCompare([]byte(tok), []byte(p.Session.CSRF)) != 1 {
				writeError(w, http.StatusForbidden, errors.New("missing or wrong CSRF token"))
				return
			}
		}
		if reviewer && !p.reviewer() {
			writeError(w, http.StatusForbidden, errors.New("reviewers only"))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, p)))
	}
}

// sessionResponse is what the browser learns about itself.
type sessionResponse struct {
	User struct {
		Name string `json:"name"`
		Role string `json:"role"`
	} `json:"user"`
	CSRF       string `json:"csrf,omitempty"`
	TemporalUI string `json:"temporalUI"`
	MaxUpload  int64  `json:"maxUpload"`
}

func (a *API) sessionBody(u store.User, csrf string) sessionResponse {
	var s sessionResponse
	s.User.Name, s.User.Role = u.Name, u.Role
	s.CSRF, s.TemporalUI, s.MaxUpload = csrf, a.TemporalUI, a.maxUpload()
	return s
}

func (a *API) getSession(w http.ResponseWriter, r *http.Request) {
	p, err := a.authenticate(r)
	if err != nil {
		n, cerr := a.Accounts.CountUsers(r.Context())
		if cerr != nil {
			writeError(w, http.StatusInternalServerError, cerr)
			return
		}
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "sign in first", "setupRequired": n == 0})
		return
	}
	csrf := ""
	if p.Session != nil {
		csrf = p.Session.CSRF
	}
	writeJSON(w, http.StatusOK, a.sessionBody(p.User, csrf))
}

type credentials struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

// readCredentials insists on JSON: a cross-site HTML form cannot send it without a CORS
// preflight, which is what protects the sign-in forms that have no CSRF token yet.
func readCredentials(w http.ResponseWriter, r *http.Request) (credentials, bool) {
	var c credentials
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || !sameOrigin(r) {
		writeError(w, http.StatusForbidden, errors.New("sign-in takes application/json from this site"))
		return c, false
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&c); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("expected {\"name\": …, \"password\": …}: %w", err))
		return c, false
	}
	return c, true
}

func (a *API) login(w http.ResponseWriter, r *http.Request) {
	c, ok := readCredentials(w, r)
	if !ok {
		return
	}
	u, err := a.checkPassword(r, c.Name, c.Password)
	switch {
	case errors.Is(err, errTooManyAttempts):
		writeError(w, http.StatusTooManyRequests, err)
		return
	case errors.Is(err, errBadCredentials):
		writeError(w, http.StatusUnauthorized, err)
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	a.startSession(w, r, u)
}

// setup creates the first account (a reviewer) when there is none.
func (a *API) setup(w http.ResponseWriter, r *http.Request) {
	c, ok := readCredentials(w, r)
	if !ok {
		return
	}
	if err := pipeline.CheckName("name", c.Name); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	hash, err := HashPassword(c.Password)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	u := store.User{Name: c.Name, Role: store.RoleReviewer, PasswordHash: hash, CreatedAt: a.now()}
	if err := a.Accounts.CreateUser(r.Context(), u, true); errors.Is(err, store.ErrExists) {
		writeError(w, http.StatusConflict, errors.New("setup is done already: sign in"))
		return
	} else if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	a.Log.Info("first account created", "user", u.Name, "role", u.Role)
	a.startSession(w, r, u)
}

func (a *API) startSession(w http.ResponseWriter, r *http.Request, u store.User) {
	token, csrf := randomToken(), randomToken()
	se := store.Session{TokenHash: tokenHash(token), UserName: u.Name, CSRF: csrf, ExpiresAt: a.now().Add(sessionTTL)}
	if err := a.Accounts.CreateSession(r.Context(), se); err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: token, Path: "/", HttpOnly: true,
		Secure: secureRequest(r), SameSite: http.SameSiteStrictMode, Expires: se.ExpiresAt})
	writeJSON(w, http.StatusOK, a.sessionBody(u, csrf))
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	if p := who(r); p != nil && p.Session != nil {
		if err := a.Accounts.DeleteSession(r.Context(), p.Session.TokenHash); err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true,
		Secure: secureRequest(r), SameSite: http.SameSiteStrictMode, MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
}

// secureRequest decides the cookie's Secure flag: over HTTPS (directly or behind a proxy
// that says so) always; on plain HTTP a browser would drop a Secure cookie, which only
// loopback may do without exposing it.
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// sameOrigin refuses requests whose Origin (or Referer) names another site.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		origin = r.Header.Get("Referer")
	}
	if origin == "" {
		return true // not a browser, or a same-origin GET-less client: CSRF needs a browser
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// loginLimiter allows a few failed sign-ins per client and name per window.
type loginLimiter struct {
	mu       sync.Mutex
	failures map[string][]time.Time
}

const (
	loginWindow      = time.Minute
	loginMaxFailures = 5
)

func (l *loginLimiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	recent := l.failures[key][:0]
	for _, t := range l.failures[key] {
		if now.Sub(t) < loginWindow {
			recent = append(recent, t)
		}
	}
	if len(recent) == 0 {
		delete(l.failures, key)
	} else {
		l.failures[key] = recent
	}
	return len(recent) < loginMaxFailures
}

func (l *loginLimiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failures == nil {
		l.failures = map[string][]time.Time{}
	}
	l.failures[key] = append(l.failures[key], now)
}

func (l *loginLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, key)
}
