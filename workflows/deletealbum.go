package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"photoflow"
)

// deletePageSize bounds one page of an album deletion; pagesPerRun keeps each run's history
// short before it continues as new.
const (
	deletePageSize = 50
	pagesPerRun    = 20
)

// DeleteAlbum removes an album: every image's runs, objects and record, then the album.
// Each step is idempotent, so a retry or a restart halfway leaves nothing half-done: the
// next attempt finds what is left and removes it.
func DeleteAlbum(ctx workflow.Context, in photoflow.AlbumDeleteInput) (int, error) {
	if in.UserID == "" || in.AlbumID == "" {
		return 0, temporal.NewNonRetryableApplicationError("user and album are required", photoflow.ErrInvalidInput, nil)
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: time.Minute, NonRetryableErrorTypes: photoflow.NonRetryableErrors},
	})
	log := workflow.GetLogger(ctx)
	deleted := in.Deleted
	for page := 0; page < pagesPerRun; page++ {
		var p photoflow.AlbumPage
		if err := workflow.ExecuteActivity(ctx, a.ListAlbumImages, in.AlbumRef).Get(ctx, &p); err != nil {
			return deleted, fmt.Errorf("list album: %w", err)
		}
		// Delete the page in parallel; every image is independent.
		futures := make([]workflow.Future, len(p.ImageIDs))
		for i, id := range p.ImageIDs {
			futures[i] = workflow.ExecuteActivity(ctx, a.DeleteImage, id)
		}
		for i, f := range futures {
			if err := f.Get(ctx, nil); err != nil {
				return deleted, fmt.Errorf("delete image %s: %w", p.ImageIDs[i], err)
			}
			deleted++
		}
		if !p.More {
			if err := workflow.ExecuteActivity(ctx, a.DeleteAlbumRecord, in.AlbumRef).Get(ctx, nil); err != nil {
				return deleted, fmt.Errorf("delete album record: %w", err)
			}
			log.Info("album deleted", "user", in.UserID, "album", in.AlbumID, "images", deleted)
			return deleted, nil
		}
	}
	return deleted, workflow.NewContinueAsNewError(ctx, photoflow.DeleteAlbumWorkflow,
		photoflow.AlbumDeleteInput{AlbumRef: in.AlbumRef, Deleted: deleted})
}
