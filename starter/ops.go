package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"go.temporal.io/api/serviceerror"

	"photoflow"
	"photoflow/objstore"
	"photoflow/pipeline"
	"photoflow/store"
)

// The operations commands answer the workshop's "were all images processed?" (step C read it
// off CloudWatch's succeeded/failed executions) from the metadata store and the bucket, and
// re-drive what failed for a transient reason.

// exitUnaccounted is report's exit code when something is unaccounted for: distinct from 1
// (the command failed) and 2 (usage), so a cron job can tell "the check ran and found
// something" from "the check could not run".
const exitUnaccounted = 3

// unaccountedError is report's verdict when objects or records do not add up.
type unaccountedError struct{ objects, records int }

func (e *unaccountedError) Error() string {
	return fmt.Sprintf("%d object(s) unaccounted for, %d record(s) without their object", e.objects, e.records)
}

// ExitCode is the process exit code main uses for this error.
func (e *unaccountedError) ExitCode() int { return exitUnaccounted }

// storeFlags are the worker's metadata store flags, read from the same PHOTOFLOW_* variables,
// so an operator passes the starter what the worker was given.
type storeFlags struct{ cfg store.OpenConfig }

func (s *storeFlags) register(fs *flag.FlagSet) {
	region := envOr("PHOTOFLOW_S3_REGION", photoflow.DefaultS3Region)
	fs.StringVar(&s.cfg.Kind, "store", envOr("PHOTOFLOW_STORE", store.KindSQLite), "metadata store: sqlite, postgres or dynamodb")
	fs.StringVar(&s.cfg.SQLitePath, "database", envOr("PHOTOFLOW_DATABASE",
		filepath.Join(envOr("PHOTOFLOW_DATA_DIR", "data"), "photoflow.db")), "the worker's SQLite metadata store")
	fs.StringVar(&s.cfg.PostgresDSN, "postgres-dsn", envOr("PHOTOFLOW_POSTGRES_DSN", ""), "PostgreSQL connection string, with --store postgres")
	fs.StringVar(&s.cfg.DynamoEndpoint, "dynamodb-endpoint", envOr("PHOTOFLOW_DYNAMODB_ENDPOINT", ""), "DynamoDB endpoint URL; empty for AWS")
	fs.StringVar(&s.cfg.DynamoRegion, "dynamodb-region", envOr("PHOTOFLOW_DYNAMODB_REGION", region), "DynamoDB region")
	fs.StringVar(&s.cfg.DynamoTablePrefix, "dynamodb-table-prefix", envOr("PHOTOFLOW_DYNAMODB_TABLE_PREFIX", "photoflow-"), "prefix of the DynamoDB table names")
}

func (s *storeFlags) open(ctx context.Context) (store.Backend, error) {
	if s.cfg.Kind == store.KindSQLite {
		// Opening a missing file would create an empty store, and report would then call
		// every object in the bucket unaccounted.
		if _, err := os.Stat(s.cfg.SQLitePath); err != nil {
			return nil, fmt.Errorf("metadata store %s: %w (pass the worker's --database or --store)", s.cfg.SQLitePath, err)
		}
	}
	return store.Open(ctx, s.cfg)
}

// objectStore reaches the bucket alone, for commands that need no Temporal.
func (c *conn) objectStore(ctx context.Context) (*objstore.Store, error) {
	s3cfg := objstore.Config{Endpoint: c.s3Endpoint, Region: c.s3Region, PathStyle: true}
	switch {
	case c.s3Endpoint == "aws":
		s3cfg.Endpoint, s3cfg.PathStyle = "", false
	case os.Getenv("AWS_ACCESS_KEY_ID") == "" && c.s3Endpoint == "http://"+photoflow.DefaultS3Addr:
		s3cfg.AccessKey, s3cfg.SecretKey = photoflow.DefaultS3AccessKey, photoflow.DefaultS3SecretKey
	}
	return objstore.New(ctx, s3cfg)
}

// failureGroup is the FAILED records of one error type.
type failureGroup struct {
	ErrorType  string `json:"errorType"`
	Count      int    `json:"count"`
	Rerunnable bool   `json:"rerunnable"`
	// Examples are a few image IDs, newest first.
	Examples      []string  `json:"examples"`
	LatestImageID string    `json:"latestImageID"`
	LatestReason  string    `json:"latestReason"`
	LatestAt      time.Time `json:"latestAt"`
}

const failureExamples = 3

// failureGroups reads every FAILED record and groups them by error type, largest group first.
func failureGroups(ctx context.Context, st store.Store) ([]failureGroup, error) {
	byType := map[string]*failureGroup{}
	err := store.ListAll(ctx, st, store.Filter{Status: photoflow.StatusFailed}, func(rec photoflow.ImageRecord) error {
		g := byType[rec.ErrorType]
		if g == nil {
			g = &failureGroup{ErrorType: rec.ErrorType,
				Rerunnable: pipeline.Rerunnable(photoflow.ImageRecord{Status: photoflow.StatusFailed, ErrorType: rec.ErrorType})}
			byType[rec.ErrorType] = g
		}
		g.Count++
		if len(g.Examples) < failureExamples {
			g.Examples = append(g.Examples, rec.ImageID)
		}
		// The store lists by upload time; the latest failure is the latest write.
		if at := cmp.Or(rec.UpdateTime, rec.UploadTime); g.LatestImageID == "" || at.After(g.LatestAt) {
			g.LatestAt, g.LatestImageID, g.LatestReason = at, rec.ImageID, rec.ErrReason
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list failed images: %w", err)
	}
	groups := make([]failureGroup, 0, len(byType))
	for _, g := range byType {
		groups = append(groups, *g)
	}
	slices.SortFunc(groups, func(a, b failureGroup) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.ErrorType, b.ErrorType))
	})
	return groups, nil
}

func failuresCmd(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("failures", flag.ContinueOnError)
	var c conn
	c.register(fs)
	var sf storeFlags
	sf.register(fs)
	asJSON := fs.Bool("json", false, "print the groups as JSON")
	if rest, err := parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return usageError{"failures takes no arguments"}
	}
	st, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	groups, err := failureGroups(ctx, st)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(groups)
	}
	if len(groups) == 0 {
		fmt.Fprintln(out, "no FAILED images")
		return nil
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ERROR_TYPE\tCOUNT\tRE-RUN\tEXAMPLES\tLATEST_REASON")
	var rerunnable []string
	for _, g := range groups {
		again := "no"
		if g.Rerunnable {
			again = "re-runnable"
			rerunnable = append(rerunnable, g.ErrorType)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", cmp.Or(g.ErrorType, "-"), g.Count, again,
			strings.Join(g.Examples, ", "), oneLine(g.LatestReason, 100))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, t := range rerunnable {
		fmt.Fprintf(out, "re-run with: starter redrive --error-type %s\n", t)
	}
	return nil
}

// redriveOptions select what redrive re-runs.
type redriveOptions struct {
	errorType string
	dryRun    bool
	force     bool
	// limit caps the runs started, so one command cannot flood the task queue.
	limit int
}

func redriveCmd(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("redrive", flag.ContinueOnError)
	var c conn
	c.register(fs)
	var sf storeFlags
	sf.register(fs)
	var o redriveOptions
	fs.StringVar(&o.errorType, "error-type", "", "re-run FAILED images of this error type (see `starter failures`)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "list what would be re-run, start nothing")
	fs.BoolVar(&o.force, "force", false, "re-run a type that is not transient (e.g. after fixing a bug); images that succeeded are never re-run")
	fs.IntVar(&o.limit, "limit", 100, "most images to re-run")
	if rest, err := parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return usageError{"redrive takes no arguments"}
	}
	if o.errorType == "" {
		return usageError{"redrive needs --error-type (see `starter failures`)"}
	}
	if o.limit <= 0 {
		return usageError{"--limit must be positive"}
	}
	// Refused before dialing: the answer does not depend on Temporal.
	if err := o.check(); err != nil {
		return err
	}
	st, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	p, closeFn, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	return redrive(ctx, p, st, o, out)
}

func (o redriveOptions) check() error {
	if o.force || slices.Contains(pipeline.TransientErrors, o.errorType) {
		return nil
	}
	return fmt.Errorf("%s is not a transient failure (transient: %s): another run would fail the same way; "+
		"fix the cause and pass --force, or upload again", o.errorType, strings.Join(pipeline.TransientErrors, ", "))
}

// redrive re-runs the FAILED images of o.errorType through pipeline.Rerun, whose workflow ID
// (the object's) and ALLOW_DUPLICATE_FAILED_ONLY policy mean the server itself refuses to
// run an image again once a run of it completed.
func redrive(ctx context.Context, p *pipeline.Pipeline, st store.Store, o redriveOptions, out io.Writer) error {
	if err := o.check(); err != nil {
		return err
	}
	var recs []photoflow.ImageRecord
	errLimit := errors.New("limit reached")
	err := store.ListAll(ctx, st, store.Filter{Status: photoflow.StatusFailed}, func(rec photoflow.ImageRecord) error {
		if rec.ErrorType != o.errorType {
			return nil
		}
		if len(recs) == o.limit {
			return errLimit
		}
		recs = append(recs, rec)
		return nil
	})
	more := errors.Is(err, errLimit)
	if err != nil && !more {
		return fmt.Errorf("list failed images: %w", err)
	}
	if len(recs) == 0 {
		fmt.Fprintf(out, "no FAILED images with error type %s\n", o.errorType)
		return nil
	}
	failed := 0
	for _, rec := range recs {
		if o.dryRun {
			fmt.Fprintf(out, "would re-run %s (s3://%s/%s): %s\n", rec.ImageID, rec.S3Bucket, rec.S3Key, oneLine(rec.ErrReason, 80))
			continue
		}
		in := rec
		if o.force && rec.Status == photoflow.StatusFailed {
			// Rerun's only objection to a non-transient type is the type itself. Presenting
			// it as transient keeps everything else Rerun does, above all its start options
			// (the object's workflow ID, ALLOW_DUPLICATE_FAILED_ONLY), which are what keep
			// an image that succeeded from running again.
			in.ErrorType = pipeline.TransientErrors[0]
		}
		run, err := p.Rerun(ctx, in)
		var already *serviceerror.WorkflowExecutionAlreadyStarted
		switch {
		case errors.As(err, &already):
			failed++
			fmt.Fprintf(out, "refused %s: its last run did not fail (it succeeded or was rejected since)\n", rec.ImageID)
		case err != nil:
			failed++
			fmt.Fprintf(out, "could not re-run %s: %v\n", rec.ImageID, err)
		default:
			fmt.Fprintf(out, "re-running %s  workflow %s  run %s\n", rec.ImageID, run.GetID(), run.GetRunID())
		}
	}
	if more {
		fmt.Fprintf(out, "stopped at --limit %d; more %s failures remain\n", o.limit, o.errorType)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d re-runs not started", failed, len(recs))
	}
	return nil
}

func reportCmd(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	var c conn
	c.register(fs)
	var sf storeFlags
	sf.register(fs)
	var o pipeline.ReportOptions
	fs.StringVar(&o.Prefix, "prefix", photoflow.IncomingPrefix, "object key prefix to check")
	fs.DurationVar(&o.Stale, "stale", 10*time.Minute, "age after which an object without a record, or a run without progress, is unaccounted")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if rest, err := parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return usageError{"report takes no arguments"}
	}
	if o.Stale < 0 {
		return usageError{"--stale must not be negative"}
	}
	st, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	objects, err := c.objectStore(ctx)
	if err != nil {
		return err
	}
	o.Now = time.Now()
	rep, err := pipeline.Reconcile(ctx, objects, c.bucket, st, o)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printReport(out, rep, o)
	}
	if !rep.AllAccounted() {
		return &unaccountedError{objects: len(rep.Unaccounted), records: len(rep.MissingObjects)}
	}
	return nil
}

func printReport(out io.Writer, rep pipeline.Report, o pipeline.ReportOptions) {
	fmt.Fprintf(out, "s3://%s/%s: %d objects, %d records\n", rep.Bucket, rep.Prefix, rep.Objects, rep.Records)
	var counts []string
	for _, s := range []photoflow.Status{photoflow.StatusSucceeded, photoflow.StatusFailed, photoflow.StatusRejected,
		photoflow.StatusPendingReview, photoflow.StatusProcessing} {
		counts = append(counts, fmt.Sprintf("%s %d", s, rep.Counts[s]))
	}
	fmt.Fprintf(out, "  %s\n", strings.Join(counts, "  "))
	if rep.InFlight > 0 {
		fmt.Fprintf(out, "  %d object(s) uploaded in the last %s have no record yet (in flight)\n", rep.InFlight, o.Stale)
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	if len(rep.Unaccounted) > 0 {
		fmt.Fprintf(tw, "unaccounted objects (%d):\n", len(rep.Unaccounted))
		fmt.Fprintln(tw, "  KEY\tSTATUS\tREASON")
		for _, u := range rep.Unaccounted {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", u.Key, cmp.Or(string(u.Status), "-"), u.Reason)
		}
	}
	if len(rep.MissingObjects) > 0 {
		fmt.Fprintf(tw, "records whose object is gone (%d):\n", len(rep.MissingObjects))
		fmt.Fprintln(tw, "  IMAGE_ID\tSTATUS\tKEY")
		for _, u := range rep.MissingObjects {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", u.ImageID, u.Status, u.Key)
		}
	}
	_ = tw.Flush()
	if rep.AllAccounted() {
		fmt.Fprintln(out, "all images accounted for")
	}
}

// oneLine keeps a reason to one table cell.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
