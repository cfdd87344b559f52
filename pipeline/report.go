package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"photoflow"
	"photoflow/objstore"
	"photoflow/store"
)

// ReportOptions bound a reconciliation.
type ReportOptions struct {
	// Prefix is the object key prefix to check, usually photoflow.IncomingPrefix or one
	// album's part of it.
	Prefix string
	// Stale is how long an object may go without a record, or a run without progress,
	// before it counts as unaccounted: shorter than that it is in flight. Zero counts
	// everything unfinished at once.
	Stale time.Duration
	// Now is the time ages are measured from; zero means time.Now().
	Now time.Time
}

// Report answers the workshop's "were all images processed?" for one bucket prefix.
type Report struct {
	Bucket  string                   `json:"bucket"`
	Prefix  string                   `json:"prefix"`
	Objects int                      `json:"objects"`
	Records int                      `json:"records"`
	Counts  map[photoflow.Status]int `json:"counts"`
	// InFlight are objects newer than the stale age without a record yet.
	InFlight    int           `json:"inFlight"`
	Unaccounted []Discrepancy `json:"unaccounted"`
	// MissingObjects are records whose object is gone (other than runs that failed because
	// of exactly that, ObjectNotFound).
	MissingObjects []Discrepancy `json:"missingObjects"`
}

// AllAccounted is true when every object has a fitting record and every record its object.
func (r Report) AllAccounted() bool { return len(r.Unaccounted) == 0 && len(r.MissingObjects) == 0 }

// Discrepancy is one object or record that does not add up, and why.
type Discrepancy struct {
	Key     string           `json:"key"`
	ImageID string           `json:"imageID"`
	Status  photoflow.Status `json:"status,omitempty"`
	Reason  string           `json:"reason"`
}

// Reconcile lists the bucket under opts.Prefix and the store, and matches them by key: an
// object is accounted for when its record is for the same content and is finished, waiting
// for a review within its deadline, or still making progress.
func Reconcile(ctx context.Context, objects *objstore.Store, bucket string, st store.Store, opts ReportOptions) (Report, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	rep := Report{Bucket: bucket, Prefix: opts.Prefix, Counts: map[photoflow.Status]int{},
		Unaccounted: []Discrepancy{}, MissingObjects: []Discrepancy{}}
	byKey := map[string]photoflow.ImageRecord{}
	err := store.ListAll(ctx, st, store.Filter{}, func(rec photoflow.ImageRecord) error {
		if rec.S3Bucket != bucket || !strings.HasPrefix(rec.S3Key, opts.Prefix) {
			return nil
		}
		byKey[rec.S3Key] = rec
		rep.Counts[rec.Status]++
		rep.Records++
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("list records: %w", err)
	}
	seen := map[string]bool{}
	err = objects.ListAll(ctx, bucket, opts.Prefix, func(obj objstore.ListedObject) error {
		if strings.HasSuffix(obj.Key, "/") && obj.Size == 0 {
			return nil // a console's "folder", not an upload
		}
		rep.Objects++
		seen[obj.Key] = true
		old := now.Sub(obj.LastModified) >= opts.Stale
		u := Discrepancy{Key: obj.Key, ImageID: photoflow.ImageID(obj.Key)}
		rec, ok := byKey[obj.Key]
		if ok {
			u.Status = rec.Status
		}
		switch {
		case !ok && !old:
			rep.InFlight++
			return nil
		case !ok:
			u.Reason = fmt.Sprintf("no record (uploaded %s ago)", age(now, obj.LastModified))
		case rec.ETag != "" && obj.ETag != "" && rec.ETag != obj.ETag && old:
			// A newer upload replaced the object and its run never wrote a record.
			u.Reason = fmt.Sprintf("record is for other content (record ETag %s, object ETag %s)", rec.ETag, obj.ETag)
		case rec.Status == photoflow.StatusProcessing && now.Sub(rec.UpdateTime) >= opts.Stale:
			u.Reason = fmt.Sprintf("PROCESSING with no progress for %s", age(now, rec.UpdateTime))
		case rec.Status == photoflow.StatusPendingReview && rec.Moderation != nil && rec.Moderation.DeadlineAt != nil &&
			now.Sub(*rec.Moderation.DeadlineAt) >= opts.Stale:
			// A review within its deadline is waiting as designed; past it, the default
			// decision should have applied.
			u.Reason = fmt.Sprintf("review deadline passed %s ago", age(now, *rec.Moderation.DeadlineAt))
		default:
			return nil
		}
		rep.Unaccounted = append(rep.Unaccounted, u)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("list s3://%s/%s: %w", bucket, opts.Prefix, err)
	}
	for key, rec := range byKey {
		if seen[key] || rec.Status == photoflow.StatusFailed && rec.ErrorType == photoflow.ErrObjectNotFound {
			continue
		}
		rep.MissingObjects = append(rep.MissingObjects, Discrepancy{Key: key, ImageID: rec.ImageID, Status: rec.Status,
			Reason: "object is gone"})
	}
	slices.SortFunc(rep.MissingObjects, func(a, b Discrepancy) int { return strings.Compare(a.Key, b.Key) })
	return rep, nil
}

func age(now, t time.Time) time.Duration { return now.Sub(t).Round(time.Second) }
