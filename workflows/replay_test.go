package workflows

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"photoflow"
)

// TestReplaySavedHistories replays histories recorded from real runs on the embedded server
// (refresh them with `PHOTOFLOW_WRITE_HISTORIES=1 go test -run TestPipelineEndToEnd
// ./worker/`). A change to the workflow that would break runs in flight fails here: guard it
// with workflow.GetVersion, then add a history of the new shape.
func TestReplaySavedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 4, "saved histories are missing")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(ImageProcessing, workflow.RegisterOptions{Name: photoflow.ImageProcessingWorkflow})
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(nil, f))
		})
	}
}
