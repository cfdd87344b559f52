package pipeline

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	"photoflow"
)

func TestStartImportJoinsByImportID(t *testing.T) {
	tc := mocks.NewClient(t)
	p := &Pipeline{Temporal: tc, Bucket: "landing"}
	run := mocks.NewWorkflowRun(t)
	run.On("GetID").Return("import:imp-1")
	run.On("GetRunID").Return("r1")
	var gotOpts client.StartWorkflowOptions
	var gotIn photoflow.SyncInput
	tc.On("ExecuteWorkflow", mock.Anything, mock.Anything, photoflow.BucketSyncWorkflow, mock.Anything).
		Run(func(args mock.Arguments) {
			gotOpts = args.Get(1).(client.StartWorkflowOptions)
			gotIn = args.Get(3).(photoflow.SyncInput)
		}).Return(run, nil).Once()

	wid, rid, err := p.StartImport(context.Background(), photoflow.SyncInput{ImportID: "imp-1",
		SourceBucket: "landing", SourcePrefix: photoflow.StagingKeyPrefix("imp-1"), UserID: "alice", AlbumID: "trip",
		State: photoflow.SyncState{Pages: 9}})
	require.NoError(t, err)
	assert.Equal(t, "import:imp-1", wid)
	assert.Equal(t, "r1", rid)
	assert.Equal(t, photoflow.BucketSyncWorkflowID("imp-1"), gotOpts.ID)
	assert.Equal(t, photoflow.TaskQueue, gotOpts.TaskQueue)
	assert.Equal(t, enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING, gotOpts.WorkflowIDConflictPolicy)
	assert.Equal(t, "landing", gotIn.DestBucket, "the landing bucket is the default destination")
	assert.Zero(t, gotIn.State.Pages, "a caller cannot forge a chain's state")
}

func TestStartImportRefusals(t *testing.T) {
	p := &Pipeline{Temporal: mocks.NewClient(t), Bucket: "landing"}
	ok := photoflow.SyncInput{ImportID: "i", SourceBucket: "src", UserID: "u", AlbumID: "a"}
	for name, mod := range map[string]func(*photoflow.SyncInput){
		"import id":      func(in *photoflow.SyncInput) { in.ImportID = "../x" },
		"user":           func(in *photoflow.SyncInput) { in.UserID = "a/b" },
		"album":          func(in *photoflow.SyncInput) { in.AlbumID = "" },
		"source":         func(in *photoflow.SyncInput) { in.SourceBucket = "" },
		"own incoming":   func(in *photoflow.SyncInput) { in.SourceBucket, in.SourcePrefix = "landing", "Incoming/x/" },
		"whole landing":  func(in *photoflow.SyncInput) { in.SourceBucket = "landing" },
		"own thumbnails": func(in *photoflow.SyncInput) { in.SourceBucket, in.SourcePrefix = "landing", "Thumbnail/" },
	} {
		in := ok
		mod(&in)
		_, _, err := p.StartImport(context.Background(), in)
		assert.Error(t, err, name)
	}
}

func TestImportSignals(t *testing.T) {
	tc := mocks.NewClient(t)
	p := &Pipeline{Temporal: tc}
	id := photoflow.BucketSyncWorkflowID("imp-1")
	tc.On("SignalWorkflow", mock.Anything, id, "", photoflow.SyncPauseSignal, nil).Return(nil).Once()
	tc.On("SignalWorkflow", mock.Anything, id, "", photoflow.SyncResumeSignal, nil).Return(nil).Once()
	tc.On("SignalWorkflow", mock.Anything, id, "", photoflow.SyncCancelSignal, nil).Return(serviceerror.NewNotFound("gone")).Once()
	ctx := context.Background()
	require.NoError(t, p.PauseImport(ctx, "imp-1"))
	require.NoError(t, p.ResumeImport(ctx, "imp-1"))
	err := p.CancelImport(ctx, "imp-1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not running")
	assert.Error(t, p.PauseImport(ctx, ""), "an empty ID signals nothing")
}
