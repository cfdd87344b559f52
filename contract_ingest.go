package photoflow

import (
	"strings"
	"time"
)

// Names of the bucket watcher: the workflow that lists Incoming/ now and then and starts the
// runs that an S3 event should have started, so a lost or never-configured notification
// heals by itself.
const (
	BucketWatcherWorkflow = "BucketWatcher"
	ScanIncomingActivity  = "ScanIncoming"
	// WatcherStatusQuery returns a WatcherStatus.
	WatcherStatusQuery = "watcher-status"
)

// Bucket watcher defaults, applied when a WatcherInput leaves them zero.
const (
	DefaultWatchInterval = 5 * time.Minute
	// DefaultSettleAge leaves alone objects newer than this: a multipart upload may still be
	// completing, and a fresh object's S3 event is usually a moment away, so the watcher
	// does not race the event for every upload.
	DefaultSettleAge = 2 * time.Minute
	// DefaultWatcherIterations is how many scans one run makes before it continues as new,
	// which keeps its history a few hundred events long.
	DefaultWatcherIterations = 100
)

// BucketWatcherWorkflowID is the one watcher of a bucket: starting it again (with
// USE_EXISTING) joins the running one instead of adding a second scanner.
func BucketWatcherWorkflowID(bucket string) string { return "bucket-watcher:" + bucket }

// IsUploadKey reports whether key is an upload a run may take: under IncomingPrefix and
// naming an object, not a "folder" (the empty key ending in '/' that consoles create), which
// would only fail as an empty file.
func IsUploadKey(key string) bool {
	return strings.HasPrefix(key, IncomingPrefix) && len(key) > len(IncomingPrefix) && !strings.HasSuffix(key, "/")
}

// WatcherInput starts (or continues) a BucketWatcher.
type WatcherInput struct {
	Bucket string `json:"bucket"`
	// Interval is the pause between the end of one scan and the start of the next.
	Interval time.Duration `json:"interval,omitempty"`
	// SettleAge: objects modified more recently than this are left for the next scan.
	SettleAge time.Duration `json:"settleAge,omitempty"`
	// Iterations is the number of scans per run before continue-as-new.
	Iterations int `json:"iterations,omitempty"`
	// PageSize is the listing page size (S3's own 1000 when zero).
	PageSize int `json:"pageSize,omitempty"`
	// Status is what earlier runs of this chain saw, carried across continue-as-new so the
	// query's totals cover the watcher's whole life.
	Status WatcherStatus `json:"status"`
}

// ScanInput asks ScanIncoming for one pass over Incoming/.
type ScanInput struct {
	Bucket    string        `json:"bucket"`
	SettleAge time.Duration `json:"settleAge"`
	// PageSize bounds one ListObjectsV2 page; zero is S3's default (1000).
	PageSize int `json:"pageSize,omitempty"`
	// Now, when set, is the reference time for SettleAge instead of the worker's clock, so a
	// scan of a fixed moment (a test, a replayed incident) is reproducible.
	Now time.Time `json:"now,omitempty"`
}

// ScanResult counts what one scan (or, summed, a watcher's life) found.
type ScanResult struct {
	// Listed counts every object under Incoming/ the scan saw.
	Listed int `json:"listed"`
	// TooYoung were newer than SettleAge and left for a later scan.
	TooYoung int `json:"tooYoung"`
	// AlreadyRecorded have a record for the same content: nothing to do.
	AlreadyRecorded int `json:"alreadyRecorded"`
	// Started had no record and no run: the watcher started one.
	Started int `json:"started"`
	// Duplicates had no record yet but a run (still going, or ended without a record).
	Duplicates int `json:"duplicates"`
	// Skipped are keys no run should take: folder markers ("…/") and bare prefixes.
	Skipped int `json:"skipped"`
	// Vanished were deleted between the listing and their start.
	Vanished int `json:"vanished"`
	// Failed could not be checked or started; the next scan tries them again.
	Failed int `json:"failed"`
	// LastError is the most recent of the Failed errors.
	LastError string `json:"lastError,omitempty"`
}

// Add sums two results; LastError keeps the later one's when it has one.
func (r ScanResult) Add(o ScanResult) ScanResult {
	r.Listed += o.Listed
	r.TooYoung += o.TooYoung
	r.AlreadyRecorded += o.AlreadyRecorded
	r.Started += o.Started
	r.Duplicates += o.Duplicates
	r.Skipped += o.Skipped
	r.Vanished += o.Vanished
	r.Failed += o.Failed
	if o.LastError != "" {
		r.LastError = o.LastError
	}
	return r
}

// WatcherStatus answers WatcherStatusQuery.
type WatcherStatus struct {
	Bucket string `json:"bucket"`
	// Scans counts finished scans, failed ones included, over the whole chain.
	Scans int `json:"scans"`
	// FailedScans counts scans whose activity failed on every attempt.
	FailedScans int `json:"failedScans"`
	// LastScan is when the last scan finished (zero before the first).
	LastScan time.Time `json:"lastScan"`
	// Last is what the last successful scan found.
	Last ScanResult `json:"last"`
	// LastError is the last failed scan's error, cleared by a successful scan.
	LastError string `json:"lastError,omitempty"`
	// Totals sums every successful scan of the chain.
	Totals ScanResult `json:"totals"`
	// NextScan is when the watcher wakes next (zero while a scan runs).
	NextScan time.Time `json:"nextScan"`
}

// EventsResult is what one delivery of S3 event notifications did: the answer of
// POST /api/s3-events.
type EventsResult struct {
	Started int `json:"started"`
	// Duplicates already had a run: a repeated delivery, or the upload API started it.
	Duplicates int `json:"duplicates"`
	// Ignored are events for other buckets, keys outside Incoming/ and folder markers.
	Ignored int            `json:"ignored"`
	Failed  []EventFailure `json:"failed"`
}

// EventFailure is one object whose run could not be started.
type EventFailure struct {
	Key   string `json:"key"`
	Error string `json:"error"`
}
