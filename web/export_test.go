package web

import "time"

// RouteAccess is the API's routing table for the authorization tests: each pattern, and
// "public", "user" or "reviewer".
func RouteAccess(a *API) map[string]string {
	names := map[access]string{accessPublic: "public", accessUser: "user", accessReviewer: "reviewer"}
	out := map[string]string{}
	for _, rt := range a.routes() {
		out[rt.pattern] = names[rt.access]
	}
	return out
}

// LimiterAttempt is one failed sign-in as checkPassword counts it: refused (false) when
// the limiter says so, else counted.
func LimiterAttempt(a *API, client, name string, now time.Time) bool {
	if !a.limiter().allow(client, name, now) {
		return false
	}
	a.limiter().fail(client, name, now)
	return true
}

// LimiterSize is how many entries the sign-in limiter holds.
func LimiterSize(a *API) int { return a.limiter().size() }

// SetLimiterMaxKeys lowers the limiter's bound, so a test can reach it.
func SetLimiterMaxKeys(a *API, n int) { a.limiter().maxKeys = n }
