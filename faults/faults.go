// Package faults injects the failures production backends have: throttling, server errors,
// calls that hang, and permanent refusals, at configurable rates, into the object store, the
// metadata store and the vision service that activities use. It exists to prove, on one
// machine, that the pipeline's retry policies and error classification hold: every injected
// fault has the shape the real service would give (an S3 error document over HTTP, an AWS
// error code with its fault side), so it travels the same code paths as a real one.
//
// Nothing is injected unless a Spec with a non-zero rate is configured (worker --faults).
package faults

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/smithy-go"
)

// Kinds of fault.
const (
	// Throttle is "slow down": S3's 503 SlowDown, DynamoDB's
	// ProvisionedThroughputExceededException, Rekognition's ThrottlingException.
	Throttle = "throttle"
	// ServerError is a 5xx: S3's 500 InternalError, an AWS InternalServerError.
	ServerError = "5xx"
	// Hang is a call that never answers until its caller gives up (the activity's
	// StartToClose deadline), as a stuck connection does.
	Hang = "hang"
	// Permanent is a refusal no retry fixes (AccessDenied): the pipeline must fail the
	// image at once with the error recorded.
	Permanent = "permanent"
)

// Targets faults can be injected into.
const (
	Objects = "objects"
	Store   = "store"
	Vision  = "vision"
)

var (
	allKinds   = []string{Throttle, ServerError, Hang, Permanent}
	allTargets = []string{Objects, Store, Vision}
)

// Spec says how often each kind of fault happens, per call, and where.
type Spec struct {
	// Rates maps a kind to its probability per call (0–1); the sum must not exceed 1.
	Rates map[string]float64
	// Targets are the backends faults go into; empty means all of them.
	Targets []string
	// Seed makes the sequence of faults repeatable; 0 picks one at random.
	Seed uint64
}

// ParseSpec reads "throttle=0.1,5xx=0.1,hang=0.05,permanent=0,targets=objects+store,seed=7".
// An empty string is the zero Spec (no faults).
func ParseSpec(s string) (Spec, error) {
	var sp Spec
	if strings.TrimSpace(s) == "" {
		return sp, nil
	}
	sp.Rates = map[string]float64{}
	total := 0.0
	for part := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return Spec{}, fmt.Errorf("faults: %q is not KIND=RATE", part)
		}
		switch {
		case k == "targets":
			for t := range strings.SplitSeq(v, "+") {
				if !slices.Contains(allTargets, t) {
					return Spec{}, fmt.Errorf("faults: unknown target %q (want %s)", t, strings.Join(allTargets, ", "))
				}
				sp.Targets = append(sp.Targets, t)
			}
		case k == "seed":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return Spec{}, fmt.Errorf("faults: seed %q: %w", v, err)
			}
			sp.Seed = n
		case slices.Contains(allKinds, k):
			r, err := strconv.ParseFloat(v, 64)
			if err != nil || r < 0 || r > 1 {
				return Spec{}, fmt.Errorf("faults: %s rate %q must be a number from 0 to 1", k, v)
			}
			sp.Rates[k] = r
			total += r
		default:
			return Spec{}, fmt.Errorf("faults: unknown kind %q (want %s, targets or seed)", k, strings.Join(allKinds, ", "))
		}
	}
	if total > 1 {
		return Spec{}, fmt.Errorf("faults: rates add up to %.2f, more than 1", total)
	}
	return sp, nil
}

// Enabled reports whether the Spec injects anything.
func (sp Spec) Enabled() bool {
	for _, r := range sp.Rates {
		if r > 0 {
			return true
		}
	}
	return false
}

// Injects reports whether target is one of the Spec's targets.
func (sp Spec) Injects(target string) bool {
	return sp.Enabled() && (len(sp.Targets) == 0 || slices.Contains(sp.Targets, target))
}

// String is the Spec in ParseSpec's form.
func (sp Spec) String() string {
	var parts []string
	for _, k := range allKinds {
		if r := sp.Rates[k]; r > 0 {
			parts = append(parts, k+"="+strconv.FormatFloat(r, 'g', -1, 64))
		}
	}
	if len(sp.Targets) > 0 {
		parts = append(parts, "targets="+strings.Join(sp.Targets, "+"))
	}
	if sp.Seed != 0 {
		parts = append(parts, "seed="+strconv.FormatUint(sp.Seed, 10))
	}
	return strings.Join(parts, ",")
}

// Injector draws faults and counts them. It is safe for concurrent use.
type Injector struct {
	spec Spec
	mu   sync.Mutex
	rng  *rand.Rand
	// counts[target][kind], plus calls per target; fixed keys, so reads need no lock.
	counts map[string]map[string]*atomic.Int64
	calls  map[string]*atomic.Int64
}

// New returns an Injector for spec.
func New(spec Spec) *Injector {
	seed := spec.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	in := &Injector{spec: spec, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		counts: map[string]map[string]*atomic.Int64{}, calls: map[string]*atomic.Int64{}}
	for _, t := range allTargets {
		in.calls[t] = new(atomic.Int64)
		in.counts[t] = map[string]*atomic.Int64{}
		for _, k := range allKinds {
			in.counts[t][k] = new(atomic.Int64)
		}
	}
	return in
}

// Spec returns the injector's Spec.
func (in *Injector) Spec() Spec { return in.spec }

// draw decides the fault of one call to target: "" for none.
func (in *Injector) draw(target string) string {
	if in == nil || !in.spec.Injects(target) {
		return ""
	}
	in.calls[target].Add(1)
	in.mu.Lock()
	x := in.rng.Float64()
	in.mu.Unlock()
	for _, k := range allKinds {
		r := in.spec.Rates[k]
		if x < r {
			in.counts[target][k].Add(1)
			return k
		}
		x -= r
	}
	return ""
}

// Counts is how many calls each target saw and how many faults of each kind it was given.
type Counts struct {
	Calls  map[string]int64            `json:"calls"`
	Faults map[string]map[string]int64 `json:"faults"`
}

// Total is the number of faults injected into all targets.
func (c Counts) Total() int64 {
	var n int64
	for _, byKind := range c.Faults {
		for _, v := range byKind {
			n += v
		}
	}
	return n
}

// Kind is the number of faults of one kind across targets.
func (c Counts) Kind(kind string) int64 {
	var n int64
	for _, byKind := range c.Faults {
		n += byKind[kind]
	}
	return n
}

// Counts returns what has been injected so far.
func (in *Injector) Counts() Counts {
	c := Counts{Calls: map[string]int64{}, Faults: map[string]map[string]int64{}}
	for _, t := range allTargets {
		c.Calls[t] = in.calls[t].Load()
		c.Faults[t] = map[string]int64{}
		for _, k := range allKinds {
			c.Faults[t][k] = in.counts[t][k].Load()
		}
	}
	return c
}

// APIError is an injected error as an AWS SDK reports a service's answer, so the
// activities classify it exactly as they would the real one.
type APIError struct {
	Code    string
	Message string
	Fault   smithy.ErrorFault
}

func (e *APIError) Error() string {
	return fmt.Sprintf("injected fault: api error %s: %s", e.Code, e.Message)
}

// ErrorCode implements smithy.APIError.
func (e *APIError) ErrorCode() string { return e.Code }

// ErrorMessage implements smithy.APIError.
func (e *APIError) ErrorMessage() string { return e.Message }

// ErrorFault implements smithy.APIError.
func (e *APIError) ErrorFault() smithy.ErrorFault { return e.Fault }

var _ smithy.APIError = (*APIError)(nil)

// ErrInjected is wrapped by every injected error, so tests and logs can tell them apart.
var ErrInjected = errors.New("injected fault")

// Is lets errors.Is(err, ErrInjected) find injected API errors.
func (e *APIError) Is(target error) bool { return target == ErrInjected }

// apiError builds the error a service with the given throttling code would return for
// kind; hang is handled by the caller.
func apiError(kind, throttleCode, op string) error {
	switch kind {
	case Throttle:
		return &APIError{Code: throttleCode, Message: op + ": rate exceeded", Fault: smithy.FaultClient}
	case ServerError:
		return &APIError{Code: "InternalServerError", Message: op + ": internal error", Fault: smithy.FaultServer}
	case Permanent:
		return &APIError{Code: "AccessDeniedException", Message: op + ": not authorized", Fault: smithy.FaultClient}
	}
	return nil
}

// hang blocks until ctx ends, as a call on a dead connection does, and returns its error.
// A context without a deadline would hang forever, so a long cap applies.
func hang(ctx context.Context) error {
	t := time.NewTimer(10 * time.Minute)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("%w: call hung: %w", ErrInjected, ctx.Err())
	case <-t.C:
		return fmt.Errorf("%w: call hung for 10 minutes", ErrInjected)
	}
}
