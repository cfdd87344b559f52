// Package photoflow is the contract shared by the worker, the starter, the web API and the
// tests: task queue, workflow, activity, signal, update and query names, search attribute keys,
// error types, and the structs that cross process boundaries. Nothing here does I/O, so every
// side may import it.
package photoflow

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
)

// TaskQueue is where image workflows and their activities run.
const TaskQueue = "photoflow-images"

// ThumbnailTaskQueue takes the CPU-heavy GenerateThumbnail activities, so thumbnailing can
// scale on its own workers and concurrency.
const ThumbnailTaskQueue = "photoflow-thumbnails"

// Namespace is the Temporal namespace used when none is configured.
const Namespace = "default"

// Workflow and activity names. Activities keep the workshop's state names.
const (
	ImageProcessingWorkflow = "ImageProcessing"

	LoadSettingsActivity         = "LoadSettings"
	ExtractImageMetadataActivity = "ExtractImageMetadata"
	DetectModerationActivity     = "DetectModeration"
	DetectLabelsActivity         = "DetectLabels"
	GenerateThumbnailActivity    = "GenerateThumbnail"
	PersistMetadataActivity      = "PersistMetadata"
	RecordFailureActivity        = "RecordFailure"

	// DeleteAlbumWorkflow removes an album, its images' records and objects.
	DeleteAlbumWorkflow       = "DeleteAlbum"
	ListAlbumImagesActivity   = "ListAlbumImages"
	DeleteImageActivity       = "DeleteImage"
	DeleteAlbumRecordActivity = "DeleteAlbumRecord"
)

// Message names for the human review step.
const (
	// DecisionSignal carries a ReviewDecision; unknown, duplicate and late decisions are
	// logged and ignored, so `temporal workflow signal` is always safe.
	DecisionSignal = "review-decision"
	// DecisionUpdate carries a ReviewDecision and answers with a DecisionResult; its validator
	// rejects what the signal would ignore, so the caller learns why.
	DecisionUpdate = "review-decision-update"
	// StatusQuery returns a Progress.
	StatusQuery = "status"
)

// Object key prefixes in the landing bucket. Thumbnails never go under IncomingPrefix, or
// writing one would trigger another run.
const (
	IncomingPrefix  = "Incoming/"
	ThumbnailPrefix = "Thumbnail/"
)

// Default addresses of the embedded stack, shared so the starter reaches a worker started with
// no configuration.
const (
	DefaultBucket          = "photoflow"
	DefaultHTTPAddr        = "127.0.0.1:8080"
	DefaultTemporalAddr    = "127.0.0.1:7233"
	DefaultTemporalUIAddr  = "127.0.0.1:8233"
	DefaultS3Addr          = "127.0.0.1:9000"
	DefaultMetricsAddr     = "127.0.0.1:9090"
	DefaultS3Region        = "us-east-1"
	DefaultS3AccessKey     = "photoflow"
	DefaultS3SecretKey     = "photoflow-secret"
	ObjectMetaUserID       = "userid"  // x-amz-meta-userid, as in the original
	ObjectMetaAlbumID      = "albumid" // x-amz-meta-albumid
	ObjectMetaOriginalName = "filename"
)

// Search attributes that make runs findable from the temporal CLI and Web UI, e.g.
// `temporal workflow list --query 'PhotoflowStatus="PENDING_REVIEW"'`.
var (
	StatusSearchAttribute    = temporal.NewSearchAttributeKeyKeyword("PhotoflowStatus")
	AlbumSearchAttribute     = temporal.NewSearchAttributeKeyKeyword("PhotoflowAlbum")
	UserSearchAttribute      = temporal.NewSearchAttributeKeyKeyword("PhotoflowUser")
	ErrorTypeSearchAttribute = temporal.NewSearchAttributeKeyKeyword("PhotoflowErrorType")
	ImageIDSearchAttribute   = temporal.NewSearchAttributeKeyKeyword("PhotoflowImageID")
	// FormatSearchAttribute is the identified format (JPEG, PNG, GIF, …), set once known.
	FormatSearchAttribute = temporal.NewSearchAttributeKeyKeyword("PhotoflowFormat")
	// FailedStageSearchAttribute is the stage a FAILED or REJECTED run stopped in, so
	// failures can be grouped by where they happen as well as by type.
	FailedStageSearchAttribute = temporal.NewSearchAttributeKeyKeyword("PhotoflowFailedStage")
	// ModerationSearchAttribute is the moderation decision (ModerationAutoApproved, …), or
	// ModerationPending while a review waits.
	ModerationSearchAttribute = temporal.NewSearchAttributeKeyKeyword("PhotoflowModeration")
)

// ModerationPending is PhotoflowModeration's value while a human review waits; records keep
// an empty decision then.
const ModerationPending = "pending"

// SearchAttributeKeys lists every custom search attribute, for registration at start-up.
func SearchAttributeKeys() []temporal.SearchAttributeKey {
	return []temporal.SearchAttributeKey{StatusSearchAttribute, AlbumSearchAttribute,
		UserSearchAttribute, ErrorTypeSearchAttribute, ImageIDSearchAttribute,
		FormatSearchAttribute, FailedStageSearchAttribute, ModerationSearchAttribute}
}

// Error types of application errors. The first three keep the workshop's names.
const (
	// ErrImageIdentify: the object is not an image we can identify. Non-retryable.
	ErrImageIdentify = "ImageIdentifyError"
	// ErrFileNotSupported: an image, but not JPEG or PNG. Non-retryable; the run ends FAILED.
	ErrFileNotSupported = "FileNotSupported"
	// ErrInappropriate: rejected by moderation or by a reviewer; the run ends REJECTED.
	ErrInappropriate = "InappropriateError"
	// ErrImageTooLarge: bytes or pixels above the configured limits. Non-retryable.
	ErrImageTooLarge = "ImageTooLarge"
	// ErrCorruptImage: identified, but the pixels cannot be decoded (e.g. a truncated file).
	ErrCorruptImage = "CorruptImage"
	// ErrObjectNotFound: the object is gone (deleted before processing). Non-retryable.
	ErrObjectNotFound = "ObjectNotFound"
	// ErrObjectChanged: the key now holds other content (a newer upload has its own run).
	ErrObjectChanged = "ObjectChanged"
	// ErrInvalidInput: a request the code can never satisfy (empty key, bad settings).
	ErrInvalidInput = "InvalidInput"
	// ErrThrottled: the backend asked us to slow down. Retried with jittered backoff.
	ErrThrottled = "Throttled"
	// ErrUnavailable: a 5xx, timeout or connection failure. Retried with backoff.
	ErrUnavailable = "ServiceUnavailable"
	// ErrInternal: an unclassified failure; retried, since most are transient.
	ErrInternal = "InternalError"
	// ErrCanceled: the run was cancelled before it finished.
	ErrCanceled = "Canceled"
	// ErrTimeout: an activity ran out of time on every attempt (the workflow's label for
	// Temporal's own timeout failures).
	ErrTimeout = "Timeout"
	// ErrRetriesExhausted: a retryable failure persisted through every attempt.
	ErrRetriesExhausted = "RetriesExhausted"
)

// NonRetryableErrors is the set no retry can fix: the ASL "ErrorEquals" of the states' Catch.
var NonRetryableErrors = []string{ErrImageIdentify, ErrFileNotSupported, ErrImageTooLarge,
	ErrCorruptImage, ErrObjectNotFound, ErrObjectChanged, ErrInvalidInput, ErrInappropriate}

// Status is where an image is in its life.
type Status string

// Statuses, as stored in records and in the PhotoflowStatus search attribute.
const (
	StatusProcessing    Status = "PROCESSING"
	StatusPendingReview Status = "PENDING_REVIEW"
	StatusSucceeded     Status = "SUCCEEDED"
	StatusRejected      Status = "REJECTED"
	StatusFailed        Status = "FAILED"
)

// Terminal reports whether no further change is expected without a re-drive.
func (s Status) Terminal() bool {
	return s == StatusSucceeded || s == StatusRejected || s == StatusFailed
}

// Valid reports whether s is one of the five statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusProcessing, StatusPendingReview, StatusSucceeded, StatusRejected, StatusFailed:
		return true
	}
	return false
}

// Review decisions.
const (
	DecisionApprove = "approve"
	DecisionReject  = "reject"
)

// Moderation outcomes recorded in ModerationRecord.Decision.
const (
	ModerationAutoApproved    = "auto-approved"
	ModerationAutoRejected    = "auto-rejected"
	ModerationApproved        = "approved"
	ModerationRejected        = "rejected"
	ModerationDefaultApproved = "default-approved"
	ModerationDefaultRejected = "default-rejected"
)

// Stages reported by the status query, one per state of the original machine.
const (
	StageStarting        = "Starting"
	StageExtractMetadata = "ExtractImageMetadata"
	StageTypeCheck       = "ImageTypeCheck"
	StageModeration      = "DetectModeration"
	StageAwaitingReview  = "SendToApproval"
	StageLabelsThumbnail = "DetectLabels+GenerateThumbnail"
	StagePersist         = "PersistMetadata"
	StageRecordFailure   = "RecordFailure"
	StageDone            = "Done"
)

// ImageID is the record key: the object key without IncomingPrefix, as in the original.
func ImageID(key string) string { return strings.TrimPrefix(key, IncomingPrefix) }

// IncomingKey is the landing key for a user's file in an album.
func IncomingKey(userID, albumID, fileName string) string {
	return IncomingPrefix + userID + "/" + albumID + "/" + fileName
}

// ThumbnailKey is where the thumbnail of imageID is written.
func ThumbnailKey(imageID string) string { return ThumbnailPrefix + imageID }

// WorkflowID derives the run's ID from the object, so a second trigger for the same object
// collapses onto the first run, while new content under the same key (a new ETag) gets its
// own run. Long keys are hashed to stay within Temporal's ID limit.
func WorkflowID(bucket, key, etag string) string {
	etag = strings.Trim(etag, `"`)
	id := "image:" + bucket + "/" + key + "@" + etag
	if len(id) > 400 {
		sum := sha256.Sum256([]byte(bucket + "/" + key))
		id = "image:" + hex.EncodeToString(sum[:]) + "@" + etag
	}
	return id
}

// ImageInput starts an ImageProcessing run. One struct, so fields can be added without
// breaking runs in flight.
type ImageInput struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	// ETag identifies the content; with Bucket and Key it makes the workflow ID.
	ETag string `json:"etag,omitempty"`
	// UserID and AlbumID come from the uploader; when empty, the object's metadata
	// (x-amz-meta-userid / albumid) and then the key path Incoming/<user>/<album>/ are used.
	UserID  string `json:"userID,omitempty"`
	AlbumID string `json:"albumID,omitempty"`
	// UploadTime is when the object landed.
	UploadTime time.Time `json:"uploadTime"`
	// Settings, when set, override the worker's settings for this run only.
	Settings *Settings `json:"settings,omitempty"`
}

// ActivityPolicy is the timeout and retry policy of one activity: the Go form of an ASL
// state's TimeoutSeconds and Retry block.
type ActivityPolicy struct {
	StartToClose    time.Duration `json:"startToClose"`
	ScheduleToClose time.Duration `json:"scheduleToClose,omitempty"`
	Heartbeat       time.Duration `json:"heartbeat,omitempty"`
	InitialInterval time.Duration `json:"initialInterval"`
	BackoffCoeff    float64       `json:"backoffCoefficient"`
	MaximumInterval time.Duration `json:"maximumInterval"`
	// MaximumAttempts counts the first attempt (ASL MaxAttempts 2 is 3 here); 0 is unlimited
	// within ScheduleToClose.
	MaximumAttempts int32 `json:"maximumAttempts"`
}

// Settings are the tunables a run reads once, at its start, from the worker (or its input):
// recorded in history, so changing the worker's flags never changes a run in flight.
type Settings struct {
	// RejectThreshold: moderation confidence (0–100) at or above which the image is
	// rejected without review.
	RejectThreshold float64 `json:"rejectThreshold"`
	// ReviewThreshold: confidence at or above which a human must decide.
	ReviewThreshold float64 `json:"reviewThreshold"`
	// ReviewDeadline: how long a review may wait before DefaultDecision applies.
	ReviewDeadline time.Duration `json:"reviewDeadline"`
	// DefaultDecision is DecisionApprove or DecisionReject.
	DefaultDecision string `json:"defaultDecision"`
	// MaxLabels and MinConfidence bound DetectLabels (the original's 10 and 60).
	MaxLabels     int     `json:"maxLabels"`
	MinConfidence float64 `json:"minConfidence"`
	// ThumbnailSize is the box the thumbnail fits in (250 in the original).
	ThumbnailSize int `json:"thumbnailSize"`
	// Activities holds each activity's policy by activity name.
	Activities map[string]ActivityPolicy `json:"activities"`
}

// DefaultActivityPolicies are the retry blocks: non-retryable errors fail at once (see
// NonRetryableErrors); everything else retries with exponential backoff, throttling with
// jittered delays chosen by the activity.
func DefaultActivityPolicies() map[string]ActivityPolicy {
	std := ActivityPolicy{StartToClose: time.Minute, InitialInterval: time.Second,
		BackoffCoeff: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 5}
	extract := std
	extract.StartToClose = 30 * time.Second
	vision := std
	vision.Heartbeat = 20 * time.Second
	persist := std
	persist.StartToClose = 30 * time.Second
	persist.MaximumAttempts = 10
	persist.MaximumInterval = time.Minute
	// A failure must be recorded: retry for a day rather than lose the reason.
	record := persist
	record.MaximumAttempts = 0
	record.ScheduleToClose = 24 * time.Hour
	return map[string]ActivityPolicy{
		LoadSettingsActivity:         {StartToClose: 10 * time.Second, InitialInterval: time.Second, BackoffCoeff: 2, MaximumInterval: 10 * time.Second, MaximumAttempts: 5},
		ExtractImageMetadataActivity: extract,
		DetectModerationActivity:     vision,
		DetectLabelsActivity:         vision,
		GenerateThumbnailActivity:    vision,
		PersistMetadataActivity:      persist,
		RecordFailureActivity:        record,
	}
}

// DefaultSettings are the workshop's values plus a 72 h review deadline that approves.
func DefaultSettings() Settings {
	return Settings{RejectThreshold: 90, ReviewThreshold: 60, ReviewDeadline: 72 * time.Hour,
		DefaultDecision: DecisionApprove, MaxLabels: 10, MinConfidence: 60, ThumbnailSize: 250,
		Activities: DefaultActivityPolicies()}
}

// Dimensions is a pixel size.
type Dimensions struct {
	Width  int `json:"width"`
	Height int `json:"height"`
}

// Geo is a position in decimal degrees.
type Geo struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

// ImageMetadata is ExtractImageMetadata's result (the original's TransformMetadata output).
type ImageMetadata struct {
	Format       string     `json:"format"`
	Dimensions   Dimensions `json:"dimensions"`
	Orientation  int        `json:"orientation"`
	FileSize     int64      `json:"fileSize"`
	CreationTime string     `json:"creationTime,omitempty"`
	Geo          *Geo       `json:"geo,omitempty"`
	ExifMake     string     `json:"exifMake,omitempty"`
	ExifModel    string     `json:"exifModel,omitempty"`
	ETag         string     `json:"etag,omitempty"`
	UserID       string     `json:"userID,omitempty"`
	AlbumID      string     `json:"albumID,omitempty"`
	Warnings     []string   `json:"warnings,omitempty"`
}

// Label is a detected label with its confidence (0–100).
type Label struct {
	Name       string  `json:"name"`
	Confidence float64 `json:"confidence"`
}

// ModerationResult is DetectModeration's result.
type ModerationResult struct {
	Labels []Label `json:"labels"`
	// Score is the highest confidence among Labels, 0 when none.
	Score float64 `json:"score"`
}

// ModerationRecord is the moderation outcome kept in the image record.
type ModerationRecord struct {
	Labels     []Label    `json:"labels"`
	Score      float64    `json:"score"`
	Decision   string     `json:"decision,omitempty"`
	Reviewer   string     `json:"reviewer,omitempty"`
	Reason     string     `json:"reason,omitempty"`
	DecidedAt  *time.Time `json:"decidedAt,omitempty"`
	DeadlineAt *time.Time `json:"deadlineAt,omitempty"`
}

// Thumbnail is where GenerateThumbnail wrote its output.
type Thumbnail struct {
	Key    string `json:"key"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
}

// ObjectInput names one object for an activity that reads it.
type ObjectInput struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	// ETag, when set, pins the content: a different object under the key fails the activity
	// (ObjectChanged) instead of silently processing other bytes.
	ETag string `json:"etag,omitempty"`
}

// ImageRef is an identified image: the object plus what decoding it needs.
type ImageRef struct {
	ObjectInput
	Format      string `json:"format"`
	Orientation int    `json:"orientation"`
}

// LabelsInput asks DetectLabels for at most MaxLabels labels of MinConfidence or more.
type LabelsInput struct {
	ImageRef
	MaxLabels     int     `json:"maxLabels"`
	MinConfidence float64 `json:"minConfidence"`
}

// ThumbnailInput asks for an upright thumbnail fitting MaxSize×MaxSize at TargetKey.
type ThumbnailInput struct {
	ImageRef
	MaxSize   int    `json:"maxSize"`
	TargetKey string `json:"targetKey"`
}

// ImageRecord is the one JSON shape of an image: API responses, the starter's --json output
// and the metadata store. Field names follow the original DynamoDB item.
type ImageRecord struct {
	ImageID      string            `json:"imageID"`
	UserID       string            `json:"userID"`
	AlbumID      string            `json:"albumID"`
	S3Bucket     string            `json:"s3Bucket"`
	S3Key        string            `json:"s3Key"`
	ETag         string            `json:"etag,omitempty"`
	UploadTime   time.Time         `json:"uploadTime"`
	UpdateTime   time.Time         `json:"updateTime"`
	Status       Status            `json:"status"`
	Format       string            `json:"format,omitempty"`
	Dimensions   *Dimensions       `json:"dimensions,omitempty"`
	Orientation  int               `json:"orientation,omitempty"`
	FileSize     int64             `json:"fileSize,omitempty"`
	CreationTime string            `json:"creationTime,omitempty"`
	Geo          *Geo              `json:"geo,omitempty"`
	ExifMake     string            `json:"exifMake,omitempty"`
	ExifModel    string            `json:"exifModel,omitempty"`
	Labels       []Label           `json:"labels,omitempty"`
	Tags         []string          `json:"tags,omitempty"`
	Moderation   *ModerationRecord `json:"moderation,omitempty"`
	Thumbnail    *Thumbnail        `json:"thumbnail,omitempty"`
	ErrorType    string            `json:"errorType,omitempty"`
	ErrReason    string            `json:"errReason,omitempty"`
	WorkflowID   string            `json:"workflowId,omitempty"`
	RunID        string            `json:"runId,omitempty"`
}

// ReviewDecision is a human's answer to a pending review.
type ReviewDecision struct {
	Decision string `json:"decision"` // DecisionApprove or DecisionReject
	Reviewer string `json:"reviewer"`
	Reason   string `json:"reason,omitempty"`
}

// DecisionResult answers a DecisionUpdate.
type DecisionResult struct {
	Accepted bool   `json:"accepted"`
	Status   Status `json:"status"`
	Decision string `json:"decision"`
	Reviewer string `json:"reviewer,omitempty"`
}

// StageTiming is one finished (or running) stage in the status query.
type StageTiming struct {
	Stage    string     `json:"stage"`
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished,omitempty"`
	Attempts int32      `json:"attempts,omitempty"`
	Error    string     `json:"error,omitempty"`
}

// Progress is the StatusQuery answer: where the image is now.
type Progress struct {
	ImageID string `json:"imageID"`
	Status  Status `json:"status"`
	Stage   string `json:"stage"`
	// Attempt and LastError describe the activity running now: a workflow sees an
	// activity's attempts only when it ends, so pipeline.Progress fills these two from the
	// server's pending-activity view; the query alone leaves Attempt 0.
	Attempt    int32             `json:"attempt"`
	LastError  string            `json:"lastError,omitempty"`
	Moderation *ModerationRecord `json:"moderation,omitempty"`
	Stages     []StageTiming     `json:"stages"`
	// Record is the image record as the run holds it now.
	Record ImageRecord `json:"record"`
}

// AlbumRef names one album of one user.
type AlbumRef struct {
	UserID  string `json:"userID"`
	AlbumID string `json:"albumID"`
}

// AlbumDeleteInput starts (or continues) a DeleteAlbum run.
type AlbumDeleteInput struct {
	AlbumRef
	// Deleted counts images removed by earlier runs of this chain (continue-as-new).
	Deleted int `json:"deleted"`
}

// AlbumPage is one page of an album's image IDs.
type AlbumPage struct {
	ImageIDs []string `json:"imageIDs"`
	// More is true when images remain after this page.
	More bool `json:"more"`
}

// AlbumDeleteWorkflowID is the one deletion run of an album: asking twice joins it.
func AlbumDeleteWorkflowID(userID, albumID string) string {
	return "album-delete:" + userID + "/" + albumID
}
