// Command starter drives photoflow from the command line: it lands files in the bucket and
// starts their runs, waits for them, delivers review decisions and reports where images are.
// Its defaults reach a worker started with no configuration; flags and TEMPORAL_* variables
// (envconfig) reach any other.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	sdklog "go.temporal.io/sdk/log"

	"photoflow"
	"photoflow/pipeline"
)

const usage = `usage:
  starter process [--user U] [--album A] [--json] [--timeout D] FILE...
  starter approve IMAGE_ID [--reviewer R] [--reason T]
  starter reject  IMAGE_ID [--reviewer R] [--reason T]
  starter status  IMAGE_ID [--json]
  starter list    [--status S] [--album A] [--user U] [--json]
  starter samples DIR
  starter gen-samples --count N --dir D [--seed S]          realistic photos for load tests
  starter import --source s3://bucket/prefix|DIR --user U --album A [--import-id ID]
                 [--concurrency N] [--upload-concurrency N] [--detach]
  starter import --import-id ID                             attach to a running import
  starter import-control pause|resume|cancel IMPORT_ID
  starter user add NAME [--role user|reviewer] [--database data/photoflow.db]   (password on stdin)
  starter user passwd NAME [--database data/photoflow.db]                        (password on stdin)
  starter failures [--json]                               FAILED images by error type
  starter redrive --error-type T [--dry-run] [--limit N] [--force]
  starter report  [--prefix P] [--stale D] [--json]       were all images processed? (exit 3: no)

store flags (failures, redrive, report; as the worker's): --store sqlite|postgres|dynamodb,
--database, --postgres-dsn, --dynamodb-endpoint, --dynamodb-region, --dynamodb-table-prefix;
PHOTOFLOW_STORE, PHOTOFLOW_DATABASE, … work too.

connection flags (any command): --temporal-addr, --namespace, --s3-endpoint, --s3-region,
--bucket; TEMPORAL_ADDRESS / TEMPORAL_PROFILE and PHOTOFLOW_S3_ENDPOINT, PHOTOFLOW_BUCKET,
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY work too.
`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "starter:", err)
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprint(os.Stderr, usage)
			os.Exit(2)
		}
		var coded interface{ ExitCode() int }
		if errors.As(err, &coded) {
			os.Exit(coded.ExitCode())
		}
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// conn holds the connection flags every command shares.
type conn struct {
	temporalAddr, namespace, s3Endpoint, s3Region, bucket string
}

func (c *conn) register(fs *flag.FlagSet) {
	fs.StringVar(&c.temporalAddr, "temporal-addr", "", "Temporal frontend (default: envconfig, else "+photoflow.DefaultTemporalAddr+")")
	fs.StringVar(&c.namespace, "namespace", "", "Temporal namespace (default: envconfig, else "+photoflow.Namespace+")")
	fs.StringVar(&c.s3Endpoint, "s3-endpoint", envOr("PHOTOFLOW_S3_ENDPOINT", "http://"+photoflow.DefaultS3Addr), "S3 endpoint URL, or \"aws\"")
	fs.StringVar(&c.s3Region, "s3-region", envOr("PHOTOFLOW_S3_REGION", photoflow.DefaultS3Region), "S3 region")
	fs.StringVar(&c.bucket, "bucket", envOr("PHOTOFLOW_BUCKET", photoflow.DefaultBucket), "landing bucket")
}

func (c *conn) dial(ctx context.Context) (*pipeline.Pipeline, func(), error) {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return nil, nil, fmt.Errorf("temporal client config: %w", err)
	}
	if c.temporalAddr != "" {
		opts.HostPort = c.temporalAddr
	} else if opts.HostPort == "" {
		opts.HostPort = photoflow.DefaultTemporalAddr
	}
	if c.namespace != "" {
		opts.Namespace = c.namespace
	} else if opts.Namespace == "" {
		opts.Namespace = photoflow.Namespace
	}
	opts.Logger = sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tc, err := client.DialContext(dctx, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("dial temporal at %s (is the worker running?): %w", opts.HostPort, err)
	}
	objects, err := c.objectStore(ctx)
	if err != nil {
		tc.Close()
		return nil, nil, err
	}
	p := &pipeline.Pipeline{Temporal: tc, Objects: objects, Bucket: c.bucket, Namespace: opts.Namespace}
	return p, tc.Close, nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return usageError{"no command"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "process":
		return processCmd(ctx, rest, out)
	case "approve", "reject":
		return decideCmd(ctx, cmd, rest, out)
	case "status":
		return statusCmd(ctx, rest, out)
	case "list":
		return listCmd(ctx, rest, out)
	case "samples":
		return samplesCmd(rest, out)
	case "user":
		return userCmd(ctx, rest, os.Stdin, out)
	case "gen-samples":
		return genSamplesCmd(rest, out)
	case "import":
		return importCmd(ctx, rest, out)
	case "import-control":
		return importControlCmd(ctx, rest, out)
	case "failures":
		return failuresCmd(ctx, rest, out)
	case "redrive":
		return redriveCmd(ctx, rest, out)
	case "report":
		return reportCmd(ctx, rest, out)
	case "help", "-h", "--help":
		fmt.Fprint(out, usage)
		return nil
	}
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}

// parse accepts flags before and after positional arguments (`approve ID --reviewer bob`).
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{err.Error()}
		}
		rest := fs.Args()
		// flag stops at "--" and drops it; everything after it is positional, so parsing
		// must not resume there.
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		args = rest
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func processCmd(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("process", flag.ContinueOnError)
	var c conn
	c.register(fs)
	user := fs.String("user", "demo", "user the images belong to")
	album := fs.String("album", "default", "album the images go in")
	asJSON := fs.Bool("json", false, "print one JSON record a line")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait for each image")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usageError{"process needs at least one FILE"}
	}
	p, closeFn, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer closeFn()

	// Submit all first so the runs go in parallel, then wait for each.
	type job struct {
		file string
		sub  pipeline.Submission
		err  error
	}
	jobs := make([]job, len(files))
	for i, f := range files {
		jobs[i].file = f
		data, err := os.ReadFile(f)
		if err != nil {
			jobs[i].err = err
			continue
		}
		jobs[i].sub, jobs[i].err = p.Submit(ctx, *user, *album, filepath.Base(f), data)
	}
	failed := 0
	for _, j := range jobs {
		if j.err != nil {
			failed++
			fmt.Fprintf(os.Stderr, "starter: %s: %v\n", j.file, j.err)
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, *timeout)
		rec, err := p.Wait(wctx, j.sub.WorkflowID, j.sub.RunID)
		cancel()
		if err != nil {
			failed++
			fmt.Fprintf(os.Stderr, "starter: %s: %v\n", j.file, err)
			continue
		}
		if *asJSON {
			b, _ := json.Marshal(rec)
			fmt.Fprintln(out, string(b))
			continue
		}
		printRecord(out, j.file, rec, j.sub.Started)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files could not be submitted or followed", failed, len(files))
	}
	return nil
}

func printRecord(out io.Writer, file string, rec photoflow.ImageRecord, started bool) {
	fmt.Fprintf(out, "%s → %s  %s", file, rec.ImageID, rec.Status)
	if !started {
		fmt.Fprint(out, " (already processed: same object, same run)")
	}
	fmt.Fprintln(out)
	if rec.Dimensions != nil {
		fmt.Fprintf(out, "  %s %dx%d, %d bytes", rec.Format, rec.Dimensions.Width, rec.Dimensions.Height, rec.FileSize)
		if rec.ExifMake != "" {
			fmt.Fprintf(out, ", %s %s", rec.ExifMake, rec.ExifModel)
		}
		if rec.CreationTime != "" {
			fmt.Fprintf(out, ", taken %s", rec.CreationTime)
		}
		if rec.Geo != nil {
			fmt.Fprintf(out, ", at %.4f,%.4f", rec.Geo.Latitude, rec.Geo.Longitude)
		}
		fmt.Fprintln(out)
	}
	if len(rec.Tags) > 0 {
		fmt.Fprintf(out, "  tags: %s\n", strings.Join(rec.Tags, ", "))
	}
	if rec.Thumbnail != nil {
		fmt.Fprintf(out, "  thumbnail: %s (%dx%d)\n", rec.Thumbnail.Key, rec.Thumbnail.Width, rec.Thumbnail.Height)
	}
	if rec.Status == photoflow.StatusPendingReview {
		fmt.Fprintf(out, "  waiting for review (score %.1f): starter approve %s --reviewer you\n", rec.Moderation.Score, rec.ImageID)
	}
	if rec.ErrorType != "" {
		fmt.Fprintf(out, "  %s: %s\n", rec.ErrorType, rec.ErrReason)
	}
	fmt.Fprintf(out, "  workflow: %s\n", rec.WorkflowID)
}

func decideCmd(ctx context.Context, cmd string, args []string, out io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	var c conn
	c.register(fs)
	reviewer := fs.String("reviewer", envOr("USER", "cli"), "who decides")
	reason := fs.String("reason", "", "why")
	ids, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return usageError{cmd + " needs exactly one IMAGE_ID"}
	}
	p, closeFn, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	wid, rid, err := p.FindRun(ctx, ids[0], photoflow.StatusPendingReview)
	if err != nil {
		return err
	}
	res, err := p.Decide(ctx, wid, rid, photoflow.ReviewDecision{Decision: cmd, Reviewer: *reviewer, Reason: *reason})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: %s accepted (by %s); status now %s\n", ids[0], res.Decision, res.Reviewer, res.Status)
	return nil
}

func statusCmd(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	var c conn
	c.register(fs)
	asJSON := fs.Bool("json", false, "print the progress as JSON")
	ids, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return usageError{"status needs exactly one IMAGE_ID"}
	}
	p, closeFn, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	wid, rid, err := p.FindRun(ctx, ids[0], "")
	if err != nil {
		return err
	}
	prog, err := p.Progress(ctx, wid, rid)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(prog)
	}
	fmt.Fprintf(out, "%s  %s  stage %s", prog.ImageID, prog.Status, prog.Stage)
	if prog.Attempt > 1 {
		fmt.Fprintf(out, "  attempt %d", prog.Attempt)
	}
	fmt.Fprintln(out)
	if prog.LastError != "" {
		fmt.Fprintf(out, "  last error: %s\n", prog.LastError)
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	for _, st := range prog.Stages {
		took := "running"
		if st.Finished != nil {
			took = st.Finished.Sub(st.Started).Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", st.Stage, took, st.Error)
	}
	_ = tw.Flush()
	fmt.Fprintf(out, "  workflow: %s  run: %s\n", wid, rid)
	return nil
}

func listCmd(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	var c conn
	c.register(fs)
	status := fs.String("status", "", "PROCESSING, PENDING_REVIEW, SUCCEEDED, REJECTED or FAILED")
	album := fs.String("album", "", "album")
	user := fs.String("user", "", "user")
	asJSON := fs.Bool("json", false, "one JSON object a line")
	if rest, err := parse(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return usageError{"list takes no arguments"}
	}
	if *status != "" && !photoflow.Status(*status).Valid() {
		return usageError{fmt.Sprintf("unknown status %q", *status)}
	}
	p, closeFn, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	var conds []string
	for _, f := range []struct{ key, val string }{
		{photoflow.StatusSearchAttribute.GetName(), *status},
		{photoflow.AlbumSearchAttribute.GetName(), *album},
		{photoflow.UserSearchAttribute.GetName(), *user},
	} {
		if f.val != "" {
			conds = append(conds, fmt.Sprintf("%s = '%s'", f.key, strings.ReplaceAll(f.val, "'", `\'`)))
		}
	}
	conds = append(conds, fmt.Sprintf("WorkflowType = '%s'", photoflow.ImageProcessingWorkflow))
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	if !*asJSON {
		fmt.Fprintln(tw, "IMAGE_ID\tSTATUS\tERROR\tSTARTED\tWORKFLOW_ID")
	}
	var token []byte
	for {
		resp, err := p.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: p.Namespace, Query: strings.Join(conds, " AND "), PageSize: 200, NextPageToken: token})
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			sa := e.GetSearchAttributes().GetIndexedFields()
			get := func(k string) string {
				var s string
				if v, ok := sa[k]; ok {
					_ = json.Unmarshal(v.GetData(), &s)
				}
				return s
			}
			row := map[string]string{
				"imageID":    get(photoflow.ImageIDSearchAttribute.GetName()),
				"status":     get(photoflow.StatusSearchAttribute.GetName()),
				"errorType":  get(photoflow.ErrorTypeSearchAttribute.GetName()),
				"started":    e.GetStartTime().AsTime().UTC().Format(time.RFC3339),
				"workflowId": e.GetExecution().GetWorkflowId(),
				"runId":      e.GetExecution().GetRunId(),
			}
			if *asJSON {
				b, _ := json.Marshal(row)
				fmt.Fprintln(out, string(b))
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", row["imageID"], row["status"], row["errorType"], row["started"], row["workflowId"])
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	return tw.Flush()
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
