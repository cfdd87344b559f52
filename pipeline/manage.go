package pipeline

import (
	"context"
	"fmt"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"photoflow"
)

// TransientErrors are failure types that another run may get past: time, load and
// unclassified faults, not bad input.
var TransientErrors = []string{photoflow.ErrTimeout, photoflow.ErrUnavailable, photoflow.ErrThrottled,
	photoflow.ErrInternal, photoflow.ErrCanceled}

// Rerunnable reports whether a record's failure is worth another run.
func Rerunnable(rec photoflow.ImageRecord) bool {
	return rec.Status == photoflow.StatusFailed && slices.Contains(TransientErrors, rec.ErrorType)
}

// Rerun starts a failed image again under the same workflow ID (the object's), which the
// server allows only because the previous run failed: a rerun can never duplicate a run
// that succeeded.
func (p *Pipeline) Rerun(ctx context.Context, rec photoflow.ImageRecord) (client.WorkflowRun, error) {
	if !Rerunnable(rec) {
		return nil, fmt.Errorf("%s: a %s %s failure would fail again; fix the cause or upload again",
			rec.ImageID, rec.Status, rec.ErrorType)
	}
	info, err := p.Objects.Head(ctx, rec.S3Bucket, rec.S3Key)
	if err != nil {
		return nil, err
	}
	in := photoflow.ImageInput{Bucket: rec.S3Bucket, Key: rec.S3Key, ETag: info.ETag,
		UserID: rec.UserID, AlbumID: rec.AlbumID, UploadTime: rec.UploadTime}
	opts := client.StartWorkflowOptions{
		ID:                       photoflow.WorkflowID(in.Bucket, in.Key, in.ETag),
		TaskQueue:                photoflow.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			photoflow.ImageIDSearchAttribute.ValueSet(rec.ImageID),
			photoflow.StatusSearchAttribute.ValueSet(string(photoflow.StatusProcessing))),
	}
	run, err := p.Temporal.ExecuteWorkflow(ctx, opts, photoflow.ImageProcessingWorkflow, in)
	if err != nil {
		return nil, fmt.Errorf("rerun %s: %w", rec.ImageID, err)
	}
	return run, nil
}

// DeleteAlbum starts (or joins) the album's deletion run.
func (p *Pipeline) DeleteAlbum(ctx context.Context, userID, albumID string) (client.WorkflowRun, error) {
	opts := client.StartWorkflowOptions{
		ID:                       photoflow.AlbumDeleteWorkflowID(userID, albumID),
		TaskQueue:                photoflow.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowExecutionTimeout: 24 * time.Hour,
	}
	run, err := p.Temporal.ExecuteWorkflow(ctx, opts, photoflow.DeleteAlbumWorkflow,
		photoflow.AlbumDeleteInput{AlbumRef: photoflow.AlbumRef{UserID: userID, AlbumID: albumID}})
	if err != nil {
		return nil, fmt.Errorf("delete album %s/%s: %w", userID, albumID, err)
	}
	return run, nil
}
