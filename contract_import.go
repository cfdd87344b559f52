package photoflow

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Bulk import: the BucketSync workflow copies a source prefix into an album, the Temporal
// form of the workshop's "sync-buckets" state machine.
const (
	BucketSyncWorkflow = "BucketSync"

	ListSourcePageActivity = "ListSourcePage"
	SyncObjectActivity     = "SyncObject"

	// SyncPauseSignal stops scheduling copies (those in flight finish); SyncResumeSignal
	// starts again; SyncCancelSignal stops for good and ends with a cancelled summary.
	SyncPauseSignal  = "pause"
	SyncResumeSignal = "resume"
	SyncCancelSignal = "cancel"
	// SyncProgressQuery returns a SyncProgress.
	SyncProgressQuery = "progress"
)

// StagingPrefix holds files a client uploads for an import before BucketSync copies them
// into the album. It is outside IncomingPrefix, so staging never starts a run by itself.
const StagingPrefix = "Staging/"

// Object metadata written on imported copies, besides the user, album and file name.
const (
	// ObjectMetaSourceETag is the source's ETag: a copy's own ETag may differ from it
	// (multipart or KMS-encrypted sources), so the next sync compares this one too.
	ObjectMetaSourceETag = "source-etag"
	ObjectMetaImportID   = "import-id"
)

// Import defaults.
const (
	DefaultSyncConcurrency = 8
	DefaultSyncPageSize    = 1000
	DefaultSyncMaxPerRun   = 500
	// SyncRecentErrors is how many failure reasons the progress and summary keep.
	SyncRecentErrors = 10
)

// BucketSyncWorkflowID is the one BucketSync of an import: starting it again joins it.
func BucketSyncWorkflowID(importID string) string { return "import:" + importID }

// StagingKeyPrefix is where an import's uploaded files wait to be synced.
func StagingKeyPrefix(importID string) string { return StagingPrefix + importID + "/" }

// SyncInput starts (or, with State, continues) a BucketSync run.
type SyncInput struct {
	ImportID     string `json:"importID"`
	SourceBucket string `json:"sourceBucket"`
	SourcePrefix string `json:"sourcePrefix"`
	DestBucket   string `json:"destBucket"`
	UserID       string `json:"userID"`
	AlbumID      string `json:"albumID"`
	// Concurrency is how many SyncObject activities may run at once (default 8).
	Concurrency int `json:"concurrency,omitempty"`
	// PageSize is the listing page (default and maximum 1000).
	PageSize int `json:"pageSize,omitempty"`
	// MaxPerRun is how many objects one run handles before it continues as new (default
	// 500), which keeps each run's history far below Temporal's limits.
	MaxPerRun int `json:"maxPerRun,omitempty"`
	// State is carried from one run of the chain to the next; zero for a new import.
	State SyncState `json:"state"`
}

// SyncCounters are an import's running totals.
type SyncCounters struct {
	// Listed objects (folder markers excluded).
	Listed int `json:"listed"`
	// Copied into the album; Skipped because the album already held the same content.
	Copied  int `json:"copied"`
	Skipped int `json:"skipped"`
	// Started counts ImageProcessing runs this import created; a copy whose run already
	// existed adds nothing.
	Started int `json:"started"`
	// Failed objects, with the latest reasons in RecentErrors.
	Failed       int      `json:"failed"`
	RecentErrors []string `json:"recentErrors,omitempty"`
}

// Done is how many listed objects are finished, one way or another.
func (c SyncCounters) Done() int { return c.Copied + c.Skipped + c.Failed }

// SyncState is what a BucketSync run hands to the next one when it continues as new.
type SyncState struct {
	SyncCounters
	// ContinuationToken lists the next page; when empty, StartAfter (the last key handled)
	// resumes the listing, which is how a run that stopped mid-page continues.
	ContinuationToken string `json:"continuationToken,omitempty"`
	StartAfter        string `json:"startAfter,omitempty"`
	ListingDone       bool   `json:"listingDone,omitempty"`
	Pages             int    `json:"pages"`
	// Paused carries a pause across continue-as-new.
	Paused    bool      `json:"paused,omitempty"`
	StartedAt time.Time `json:"startedAt"`
	// Runs counts the runs of the chain before this one.
	Runs int `json:"runs"`
}

// SourceObject is one listed object to sync.
type SourceObject struct {
	Key  string `json:"key"`
	ETag string `json:"etag"`
	Size int64  `json:"size"`
}

// ListPageInput asks ListSourcePage for one page.
type ListPageInput struct {
	Bucket            string `json:"bucket"`
	Prefix            string `json:"prefix"`
	ContinuationToken string `json:"continuationToken,omitempty"`
	StartAfter        string `json:"startAfter,omitempty"`
	PageSize          int    `json:"pageSize"`
	// DestBucket is checked to exist, so a wrong bucket fails the import at once instead of
	// failing every object.
	DestBucket string `json:"destBucket"`
}

// SourcePage is one page of the source listing.
type SourcePage struct {
	Objects []SourceObject `json:"objects"`
	// NextContinuationToken is empty on the last page.
	NextContinuationToken string `json:"nextContinuationToken,omitempty"`
	// Ignored counts folder markers (keys ending in "/") left out of Objects.
	Ignored int `json:"ignored,omitempty"`
}

// SyncObjectInput asks SyncObject to bring one object into the album.
type SyncObjectInput struct {
	ImportID     string       `json:"importID"`
	SourceBucket string       `json:"sourceBucket"`
	SourcePrefix string       `json:"sourcePrefix"`
	Object       SourceObject `json:"object"`
	DestBucket   string       `json:"destBucket"`
	UserID       string       `json:"userID"`
	AlbumID      string       `json:"albumID"`
}

// SyncObjectResult is what SyncObject did.
type SyncObjectResult struct {
	DestKey  string `json:"destKey"`
	DestETag string `json:"destETag"`
	// Copied is false when the album already held the same content.
	Copied bool `json:"copied"`
	// Started is true when this call created the object's ImageProcessing run.
	Started    bool   `json:"started"`
	WorkflowID string `json:"workflowId,omitempty"`
}

// SyncProgress answers SyncProgressQuery.
type SyncProgress struct {
	ImportID string `json:"importID"`
	SyncCounters
	InFlight    int  `json:"inFlight"`
	Pages       int  `json:"pages"`
	ListingDone bool `json:"listingDone"`
	Paused      bool `json:"paused"`
	// Cancelling: a cancel was received and the copies in flight are finishing.
	Cancelling bool          `json:"cancelling"`
	StartedAt  time.Time     `json:"startedAt"`
	Elapsed    time.Duration `json:"elapsed"`
	// RatePerSec is finished objects per second since the import started.
	RatePerSec float64 `json:"ratePerSec"`
	// ETA is the time left for the objects listed so far at RatePerSec; zero until there
	// is a rate. ETAPartial is true while the listing goes on, so more work may follow.
	ETA        time.Duration `json:"eta"`
	ETAPartial bool          `json:"etaPartial"`
	Runs       int           `json:"runs"`
}

// SyncSummary is BucketSync's result.
type SyncSummary struct {
	ImportID string `json:"importID"`
	SyncCounters
	Pages      int           `json:"pages"`
	StartedAt  time.Time     `json:"startedAt"`
	FinishedAt time.Time     `json:"finishedAt"`
	Duration   time.Duration `json:"duration"`
	Cancelled  bool          `json:"cancelled"`
	Runs       int           `json:"runs"`
}

// maxImportFileName matches the pipeline's limit on an uploaded file's name.
const maxImportFileName = 200

// ImportFileName names a source object inside the album. Albums are flat
// (Incoming/<user>/<album>/<file>, as every upload), so the key's path below the source
// prefix is flattened with "_": "2019/rome/IMG_1.jpg" becomes "2019_rome_IMG_1.jpg". The name
// can hold no "/", so the key stays inside the album whatever the source key is; ".."
// segments are harmless once flattened. Names over 200 bytes keep their tail behind a short
// hash of the whole path, so distinct long paths stay distinct.
func ImportFileName(sourcePrefix, key string) (string, error) {
	rel := strings.TrimPrefix(key, sourcePrefix)
	var parts []string
	for _, p := range strings.Split(strings.ReplaceAll(rel, `\`, "/"), "/") {
		if p != "" && p != "." {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("key %q has no file name below prefix %q", key, sourcePrefix)
	}
	name := strings.Join(parts, "_")
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("key %q is not valid UTF-8", key)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "", fmt.Errorf("key %q has control characters", key)
		}
	}
	if name == ".." {
		return "", fmt.Errorf("key %q has no usable file name", key)
	}
	if len(name) > maxImportFileName {
		sum := sha256.Sum256([]byte(rel))
		tail := path.Base(strings.Join(parts, "/"))
		head := hex.EncodeToString(sum[:6]) + "_"
		if len(tail) > maxImportFileName-len(head) {
			// Keep the extension: the tail's end is what says what the file is.
			tail = tail[len(tail)-(maxImportFileName-len(head)):]
			for !utf8.ValidString(tail) {
				tail = tail[1:]
			}
		}
		name = head + tail
	}
	return name, nil
}
