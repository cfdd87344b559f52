package workflows

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"github.com/stretchr/testify/suite"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"photoflow"
	"photoflow/activities"
)

type imageSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	mu        sync.Mutex
	persisted []photoflow.ImageRecord
	failures  []photoflow.ImageRecord
	// persistHook, when set, decides PersistMetadata's answer for each record.
	persistHook func(photoflow.ImageRecord) error
}

func TestImageProcessing(t *testing.T) { suite.Run(t, new(imageSuite)) }

var (
	testInput = photoflow.ImageInput{Bucket: "photoflow", Key: "Incoming/alice/trip/IMG_0042.jpg",
		ETag: "0123abcd", UploadTime: time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC)}
	jpegMeta = photoflow.ImageMetadata{Format: "JPEG", Dimensions: photoflow.Dimensions{Width: 4032, Height: 3024},
		Orientation: 6, FileSize: 2520113, CreationTime: "2016-04-09T14:08:13-07:00",
		Geo: &photoflow.Geo{Latitude: 46.8256, Longitude: -121.7283}, ExifMake: "Apple", ExifModel: "iPhone 6s", ETag: "0123abcd"}
	someLabels = []photoflow.Label{{Name: "Mountain", Confidence: 97.2}, {Name: "Sky", Confidence: 80}}
	someThumb  = photoflow.Thumbnail{Key: "Thumbnail/alice/trip/IMG_0042.jpg", Width: 188, Height: 250}
)

func (s *imageSuite) SetupTest() {
	s.persisted, s.failures, s.persistHook = nil, nil, nil
	s.env = s.NewTestWorkflowEnvironment()
	s.env.RegisterWorkflowWithOptions(ImageProcessing, workflow.RegisterOptions{Name: photoflow.ImageProcessingWorkflow})
	// The real LoadSettings runs (a local activity); everything else is mocked per test.
	s.env.RegisterActivity(&activities.Activities{Settings: photoflow.DefaultSettings()})
	s.env.OnActivity(photoflow.PersistMetadataActivity, mock.Anything, mock.Anything).Return(
		func(_ context.Context, rec photoflow.ImageRecord) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.persistHook != nil {
				if err := s.persistHook(rec); err != nil {
					return err
				}
			}
			s.persisted = append(s.persisted, rec)
			return nil
		}).Maybe()
	s.env.OnActivity(photoflow.RecordFailureActivity, mock.Anything, mock.Anything).Return(
		func(_ context.Context, rec photoflow.ImageRecord) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.failures = append(s.failures, rec)
			return nil
		}).Maybe()
}

func (s *imageSuite) AfterTest(_, _ string) { s.env.AssertExpectations(s.T()) }

func (s *imageSuite) mockHappyStages(score float64) {
	s.env.OnActivity(photoflow.ExtractImageMetadataActivity, mock.Anything, mock.Anything).Return(jpegMeta, nil).Once()
	s.env.OnActivity(photoflow.DetectModerationActivity, mock.Anything, mock.Anything).Return(
		photoflow.ModerationResult{Labels: moderationLabels(score), Score: score}, nil).Once()
	s.env.OnActivity(photoflow.DetectLabelsActivity, mock.Anything, mock.Anything).Return(someLabels, nil).Maybe()
	s.env.OnActivity(photoflow.GenerateThumbnailActivity, mock.Anything, mock.Anything).Return(someThumb, nil).Maybe()
}

func moderationLabels(score float64) []photoflow.Label {
	if score == 0 {
		return []photoflow.Label{}
	}
	return []photoflow.Label{{Name: "Suggestive", Confidence: score}}
}

func (s *imageSuite) result() photoflow.ImageRecord {
	s.True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
	var rec photoflow.ImageRecord
	s.Require().NoError(s.env.GetWorkflowResult(&rec))
	return rec
}

// failedWith asserts the run failed with errType and returns the record carried in the error.
func (s *imageSuite) failedWith(errType string) photoflow.ImageRecord {
	s.True(s.env.IsWorkflowCompleted())
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	var appErr *temporal.ApplicationError
	s.Require().True(errors.As(err, &appErr), "want an application error, got %v", err)
	s.Equal(errType, appErr.Type())
	var rec photoflow.ImageRecord
	s.Require().NoError(appErr.Details(&rec))
	s.Equal(photoflow.StatusFailed, rec.Status)
	s.Equal(errType, rec.ErrorType)
	s.NotEmpty(rec.ErrReason)
	s.Require().Len(s.failures, 1, "the failure must be recorded once")
	s.Equal(rec.ErrReason, s.failures[0].ErrReason)
	s.Equal(photoflow.StatusFailed, s.failures[0].Status)
	return rec
}

func (s *imageSuite) TestHappyPath() {
	s.mockHappyStages(0)
	s.env.ExecuteWorkflow(ImageProcessing, testInput)
	rec := s.result()

	s.Equal(photoflow.StatusSucceeded, rec.Status)
	s.Equal("alice/trip/IMG_0042.jpg", rec.ImageID)
	s.Equal("alice", rec.UserID)
	s.Equal("trip", rec.AlbumID)
	s.Equal("JPEG", rec.Format)
	s.Equal(&photoflow.Dimensions{Width: 4032, Height: 3024}, rec.Dimensions)
	s.Equal(6, rec.Orientation)
	s.Equal("2016-04-09T14:08:13-07:00", rec.CreationTime, "creationTime is stored, unlike the original")
	s.Equal(jpegMeta.Geo, rec.Geo)
	s.Equal("Apple", rec.ExifMake)
	s.Equal([]string{"Mountain", "Sky"}, rec.Tags)
	s.Equal(&someThumb, rec.Thumbnail)
	s.Equal(photoflow.ModerationAutoApproved, rec.Moderation.Decision)
	s.Empty(rec.ErrorType)
	s.Empty(s.failures)

	s.Require().GreaterOrEqual(len(s.persisted), 2)
	s.Equal(photoflow.StatusProcessing, s.persisted[0].Status, "a first record is written at once")
	last := s.persisted[len(s.persisted)-1]
	s.Equal(photoflow.StatusSucceeded, last.Status)
	s.Equal(rec, last)
}

func (s *imageSuite) TestUnsupportedType() {
	gif := jpegMeta
	gif.Format = "GIF"
	s.env.OnActivity(photoflow.ExtractImageMetadataActivity, mock.Anything, mock.Anything).Return(gif, nil).Once()
	s.env.ExecuteWorkflow(ImageProcessing, testInput)
	rec := s.failedWith(photoflow.ErrFileNotSupported)
	s.Contains(rec.ErrReason, "GIF")
	s.Equal("GIF", rec.Format, "what was learned before the failure is kept")
}

func (s *imageSuite) TestImageIdentifyErrorIsNotRetried() {
	var calls atomic.Int32
	// A plain (retryable-flagged) error of the type: only the policy's NonRetryableErrorTypes
	// can stop the retries here.
	s.env.OnActivity(photoflow.ExtractImageMetadataActivity, mock.Anything, mock.Anything).Return(
		func(context.Context, photoflow.ObjectInput) (photoflow.ImageMetadata, error) {
			calls.Add(1)
			return photoflow.ImageMetadata{}, temporal.NewApplicationError("not an image", photoflow.ErrImageIdentify)
		})
	s.env.ExecuteWorkflow(ImageProcessing, testInput)
	rec := s.failedWith(photoflow.ErrFileNotSupported)
	s.Contains(rec.ErrReason, photoflow.ErrImageIdentify+": not an image", "the cause stays in the reason")
	s.Equal(int32(1), calls.Load())
}

func (s *imageSuite) TestThrottlingIsRetriedThenSucceeds() {
	var extractCalls, persistCalls atomic.Int32
	s.env.OnActivity(photoflow.ExtractImageMetadataActivity, mock.Anything, mock.Anything).Return(
		func(context.Context, photoflow.ObjectInput) (photoflow.ImageMetadata, error) {
			if extractCalls.Add(1) <= 2 {
				return photoflow.ImageMetadata{}, temporal.NewApplicationError("SlowDown", photoflow.ErrThrottled)
			}
			return jpegMeta, nil
		})
	s.env.OnActivity(photoflow.DetectModerationActivity, mock.Anything, mock.Anything).Return(photoflow.ModerationResult{}, nil)
	s.env.OnActivity(photoflow.DetectLabelsActivity, mock.Anything, mock.Anything).Return(someLabels, nil)
	s.env.OnActivity(photoflow.GenerateThumbnailActivity, mock.Anything, mock.Anything).Return(someThumb, nil)
	// PersistDDB's ProvisionedThroughputExceededException, as in the workshop's example.
	s.persistHook = func(rec photoflow.ImageRecord) error {
		if rec.Status == photoflow.StatusSucceeded && persistCalls.Add(1) <= 2 {
			return temporal.NewApplicationError("ProvisionedThroughputExceededException", photoflow.ErrThrottled)
		}
		return nil
	}
	s.env.ExecuteWorkflow(ImageProcessing, testInput)
	s.Equal(photoflow.StatusSucceeded, s.result().Status)
	s.Equal(int32(3), extractCalls.Load())
	s.Equal(int32(3), persistCalls.Load())
}

func (s *imageSuite) TestAutoReject() {
	s.mockHappyStages(95)
	s.env.ExecuteWorkflow(ImageProcessing, testInput)
	rec := s.result()
	s.Equal(photoflow.StatusRejected, rec.Status)
	s.Equal(photoflow.ErrInappropriate, rec.ErrorType)
	s.Contains(rec.ErrReason, "reject threshold")
	s.Equal(photoflow.ModerationAutoRejected, rec.Moderation.Decision)
	s.Nil(rec.Thumbnail, "rejected images get no thumbnail")
	s.Require().Len(s.failures, 1)
	s.Equal(photoflow.StatusRejected, s.failures[0].Status)
	s.env.AssertNotCalled(s.T(), photoflow.GenerateThumbnailActivity, mock.Anything, mock.Anything)
}

func (s *imageSuite) query() photoflow.Progress {
	v, err := s.env.QueryWorkflow(photoflow.StatusQuery)
	s.Require().NoError(err)
	var p photoflow.Progress
	s.Require().NoError(v.Get(&p))
	return p
}

// updateOutcome is filled when the test environment has run the update, which happens after
// the callback that sent it returns.
type updateOutcome struct {
	done   bool
	result photoflow.DecisionResult
	err    error
}

func (s *imageSuite) update(d photoflow.ReviewDecision) *updateOutcome {
	out := &updateOutcome{}
	s.env.UpdateWorkflow(photoflow.DecisionUpdate, "", &testsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: func(err error) { out.done, out.err = true, err },
		OnComplete: func(v any, err error) {
			out.done, out.err = true, err
			if err == nil {
				out.result = v.(photoflow.DecisionResult)
			}
		},
	}, d)
	return out
}

func (s *imageSuite) TestReviewThenApproveByUpdate() {
	s.mockHappyStages(70)
	var bad, good *updateOutcome
	s.env.RegisterDelayedCallback(func() {
		p := s.query()
		s.Equal(photoflow.StatusPendingReview, p.Status)
		s.Equal(photoflow.StageAwaitingReview, p.Stage)
		s.InDelta(70, p.Moderation.Score, 0.01)
		s.Equal(photoflow.StatusPendingReview, s.persisted[len(s.persisted)-1].Status, "the inbox sees the pending record")

		bad = s.update(photoflow.ReviewDecision{Decision: "maybe", Reviewer: "bob"})
		good = s.update(photoflow.ReviewDecision{Decision: photoflow.DecisionApprove, Reviewer: "bob", Reason: "art"})
	}, time.Hour)
	s.env.ExecuteWorkflow(ImageProcessing, testInput)
	rec := s.result()
	s.True(bad.done)
	s.ErrorContains(bad.err, "decision must be")
	s.True(good.done)
	s.NoError(good.err)
	s.True(good.result.Accepted)
	s.Equal(photoflow.StatusProcessing, good.result.Status)
	s.Equal(photoflow.StatusSucceeded, rec.Status)
	s.Equal(photoflow.ModerationApproved, rec.Moderation.Decision)
	s.Equal("bob", rec.Moderation.Reviewer)
	s.Equal("art", rec.Moderation.Reason)
	s.Require().NotNil(rec.Moderation.DecidedAt)
	s.Require().NotNil(rec.Moderation.DeadlineAt)
	s.Equal(72*time.Hour, rec.Moderation.DeadlineAt.Sub(*rec.Moderation.DecidedAt)+time.Hour)
}

func (s *imageSuite) TestReviewThenRejectBySignal() {
	s.mockHappyStages(70)
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(photoflow.DecisionSignal, photoflow.ReviewDecision{
			Decision: photoflow.DecisionReject, Reviewer: "carol", Reason: "nudity"})
	}, 2*time.Hour)
	s.env.ExecuteWorkflow(ImageProcessing, testInput)
	rec := s.result()
	s.Equal(photoflow.StatusRejected, rec.Status)
	s.Equal(photoflow.ErrInappropriate, rec.ErrorType)
	s.Equal(photoflow.ModerationRejected, rec.Moderation.Decision)
	s.Equal("carol", rec.Moderation.Reviewer)
	s.Equal("nudity", rec.Moderation.Reason)
	s.Contains(rec.ErrReason, "carol")
	s.Require().Len(s.failures, 1)
	s.Equal(photoflow.StatusRejected, s.failures[0].Status)
	s.env.AssertNotCalled(s.T(), photoflow.DetectLabelsActivity, mock.Anything, mock.Anything)
}

func (s *imageSuite) TestReviewDeadlineAppliesDefault() {
	for _, tc := range []struct{ def, wantDecision string }{
		{photoflow.DecisionApprove, photoflow.ModerationDefaultApproved},
		{photoflow.DecisionReject, photoflow.ModerationDefaultRejected},
	} {
		s.Run(tc.def, func() {
			s.SetupTest()
			s.mockHappyStages(70)
			settings := photoflow.DefaultSettings()
			settings.DefaultDecision = tc.def
			in := testInput
			in.Settings = &settings
			s.env.ExecuteWorkflow(ImageProcessing, in)
			rec := s.result()
			s.Equal(tc.wantDecision, rec.Moderation.Decision)
			s.Equal(deadlineReviewer, rec.Moderation.Reviewer)
			s.Equal(rec.Moderation.DeadlineAt, rec.Moderation.DecidedAt, "decided when the deadline passed")
			if tc.def == photoflow.DecisionApprove {
				s.Equal(photoflow.StatusSucceeded, rec.Status)
			} else {
				s.Equal(photoflow.StatusRejected, rec.Status)
			}
		})
	}
}

func (s *imageSuite) TestDuplicateAndLateDecisionsChangeNothing() {
	s.mockHappyStages(70)
	var dup *updateOutcome
	s.env.RegisterDelayedCallback(func() {
		// The first decision wins; the second signal and the update change nothing.
		s.env.SignalWorkflow(photoflow.DecisionSignal, photoflow.ReviewDecision{Decision: photoflow.DecisionApprove, Reviewer: "bob"})
		s.env.SignalWorkflow(photoflow.DecisionSignal, photoflow.ReviewDecision{Decision: photoflow.DecisionReject, Reviewer: "mallory"})
		dup = s.update(photoflow.ReviewDecision{Decision: photoflow.DecisionReject, Reviewer: "mallory"})
	}, time.Hour)
	s.env.ExecuteWorkflow(ImageProcessing, testInput)
	rec := s.result()
	s.Equal(photoflow.StatusSucceeded, rec.Status)
	s.Equal("bob", rec.Moderation.Reviewer)
	s.Equal(photoflow.ModerationApproved, rec.Moderation.Decision)
	s.True(dup.done)
	s.ErrorContains(dup.err, "already decided")
}

func (s *imageSuite) TestDecisionWithoutPendingReviewIsRejected() {
	s.env.OnActivity(photoflow.ExtractImageMetadataActivity, mock.Anything, mock.Anything).Return(jpegMeta, nil)
	s.env.OnActivity(photoflow.DetectModerationActivity, mock.Anything, mock.Anything).Return(photoflow.ModerationResult{}, nil)
	s.env.OnActivity(photoflow.DetectLabelsActivity, mock.Anything, mock.Anything).After(time.Minute).Return(someLabels, nil)
	s.env.OnActivity(photoflow.GenerateThumbnailActivity, mock.Anything, mock.Anything).Return(someThumb, nil)
	var upd *updateOutcome
	s.env.RegisterDelayedCallback(func() {
		upd = s.update(photoflow.ReviewDecision{Decision: photoflow.DecisionReject, Reviewer: "mallory"})
		s.env.SignalWorkflow(photoflow.DecisionSignal, photoflow.ReviewDecision{Decision: photoflow.DecisionReject, Reviewer: "mallory"})
	}, time.Second)
	s.env.ExecuteWorkflow(ImageProcessing, testInput)
	s.Equal(photoflow.StatusSucceeded, s.result().Status)
	s.True(upd.done)
	s.ErrorContains(upd.err, "not awaiting review")
}

func (s *imageSuite) TestFailedBranchCancelsSibling() {
	s.env.OnActivity(photoflow.ExtractImageMetadataActivity, mock.Anything, mock.Anything).Return(jpegMeta, nil)
	s.env.OnActivity(photoflow.DetectModerationActivity, mock.Anything, mock.Anything).Return(photoflow.ModerationResult{}, nil)
	s.env.OnActivity(photoflow.DetectLabelsActivity, mock.Anything, mock.Anything).Return(
		func(context.Context, photoflow.LabelsInput) ([]photoflow.Label, error) {
			time.Sleep(50 * time.Millisecond)
			return nil, temporal.NewNonRetryableApplicationError("cannot decode", photoflow.ErrCorruptImage, nil)
		})
	// The test environment reports the cancellation request rather than cancelling the
	// mock's context; the integration test covers delivery through heartbeats.
	var cancelled atomic.Bool
	s.env.SetOnActivityCanceledListener(func(info *activity.Info) {
		if info.ActivityType.Name == photoflow.GenerateThumbnailActivity {
			cancelled.Store(true)
		}
	})
	s.env.OnActivity(photoflow.GenerateThumbnailActivity, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, _ photoflow.ThumbnailInput) (photoflow.Thumbnail, error) {
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			return photoflow.Thumbnail{}, errors.New("abandoned")
		})
	s.env.ExecuteWorkflow(ImageProcessing, testInput)
	rec := s.failedWith(photoflow.ErrCorruptImage)
	s.Contains(rec.ErrReason, photoflow.DetectLabelsActivity)
	s.True(cancelled.Load(), "the thumbnail branch must be cancelled")
}

func (s *imageSuite) TestPersistFailureIsRecorded() {
	var calls atomic.Int32
	s.mockHappyStages(0)
	s.persistHook = func(rec photoflow.ImageRecord) error {
		if rec.Status == photoflow.StatusSucceeded {
			calls.Add(1)
			return temporal.NewApplicationError("table unavailable", photoflow.ErrUnavailable)
		}
		return nil
	}
	s.env.ExecuteWorkflow(ImageProcessing, testInput)
	rec := s.failedWith(photoflow.ErrUnavailable)
	s.Contains(rec.ErrReason, photoflow.PersistMetadataActivity)
	s.Equal(photoflow.DefaultActivityPolicies()[photoflow.PersistMetadataActivity].MaximumAttempts, calls.Load())
	s.Equal(&someThumb, rec.Thumbnail, "the failure record keeps the work already done")
}

func (s *imageSuite) TestThumbnailKeyNeverUnderIncoming() {
	s.env.OnActivity(photoflow.ExtractImageMetadataActivity, mock.Anything, mock.Anything).Return(jpegMeta, nil)
	s.env.OnActivity(photoflow.DetectModerationActivity, mock.Anything, mock.Anything).Return(photoflow.ModerationResult{}, nil)
	s.env.OnActivity(photoflow.DetectLabelsActivity, mock.Anything, mock.Anything).Return(someLabels, nil)
	var target, queue string
	s.env.OnActivity(photoflow.GenerateThumbnailActivity, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in photoflow.ThumbnailInput) (photoflow.Thumbnail, error) {
			target, queue = in.TargetKey, activity.GetInfo(ctx).TaskQueue
			return someThumb, nil
		})
	s.env.ExecuteWorkflow(ImageProcessing, testInput)
	s.result()
	s.Equal("Thumbnail/alice/trip/IMG_0042.jpg", target)
	s.Equal(photoflow.ThumbnailTaskQueue, queue, "thumbnails run on their own task queue")
}

func (s *imageSuite) TestActivityTimeoutIsRecorded() {
	settings := photoflow.DefaultSettings()
	p := settings.Activities[photoflow.ExtractImageMetadataActivity]
	p.MaximumAttempts = 2
	settings.Activities[photoflow.ExtractImageMetadataActivity] = p
	in := testInput
	in.Settings = &settings
	s.env.OnActivity(photoflow.ExtractImageMetadataActivity, mock.Anything, mock.Anything).Return(
		photoflow.ImageMetadata{}, temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_START_TO_CLOSE, nil))
	s.env.ExecuteWorkflow(ImageProcessing, in)
	s.failedWith(photoflow.ErrTimeout)
}

func (s *imageSuite) TestInvalidSettingsFailClearly() {
	settings := photoflow.DefaultSettings()
	settings.ReviewThreshold, settings.RejectThreshold = 90, 50
	in := testInput
	in.Settings = &settings
	s.env.ExecuteWorkflow(ImageProcessing, in)
	rec := s.failedWith(photoflow.ErrInvalidInput)
	s.Contains(rec.ErrReason, "threshold")
}

func TestWorkflowIDCollapsesDuplicates(t *testing.T) {
	a := photoflow.WorkflowID("b", "Incoming/u/a/x.jpg", `"etag1"`)
	require.Equal(t, a, photoflow.WorkflowID("b", "Incoming/u/a/x.jpg", "etag1"))
	require.NotEqual(t, a, photoflow.WorkflowID("b", "Incoming/u/a/x.jpg", "etag2"))
	long := string(make([]byte, 1000))
	require.LessOrEqual(t, len(photoflow.WorkflowID("b", long, "e")), 400)
}
