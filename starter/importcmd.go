package main

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/schollz/progressbar/v3"

	"photoflow"
	"photoflow/objstore"
	"photoflow/pipeline"
)

// importPollEvery is how often the progress bar asks the import where it is.
const importPollEvery = 500 * time.Millisecond

// importCmd imports a local directory or an S3 prefix into an album through BucketSync, and
// follows it with a progress bar.
func importCmd(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	var c conn
	c.register(fs)
	source := fs.String("source", "", "s3://bucket/prefix, or a local directory to upload first")
	user := fs.String("user", "", "user the images belong to")
	album := fs.String("album", "", "album the images go in")
	importID := fs.String("import-id", "", "import ID (default: derived from user, album and source, so re-running attaches or resyncs)")
	concurrency := fs.Int("concurrency", photoflow.DefaultSyncConcurrency, "copies in flight")
	uploads := fs.Int("upload-concurrency", 8, "parallel uploads of a local directory")
	detach := fs.Bool("detach", false, "start the import and return without following it")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{"import takes no arguments (use --source)"}
	}
	if *source == "" && *importID == "" {
		return usageError{"import needs --source s3://bucket/prefix|DIR (or --import-id to attach to an import)"}
	}
	if *concurrency < 1 || *uploads < 1 {
		return usageError{"--concurrency and --upload-concurrency must be at least 1"}
	}
	var src importSource
	if *source != "" {
		if *user == "" || *album == "" {
			return usageError{"import --source needs --user and --album"}
		}
		if err := pipeline.CheckName("user", *user); err != nil {
			return usageError{err.Error()}
		}
		if err := pipeline.CheckName("album", *album); err != nil {
			return usageError{err.Error()}
		}
		if src, err = parseImportSource(*source); err != nil {
			return usageError{err.Error()}
		}
	}
	id := *importID
	if id == "" {
		id = defaultImportID(*user, *album, src)
	}
	if err := pipeline.CheckImportID(id); err != nil {
		return usageError{err.Error()}
	}

	p, closeFn, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	running, err := p.RunningImport(ctx, id)
	if err != nil {
		return err
	}
	switch {
	case running:
		fmt.Fprintf(os.Stderr, "import %s is running: attaching to it\n", id)
	case *source == "":
		// Nothing to start: show how the import ended, if it exists.
		sum, err := p.WaitImport(ctx, id)
		if err != nil {
			return fmt.Errorf("import %s is not running and --source was not given: %w", id, err)
		}
		printImportSummary(out, sum)
		return nil
	default:
		in := photoflow.SyncInput{ImportID: id, UserID: *user, AlbumID: *album, Concurrency: *concurrency,
			SourceBucket: src.bucket, SourcePrefix: src.prefix}
		if src.dir != "" {
			in.SourceBucket, in.SourcePrefix = p.Bucket, photoflow.StagingKeyPrefix(id)
			st, err := uploadDir(ctx, p.Objects, in.SourceBucket, in.SourcePrefix, src.dir, *uploads, os.Stderr)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "staged %d files in s3://%s/%s: %d uploaded (%.1f MB), %d already there; %d ignored (not regular files, or hidden)\n",
				st.Files, in.SourceBucket, in.SourcePrefix, st.Uploaded, float64(st.Bytes)/1e6, st.Skipped, st.Ignored)
		}
		wid, _, err := p.StartImport(ctx, in)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "import %s started (workflow %s)\n", id, wid)
	}
	if *detach {
		fmt.Fprintf(out, "import %s\n  follow:  starter import --import-id %s\n  control: starter import-control pause|resume|cancel %s\n", id, id, id)
		return nil
	}
	return followImport(ctx, p, id, out)
}

// followImport draws the progress until the import ends, then prints its summary. Ctrl-C
// stops following, not the import.
func followImport(ctx context.Context, p *pipeline.Pipeline, id string, out io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	type result struct {
		sum photoflow.SyncSummary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := p.WaitImport(ctx, id)
		done <- result{sum, err}
	}()
	bar := progressbar.NewOptions64(-1, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionShowCount(),
		progressbar.OptionSetDescription("import "+id), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(false), progressbar.OptionFullWidth(), progressbar.OptionShowDescriptionAtLineEnd())
	tick := time.NewTicker(importPollEvery)
	defer tick.Stop()
	for {
		select {
		case r := <-done:
			if prog, err := p.ImportProgress(context.WithoutCancel(ctx), id); err == nil {
				drawImportProgress(bar, prog)
			}
			_ = bar.Finish()
			fmt.Fprintln(os.Stderr)
			if r.err != nil {
				if ctx.Err() != nil {
					fmt.Fprintf(os.Stderr, "stopped following; the import goes on: starter import --import-id %s\n", id)
					return nil
				}
				return r.err
			}
			printImportSummary(out, r.sum)
			return nil
		case <-tick.C:
			prog, err := p.ImportProgress(ctx, id)
			if err != nil {
				// A query can fail while the run continues as new; the next tick asks again.
				continue
			}
			drawImportProgress(bar, prog)
		}
	}
}

func drawImportProgress(bar *progressbar.ProgressBar, prog photoflow.SyncProgress) {
	done := int64(prog.Done())
	limit := int64(prog.Listed)
	if !prog.ListingDone {
		// One more than known, so the bar never reads finished while the listing goes on.
		limit++
	}
	if limit > 0 && bar.GetMax64() != limit {
		bar.ChangeMax64(limit)
	}
	bar.Describe(importProgressLine(prog))
	_ = bar.Set64(done)
}

// importProgressLine is the bar's text: the counters, the rate and what is left.
func importProgressLine(p photoflow.SyncProgress) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listed %d", p.Listed)
	if !p.ListingDone {
		b.WriteString("+")
	}
	fmt.Fprintf(&b, " · copied %d · skipped %d · failed %d · %.1f/s", p.Copied, p.Skipped, p.Failed, p.RatePerSec)
	switch {
	case p.Cancelling:
		b.WriteString(" · cancelling")
	case p.Paused:
		b.WriteString(" · paused")
	case p.ETA > 0 && p.ETAPartial:
		fmt.Fprintf(&b, " · ETA ≥%s", p.ETA.Round(time.Second))
	case p.ETA > 0:
		fmt.Fprintf(&b, " · ETA %s", p.ETA.Round(time.Second))
	}
	return b.String()
}

func printImportSummary(out io.Writer, s photoflow.SyncSummary) {
	state := "finished"
	if s.Cancelled {
		state = "cancelled"
	}
	fmt.Fprintf(out, "import %s %s in %s: listed %d, copied %d, skipped %d (unchanged), failed %d; %d runs started\n",
		s.ImportID, state, s.Duration.Round(time.Second), s.Listed, s.Copied, s.Skipped, s.Failed, s.Started)
	for _, e := range s.RecentErrors {
		fmt.Fprintf(out, "  failed: %s\n", e)
	}
	if s.Failed > len(s.RecentErrors) {
		fmt.Fprintf(out, "  (%d more failures not shown)\n", s.Failed-len(s.RecentErrors))
	}
}

// importSource is either an S3 prefix or a local directory.
type importSource struct {
	bucket, prefix string
	dir            string // absolute
}

func (s importSource) String() string {
	if s.dir != "" {
		return s.dir
	}
	return "s3://" + s.bucket + "/" + s.prefix
}

func parseImportSource(src string) (importSource, error) {
	if rest, ok := strings.CutPrefix(src, "s3://"); ok {
		bucket, prefix, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return importSource{}, fmt.Errorf("source %q names no bucket", src)
		}
		return importSource{bucket: bucket, prefix: prefix}, nil
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return importSource{}, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return importSource{}, fmt.Errorf("source: %w", err)
	}
	if !fi.IsDir() {
		return importSource{}, fmt.Errorf("source %s is not a directory (use process for single files)", src)
	}
	return importSource{dir: abs}, nil
}

// defaultImportID is stable for a user, album and source, so running the same import again
// attaches to it while it runs and resyncs (copying only what changed) once it has ended.
func defaultImportID(user, album string, src importSource) string {
	sum := sha256.Sum256([]byte(user + "\x00" + album + "\x00" + src.String()))
	return "imp-" + hex.EncodeToString(sum[:6])
}

// uploadStats is what uploadDir did.
type uploadStats struct {
	Files    int // regular files found
	Uploaded int
	Skipped  int // already staged with the same content
	Ignored  int // not regular files (links, devices…) or hidden
	Bytes    int64
}

type stagedFile struct {
	path, key string
	size      int64
}

// uploadDir stages every regular file below dir under prefix, workers at a time, skipping
// those already there with the same MD5 (the ETag of a single-part upload), so an
// interrupted upload resumes where it stopped. Symbolic links are not followed, and hidden
// files (".DS_Store") are left out: the pipeline would only fail them.
func uploadDir(ctx context.Context, objects *objstore.Store, bucket, prefix, dir string, workers int, progress io.Writer) (uploadStats, error) {
	var st uploadStats
	var files []stagedFile
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		hidden := strings.HasPrefix(d.Name(), ".") && p != dir
		if d.IsDir() {
			if hidden {
				return filepath.SkipDir
			}
			return nil
		}
		if hidden || !d.Type().IsRegular() {
			st.Ignored++
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files = append(files, stagedFile{path: p, key: prefix + filepath.ToSlash(rel), size: info.Size()})
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("read %s: %w", dir, err)
	}
	st.Files = len(files)
	bar := progressbar.NewOptions(len(files), progressbar.OptionSetWriter(progress), progressbar.OptionShowCount(),
		progressbar.OptionSetDescription("uploading"), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionFullWidth())
	defer func() { _ = bar.Finish(); fmt.Fprintln(progress) }()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	work := make(chan stagedFile)
	for range workers {
		wg.Go(func() {
			for f := range work {
				uploaded, err := stageFile(ctx, objects, bucket, f)
				mu.Lock()
				switch {
				case err != nil:
					cancel(err)
				case uploaded:
					st.Uploaded++
					st.Bytes += f.size
				default:
					st.Skipped++
				}
				mu.Unlock()
				_ = bar.Add(1)
			}
		})
	}
feed:
	for _, f := range files {
		select {
		case work <- f:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return st, err
	}
	return st, nil
}

// stageFile uploads one file unless the staging key already holds the same bytes.
func stageFile(ctx context.Context, objects *objstore.Store, bucket string, f stagedFile) (bool, error) {
	fh, err := os.Open(f.path)
	if err != nil {
		return false, err
	}
	defer fh.Close()
	h := md5.New()
	size, err := io.Copy(h, fh)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", f.path, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	info, err := objects.Head(ctx, bucket, f.key)
	switch {
	case err == nil && info.ETag == sum:
		return false, nil
	case err != nil && !errors.Is(err, objstore.ErrNotFound):
		return false, err
	}
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	// The file is the body, not a copy in memory: a directory of large photos, eight at a
	// time, would otherwise need gigabytes.
	in := &s3.PutObjectInput{Bucket: &bucket, Key: &f.key, Body: fh, ContentLength: aws.Int64(size),
		Metadata: map[string]string{photoflow.ObjectMetaOriginalName: filepath.Base(f.path)}}
	if ct := mime.TypeByExtension(strings.ToLower(filepath.Ext(f.path))); ct != "" {
		in.ContentType = &ct
	}
	if _, err := objects.S3.PutObject(ctx, in); err != nil {
		return false, fmt.Errorf("upload %s to s3://%s/%s: %w", f.path, bucket, f.key, err)
	}
	return true, nil
}

// importControlCmd pauses, resumes or cancels a running import.
func importControlCmd(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("import-control", flag.ContinueOnError)
	var c conn
	c.register(fs)
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 2 {
		return usageError{"import-control needs pause|resume|cancel and an IMPORT_ID"}
	}
	verb, id := rest[0], rest[1]
	if verb != "pause" && verb != "resume" && verb != "cancel" {
		return usageError{fmt.Sprintf("import-control: unknown action %q (pause, resume or cancel)", verb)}
	}
	if err := pipeline.CheckImportID(id); err != nil {
		return usageError{err.Error()}
	}
	p, closeFn, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	switch verb {
	case "pause":
		err = p.PauseImport(ctx, id)
	case "resume":
		err = p.ResumeImport(ctx, id)
	default:
		err = p.CancelImport(ctx, id)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "import %s: %s sent\n", id, verb)
	return nil
}
