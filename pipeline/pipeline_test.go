package pipeline

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"
	"google.golang.org/protobuf/types/known/timestamppb"

	"photoflow"
)

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"alice", true},
		{"a", true},
		{"Alice_2024.trip-1", true},
		{"0day", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{".", false},
		{"..", false},
		{".hidden", false},
		{"-rf", false},
		{"_x", false},
		{"../x", false},
		{"a/b", false},
		{`a\b`, false},
		{"a b", false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a'b", false},
		{"a%2Fb", false},
		{"café", false},
		{"alice\n", false},
	} {
		err := CheckName("album", tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("CheckName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "album ") {
			t.Errorf("CheckName(%q) error %q does not name the field", tc.name, err)
		}
	}
}

func TestCleanFileName(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" means rejected
	}{
		{"IMG_0042.jpg", "IMG_0042.jpg"},
		{"photo of me.jpeg", "photo of me.jpeg"},
		{"Ünïcödé 写真.png", "Ünïcödé 写真.png"},
		{"..jpg", "..jpg"},
		{".hidden.jpg", ".hidden.jpg"},
		{"a.b.c.jpg", "a.b.c.jpg"},
		{"../../etc/passwd", "passwd"},
		{"/abs/path/x.jpg", "x.jpg"},
		{`C:\Users\bob\Pictures\x.jpg`, "x.jpg"},
		{`..\..\x.jpg`, "x.jpg"},
		{"dir/", "dir"},
		{strings.Repeat("é", 100), strings.Repeat("é", 100)}, // 200 bytes
		{"", ""},
		{".", ""},
		{"..", ""},
		{"/", ""},
		{"a/..", ""},
		{`a\..`, ""},
		{"x/.", ""},
		{strings.Repeat("a", 201), ""},
		{strings.Repeat("é", 101), ""},
		{"a\x00.jpg", ""},
		{"a\nb.jpg", ""},
		{"a\tb.jpg", ""},
		{"a\x1b[31m.jpg", ""},
		{"a\x7f.jpg", ""},
		{"a\u0085b.jpg", ""}, // NEL, a C1 control
		{"a\u009bb.jpg", ""}, // CSI, starts a terminal escape on its own
		{"caf\xe9.jpg", ""},  // Latin-1 from a local file system, not UTF-8
		{"\xff\xfe.jpg", ""},
	} {
		got, err := CleanFileName(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("CleanFileName(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("CleanFileName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		if strings.ContainsAny(got, `/\`) {
			t.Errorf("CleanFileName(%q) = %q keeps a separator", tc.in, got)
		}
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"alice/trip/x.jpg": `'alice/trip/x.jpg'`,
		"":                 `''`,
		"it's.jpg":         `'it\'s.jpg'`,
		`a\b`:              `'a\\b'`,
		// The backslash must be doubled before the quote is escaped, or \' would close it.
		`x\' OR 'a'='a`: `'x\\\' OR \'a\'=\'a'`,
		`"dq"`:          `'"dq"'`,
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func execInfo(id, run string, start time.Time) *workflowpb.WorkflowExecutionInfo {
	return &workflowpb.WorkflowExecutionInfo{
		Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: run},
		StartTime: timestamppb.New(start),
	}
}

func TestFindRunPicksNewest(t *testing.T) {
	tc := mocks.NewClient(t)
	p := &Pipeline{Temporal: tc, Namespace: "photos"}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tc.On("ListWorkflow", mock.Anything, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: "photos",
		Query:     `PhotoflowImageID = 'bob/trip/it\'s.jpg' AND PhotoflowStatus = 'PENDING_REVIEW'`,
		PageSize:  10,
	}).Return(&workflowservice.ListWorkflowExecutionsResponse{Executions: []*workflowpb.WorkflowExecutionInfo{
		execInfo("wf-old", "run-old", t0),
		execInfo("wf-new", "run-new", t0.Add(2*time.Hour)),
		execInfo("wf-mid", "run-mid", t0.Add(time.Hour)),
	}}, nil).Once()

	wid, rid, err := p.FindRun(context.Background(), "bob/trip/it's.jpg", photoflow.StatusPendingReview)
	if err != nil {
		t.Fatal(err)
	}
	if wid != "wf-new" || rid != "run-new" {
		t.Errorf("FindRun = %s, %s; want the newest run wf-new, run-new", wid, rid)
	}
}

func TestFindRunAnyStatus(t *testing.T) {
	tc := mocks.NewClient(t)
	p := &Pipeline{Temporal: tc, Namespace: "default"}
	tc.On("ListWorkflow", mock.Anything, mock.MatchedBy(func(r *workflowservice.ListWorkflowExecutionsRequest) bool {
		return r.GetQuery() == `PhotoflowImageID = 'alice/trip/x.jpg'`
	})).Return(&workflowservice.ListWorkflowExecutionsResponse{Executions: []*workflowpb.WorkflowExecutionInfo{
		execInfo("wf", "run", time.Unix(1, 0)),
	}}, nil).Once()
	if wid, rid, err := p.FindRun(context.Background(), "alice/trip/x.jpg", ""); err != nil || wid != "wf" || rid != "run" {
		t.Errorf("FindRun = %q, %q, %v", wid, rid, err)
	}
}

func TestFindRunNone(t *testing.T) {
	tc := mocks.NewClient(t)
	p := &Pipeline{Temporal: tc}
	tc.On("ListWorkflow", mock.Anything, mock.Anything).Return(&workflowservice.ListWorkflowExecutionsResponse{}, nil).Twice()

	_, _, err := p.FindRun(context.Background(), "alice/trip/x.jpg", photoflow.StatusPendingReview)
	if !errors.Is(err, ErrNoPendingReview) {
		t.Errorf("pending review, no run: %v, want ErrNoPendingReview", err)
	}
	_, _, err = p.FindRun(context.Background(), "alice/trip/x.jpg", "")
	if err == nil || errors.Is(err, ErrNoPendingReview) || !strings.Contains(err.Error(), "alice/trip/x.jpg") {
		t.Errorf("any status, no run: %v, want a plain not-found naming the image", err)
	}
}

func TestFindRunListFails(t *testing.T) {
	tc := mocks.NewClient(t)
	p := &Pipeline{Temporal: tc}
	cause := serviceerror.NewUnavailable("down")
	tc.On("ListWorkflow", mock.Anything, mock.Anything).Return(nil, cause).Once()
	if _, _, err := p.FindRun(context.Background(), "x", photoflow.StatusPendingReview); !errors.Is(err, cause) || errors.Is(err, ErrNoPendingReview) {
		t.Errorf("FindRun = %v, want the list error, not a missing review", err)
	}
}

var startInput = photoflow.ImageInput{Bucket: "photoflow", Key: "Incoming/alice/trip/x.jpg", ETag: `"abc"`,
	UserID: "alice", AlbumID: "trip", UploadTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}

var startID = photoflow.WorkflowID("photoflow", "Incoming/alice/trip/x.jpg", `"abc"`)

func TestStartFindsExisting(t *testing.T) {
	tc := mocks.NewClient(t)
	p := &Pipeline{Temporal: tc}
	existing := mocks.NewWorkflowRun(t)
	tc.On("DescribeWorkflowExecution", mock.Anything, startID, "").Return(&workflowservice.DescribeWorkflowExecutionResponse{
		WorkflowExecutionInfo: execInfo(startID, "run-1", time.Now()),
	}, nil).Once()
	tc.On("GetWorkflow", mock.Anything, startID, "run-1").Return(existing).Once()

	run, started, err := p.Start(context.Background(), startInput)
	if err != nil {
		t.Fatal(err)
	}
	if started {
		t.Error("started = true for a run that existed")
	}
	if run != existing {
		t.Errorf("run = %v, want the existing run", run)
	}
	tc.AssertNotCalled(t, "ExecuteWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything)
}

func startOptions(t *testing.T) any {
	return mock.MatchedBy(func(o client.StartWorkflowOptions) bool {
		ok := o.ID == startID && o.TaskQueue == photoflow.TaskQueue &&
			o.WorkflowIDReusePolicy == enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE &&
			o.WorkflowIDConflictPolicy == enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
		if v, has := o.TypedSearchAttributes.GetKeyword(photoflow.ImageIDSearchAttribute); !has || v != "alice/trip/x.jpg" {
			ok = false
		}
		if !ok {
			t.Logf("unexpected start options %+v", o)
		}
		return ok
	})
}

func TestStartCreates(t *testing.T) {
	tc := mocks.NewClient(t)
	p := &Pipeline{Temporal: tc}
	created := mocks.NewWorkflowRun(t)
	tc.On("DescribeWorkflowExecution", mock.Anything, startID, "").Return(nil, serviceerror.NewNotFound("no such run")).Once()
	tc.On("ExecuteWorkflow", mock.Anything, startOptions(t), photoflow.ImageProcessingWorkflow, startInput).Return(created, nil).Once()

	run, started, err := p.Start(context.Background(), startInput)
	if err != nil {
		t.Fatal(err)
	}
	if !started || run != created {
		t.Errorf("Start = %v, started %v; want the new run, started", run, started)
	}
}

func TestStartLosesRace(t *testing.T) {
	tc := mocks.NewClient(t)
	p := &Pipeline{Temporal: tc}
	winner := mocks.NewWorkflowRun(t)
	tc.On("DescribeWorkflowExecution", mock.Anything, startID, "").Return(nil, serviceerror.NewNotFound("no such run")).Once()
	tc.On("ExecuteWorkflow", mock.Anything, startOptions(t), photoflow.ImageProcessingWorkflow, startInput).
		Return(nil, serviceerror.NewWorkflowExecutionAlreadyStarted("already started", "req", "run-winner")).Once()
	tc.On("GetWorkflow", mock.Anything, startID, "run-winner").Return(winner).Once()

	run, started, err := p.Start(context.Background(), startInput)
	if err != nil {
		t.Fatal(err)
	}
	if started || run != winner {
		t.Errorf("Start = %v, started %v; want the other trigger's run, not started", run, started)
	}
}

func TestStartDescribeFails(t *testing.T) {
	tc := mocks.NewClient(t)
	p := &Pipeline{Temporal: tc}
	cause := serviceerror.NewUnavailable("frontend down")
	tc.On("DescribeWorkflowExecution", mock.Anything, startID, "").Return(nil, cause).Once()
	// Starting blind here would report started=true for a run that may have existed.
	_, started, err := p.Start(context.Background(), startInput)
	if !errors.Is(err, cause) || started {
		t.Errorf("Start = started %v, %v; want the describe error", started, err)
	}
}

func TestProgressPendingActivity(t *testing.T) {
	tc := mocks.NewClient(t)
	p := &Pipeline{Temporal: tc}
	v := mocks.NewEncodedValue(t)
	v.On("Get", mock.Anything).Return(func(ptr any) error {
		*ptr.(*photoflow.Progress) = photoflow.Progress{ImageID: "a/b/c.jpg", Stage: photoflow.StageLabelsThumbnail, Attempt: 0}
		return nil
	}).Once()
	tc.On("QueryWorkflow", mock.Anything, "wf", "run", photoflow.StatusQuery).Return(v, nil).Once()
	tc.On("DescribeWorkflowExecution", mock.Anything, "wf", "run").Return(&workflowservice.DescribeWorkflowExecutionResponse{
		PendingActivities: []*workflowpb.PendingActivityInfo{
			{ActivityType: &commonpb.ActivityType{Name: photoflow.GenerateThumbnailActivity}, Attempt: 4,
				LastFailure: &failurepb.Failure{Message: "timed out"}},
			{ActivityType: &commonpb.ActivityType{Name: photoflow.DetectLabelsActivity}, Attempt: 1},
		}}, nil).Once()
	prog, err := p.Progress(context.Background(), "wf", "run")
	if err != nil {
		t.Fatal(err)
	}
	if prog.Attempt != 4 || prog.LastError != "GenerateThumbnail: timed out" {
		t.Errorf("attempt %d, lastError %q; want the struggling activity's 4 and its failure", prog.Attempt, prog.LastError)
	}
}
