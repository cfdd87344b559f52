package workflows

import (
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"photoflow"
)

// upserts records every typed search attribute upsert and returns the values by name, the
// last upsert of each name winning, as on the server.
func (s *imageSuite) upserts() func() map[string]any {
	got := map[string]any{}
	s.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		for k, v := range sa.GetUntypedValues() {
			got[k.GetName()] = v
		}
	}).Return(nil)
	return func() map[string]any { return got }
}

func (s *imageSuite) TestSearchAttributesOfSucceededRun() {
	got := s.upserts()
	s.mockHappyStages(0)
	s.env.ExecuteWorkflow(ImageProcessing, testInput)
	s.result()
	attrs := got()
	s.Equal("JPEG", attrs[photoflow.FormatSearchAttribute.GetName()])
	s.Equal(photoflow.ModerationAutoApproved, attrs[photoflow.ModerationSearchAttribute.GetName()])
	s.NotContains(attrs, photoflow.FailedStageSearchAttribute.GetName(), "a run that succeeded has no failed stage")
	s.Equal(string(photoflow.StatusSucceeded), attrs[photoflow.StatusSearchAttribute.GetName()])
}

func (s *imageSuite) TestSearchAttributesOfFailedRun() {
	got := s.upserts()
	gif := jpegMeta
	gif.Format = "GIF"
	s.env.OnActivity(photoflow.ExtractImageMetadataActivity, mock.Anything, mock.Anything).Return(gif, nil).Once()
	s.env.ExecuteWorkflow(ImageProcessing, testInput)
	s.failedWith(photoflow.ErrFileNotSupported)
	attrs := got()
	s.Equal("GIF", attrs[photoflow.FormatSearchAttribute.GetName()])
	s.Equal(photoflow.StageTypeCheck, attrs[photoflow.FailedStageSearchAttribute.GetName()])
	s.NotContains(attrs, photoflow.ModerationSearchAttribute.GetName(), "moderation never ran")
}

func (s *imageSuite) TestSearchAttributesFollowTheReview() {
	got := s.upserts()
	s.mockHappyStages(75)
	var pending any
	s.env.RegisterDelayedCallback(func() {
		pending = got()[photoflow.ModerationSearchAttribute.GetName()]
		s.env.SignalWorkflow(photoflow.DecisionSignal, photoflow.ReviewDecision{
			Decision: photoflow.DecisionReject, Reviewer: "bob", Reason: "no"})
	}, time.Hour)
	s.env.ExecuteWorkflow(ImageProcessing, testInput)
	s.result()
	s.Equal(photoflow.ModerationPending, pending, "a waiting review is findable")
	attrs := got()
	s.Equal(photoflow.ModerationRejected, attrs[photoflow.ModerationSearchAttribute.GetName()])
	s.Equal(photoflow.StageAwaitingReview, attrs[photoflow.FailedStageSearchAttribute.GetName()])
	s.Equal(string(photoflow.StatusRejected), attrs[photoflow.StatusSearchAttribute.GetName()])
}

// A run that started before the change (its history has no marker) keeps upserting only the
// old attributes, or its replay would meet commands its history lacks.
func (s *imageSuite) TestNewSearchAttributesAreVersionGuarded() {
	got := s.upserts()
	s.env.OnGetVersion("more-search-attributes", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	s.mockHappyStages(0)
	s.env.ExecuteWorkflow(ImageProcessing, testInput)
	s.result()
	attrs := got()
	s.Contains(attrs, photoflow.StatusSearchAttribute.GetName())
	for _, k := range []temporal.SearchAttributeKey{photoflow.FormatSearchAttribute,
		photoflow.FailedStageSearchAttribute, photoflow.ModerationSearchAttribute} {
		s.NotContains(attrs, k.GetName())
	}
}
