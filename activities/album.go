package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/serviceerror"

	"photoflow"
	"photoflow/store"
)

// ListAlbumImages returns the first page of an album's images. Deleted images leave the
// listing, so the first page is always the next one to delete.
func (a *Activities) ListAlbumImages(ctx context.Context, in photoflow.AlbumRef) (photoflow.AlbumPage, error) {
	if in.UserID == "" || in.AlbumID == "" {
		return photoflow.AlbumPage{}, badInput(photoflow.ErrInvalidInput, "user and album are required")
	}
	page, err := a.Store.List(ctx, store.Filter{UserID: in.UserID, AlbumID: in.AlbumID, Limit: 50})
	if err != nil {
		return photoflow.AlbumPage{}, classify(ctx, "list album", err)
	}
	out := photoflow.AlbumPage{ImageIDs: make([]string, 0, len(page.Records)), More: page.Next != ""}
	for _, r := range page.Records {
		out.ImageIDs = append(out.ImageIDs, r.ImageID)
	}
	return out, nil
}

// DeleteImage removes one image for good: it stops its run if one is still going (waiting
// until it has ended, so the run cannot write the record back), then deletes the thumbnail,
// the original and the record. A missing piece is already deleted.
func (a *Activities) DeleteImage(ctx context.Context, imageID string) error {
	rec, err := a.Store.Get(ctx, imageID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return classify(ctx, "get record", err)
	}
	if !rec.Status.Terminal() && rec.WorkflowID != "" && a.Temporal != nil {
		err := a.heartbeating(ctx, func() error {
			if err := a.Temporal.CancelWorkflow(ctx, rec.WorkflowID, rec.RunID); err != nil {
				return err
			}
			// The run ends cancelled; its own error is expected and not ours.
			_ = a.Temporal.GetWorkflow(ctx, rec.WorkflowID, rec.RunID).Get(ctx, nil)
			return ctx.Err()
		})
		var nf *serviceerror.NotFound
		if err != nil && !errors.As(err, &nf) {
			return classify(ctx, "stop run", err)
		}
	}
	thumb := photoflow.ThumbnailKey(imageID)
	if rec.Thumbnail != nil && rec.Thumbnail.Key != "" {
		thumb = rec.Thumbnail.Key
	}
	for _, key := range []string{thumb, rec.S3Key} {
		if key == "" {
			continue
		}
		if err := a.Objects.Delete(ctx, rec.S3Bucket, key); err != nil {
			return classify(ctx, fmt.Sprintf("delete s3://%s/%s", rec.S3Bucket, key), err)
		}
	}
	return classify(ctx, "delete record", a.Store.Delete(ctx, imageID))
}

// DeleteAlbumRecord removes the album itself, last.
func (a *Activities) DeleteAlbumRecord(ctx context.Context, in photoflow.AlbumRef) error {
	if a.Accounts == nil {
		return badInput(photoflow.ErrInvalidInput, "no account store configured")
	}
	return classify(ctx, "delete album", a.Accounts.DeleteAlbum(ctx, in.UserID, in.AlbumID))
}
