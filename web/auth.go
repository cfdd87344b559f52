package web

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
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
	client := a.clientIP(r)
	now := a.now()
	if !a.limiter().allow(client, name, now) {
		return store.User{}, errTooManyAttempts
	}
	u, err := a.Accounts.GetUser(r.Context(), name)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			// Spend the same time as a real check, so timing does not reveal names.
			_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
			// The name is left out: what was typed as a name is sometimes a password.
			a.log().Info("sign-in failed: no such account", "client", client)
			a.failed(client, name, "", now)
			return store.User{}, errBadCredentials
		}
		return store.User{}, err
	}
	if bcrypt.CompareHashAndPassword(u.PasswordHash, []byte(password)) != nil {
		a.log().Info("sign-in failed: wrong password", "client", client, "user", u.Name)
		a.failed(client, name, u.Name, now)
		return store.User{}, errBadCredentials
	}
	a.limiter().reset(client, name)
	return u, nil
}

// failed counts a failed sign-in, and says so once when it closes the door, rather than
// on every refusal after, which an attacker could repeat at no cost to fill the log.
func (a *API) failed(client, name, account string, now time.Time) {
	if !a.limiter().fail(client, name, now) {
		return
	}
	args := []any{"client", client}
	if account != "" {
		args = append(args, "user", account)
	}
	a.log().Warn("sign-in limit reached: further attempts refused for a minute", args...)
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
				a.log().Warn("change refused: foreign origin", "user", p.User.Name, "method", r.Method, "path", r.URL.Path)
				writeError(w, http.StatusForbidden, errors.New("cross-origin request refused"))
				return
			}
			// Header only: reading a form here would parse an upload before its size check.
			tok := r.Header.Get("X-CSRF-Token")
			if subtle.ConstantTimeCompare([]byte(tok), []byte(p.Session.CSRF)) != 1 {
				a.log().Warn("change refused: missing or wrong CSRF token", "user", p.User.Name, "method", r.Method, "path", r.URL.Path)
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
	a.log().Info("first account created", "user", u.Name, "role", u.Role)
	a.startSession(w, r, u)
}

// startSession signs u in with a new session. A session the browser already holds is
// ended first: a sign-in never keeps or upgrades a token from before it.
func (a *API) startSession(w http.ResponseWriter, r *http.Request, u store.User) {
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		if err := a.Accounts.DeleteSession(r.Context(), tokenHash(c.Value)); err != nil {
			a.log().Error("sign-in: could not end the previous session", "user", u.Name, "error", err)
		}
	}
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

// clientIP names the client for the sign-in limiter. It is the connection's address,
// unless that is one of TrustedProxies: then it is the nearest X-Forwarded-For entry that
// is not a trusted proxy, since anything left of that was written by the client itself.
// IPv6 clients count by /64, the block one subscriber usually holds.
func (a *API) clientIP(r *http.Request) string {
	addr, ok := parseAddr(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	if a.trusted(addr) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop, ok := parseAddr(strings.TrimSpace(hops[i]))
			if !ok {
				break // not written by a proxy we know: stay with the last trusted hop
			}
			addr = hop
			if !a.trusted(hop) {
				break
			}
		}
	}
	if addr.Is6() && !addr.Is4In6() {
		if p, err := addr.Prefix(64); err == nil {
			return p.String()
		}
	}
	return addr.Unmap().String()
}

func (a *API) trusted(addr netip.Addr) bool {
	for _, p := range a.TrustedProxies {
		if p.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}

// parseAddr reads "host:port", "[v6]:port" or a bare address.
func parseAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}

// loginLimiter allows a few failed sign-ins per client and name per window, and a few more
// per client across names, so one client cannot try one password on every account. Its
// memory is bounded: entries older than the window are swept once a window, and at
// maxKeys entries a client it does not know yet is refused until the sweep makes room,
// rather than let a flood of made-up names or addresses grow the map without end.
type loginLimiter struct {
	mu        sync.Mutex
	failures  map[string][]time.Time
	lastSweep time.Time
	maxKeys   int // 0: defaultLoginMaxKeys
}

const (
	loginWindow            = time.Minute
	loginMaxFailures       = 5  // per client and name
	loginMaxClientFailures = 30 // per client, across names
	defaultLoginMaxKeys    = 100_000
)

// limiterKeys are the map keys of one attempt. The name is hashed: it is whatever the
// client sent, up to the body limit, and the map should not keep kilobytes of it.
func limiterKeys(client, name string) (byName, byClient string) {
	sum := sha256.Sum256([]byte(name))
	return "n\x00" + client + "\x00" + hex.EncodeToString(sum[:16]), "c\x00" + client
}

// recent drops key's failures older than the window and counts the rest; l.mu is held.
func (l *loginLimiter) recent(key string, now time.Time) int {
	kept := l.failures[key][:0]
	for _, t := range l.failures[key] {
		if now.Sub(t) < loginWindow {
			kept = append(kept, t)
		}
	}
	if len(kept) == 0 {
		delete(l.failures, key)
	} else {
		l.failures[key] = kept
	}
	return len(kept)
}

// sweep forgets every entry older than the window, at most once a window; l.mu is held.
func (l *loginLimiter) sweep(now time.Time) {
	if since := now.Sub(l.lastSweep); since >= 0 && since < loginWindow {
		return // a clock that went back sweeps again, rather than never
	}
	l.lastSweep = now
	for key := range l.failures {
		l.recent(key, now)
	}
}

func (l *loginLimiter) full(keys ...string) bool {
	limit := cmp.Or(l.maxKeys, defaultLoginMaxKeys)
	if len(l.failures) < limit {
		return false
	}
	for _, k := range keys {
		if _, ok := l.failures[k]; !ok {
			return true
		}
	}
	return false
}

func (l *loginLimiter) allow(client, name string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	byName, byClient := limiterKeys(client, name)
	if l.full(byName, byClient) {
		return false
	}
	return l.recent(byName, now) < loginMaxFailures && l.recent(byClient, now) < loginMaxClientFailures
}

// fail counts a failure, and reports whether it is the one that reaches a limit.
func (l *loginLimiter) fail(client, name string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failures == nil {
		l.failures = map[string][]time.Time{}
	}
	l.sweep(now)
	byName, byClient := limiterKeys(client, name)
	if l.full(byName, byClient) {
		return false
	}
	l.failures[byName] = append(l.failures[byName], now)
	l.failures[byClient] = append(l.failures[byClient], now)
	return l.recent(byName, now) == loginMaxFailures || l.recent(byClient, now) == loginMaxClientFailures
}

// reset forgets the name's failures after a right password; the client's count across
// names stays, or one account of its own would let a client try every other account.
func (l *loginLimiter) reset(client, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	byName, _ := limiterKeys(client, name)
	delete(l.failures, byName)
}

// size is how many entries the limiter holds.
func (l *loginLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.failures)
}
