package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"photoflow/media"
)

func wantUsage(t *testing.T, args []string, err error, mention string) {
	t.Helper()
	var ue usageError
	if !errors.As(err, &ue) {
		t.Fatalf("run(%q) = %v (%T), want a usageError", args, err, err)
	}
	if !strings.Contains(err.Error(), mention) {
		t.Errorf("run(%q) = %q, want it to mention %q", args, err, mention)
	}
}

// Every case must fail before dialing: the unreachable address and the short deadline turn a
// dial into a non-usage error instead of a hang.
func TestRunUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		mention string
	}{
		{nil, "no command"},
		{[]string{"frobnicate"}, "frobnicate"},
		{[]string{"list", "--status", "BOGUS"}, "BOGUS"},
		{[]string{"list", "--status=pending_review"}, "pending_review"},
		{[]string{"list", "extra"}, "no arguments"},
		{[]string{"approve"}, "exactly one"},
		{[]string{"reject", "a/b/c.jpg", "a/b/d.jpg"}, "exactly one"},
		{[]string{"approve", "a/b/c.jpg", "--no-such-flag"}, "no-such-flag"},
		{[]string{"status"}, "exactly one"},
		{[]string{"process", "--user", "alice"}, "at least one FILE"},
		{[]string{"samples"}, "exactly one DIR"},
		{[]string{"samples", "a", "b"}, "exactly one DIR"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		args := tc.args
		if len(args) > 0 && args[0] != "frobnicate" && args[0] != "samples" {
			args = slices.Concat(args, []string{"--temporal-addr", "127.0.0.1:1"})
		}
		var out bytes.Buffer
		err := run(ctx, args, &out)
		cancel()
		wantUsage(t, args, err, tc.mention)
	}
}

func TestHelpIsNotAnError(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"help"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "starter samples DIR") {
		t.Errorf("help printed %q", out.String())
	}
}

func TestParseFlagsAfterPositionals(t *testing.T) {
	for _, args := range [][]string{
		{"alice/trip/x.jpg", "--reviewer", "bob", "--reason", "a sunset"},
		{"--reviewer", "bob", "alice/trip/x.jpg", "--reason=a sunset"},
		{"--reason", "a sunset", "--reviewer=bob", "alice/trip/x.jpg"},
	} {
		fs := flag.NewFlagSet("approve", flag.ContinueOnError)
		reviewer := fs.String("reviewer", "cli", "")
		reason := fs.String("reason", "", "")
		pos, err := parse(fs, args)
		if err != nil {
			t.Fatalf("parse(%q): %v", args, err)
		}
		if len(pos) != 1 || pos[0] != "alice/trip/x.jpg" || *reviewer != "bob" || *reason != "a sunset" {
			t.Errorf("parse(%q) = %q, reviewer %q, reason %q", args, pos, *reviewer, *reason)
		}
	}

	fs := flag.NewFlagSet("process", flag.ContinueOnError)
	user := fs.String("user", "demo", "")
	// After "--" everything is a file, however many there are and whatever they look like.
	pos, err := parse(fs, []string{"a.jpg", "--user", "alice", "b.jpg", "--", "-c.jpg", "--user", "-d.jpg"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(pos, ",") != "a.jpg,b.jpg,-c.jpg,--user,-d.jpg" || *user != "alice" {
		t.Errorf("positionals %q, user %q; want a.jpg,b.jpg,-c.jpg,--user,-d.jpg and alice", pos, *user)
	}

	_, err = parse(flag.NewFlagSet("x", flag.ContinueOnError), []string{"ID", "--reviewer"})
	var ue usageError
	if !errors.As(err, &ue) {
		t.Errorf("unknown trailing flag: %v, want a usageError", err)
	}
}

func identify(t *testing.T, path string) (media.Info, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return media.Identify(f, st.Size())
}

func TestSamples(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "samples")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"samples", dir}, &out); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 6 {
		t.Errorf("wrote %d files, want 6", len(entries))
	}

	for _, tc := range []struct {
		name, format  string
		width, height int
		orientation   int
	}{
		{"camera.jpg", media.FormatJPEG, 4032, 3024, 6},
		{"screenshot.png", media.FormatPNG, 1280, 800, 1},
		{"skin.jpg", media.FormatJPEG, 800, 600, 1},
		{"scan.tiff", media.FormatTIFF, 640, 480, 1},
		{"animation.gif", media.FormatGIF, 320, 240, 1},
	} {
		info, err := identify(t, filepath.Join(dir, tc.name))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if info.Format != tc.format || info.Width != tc.width || info.Height != tc.height || info.Orientation != tc.orientation {
			t.Errorf("%s: %s %dx%d orientation %d; want %s %dx%d orientation %d", tc.name,
				info.Format, info.Width, info.Height, info.Orientation, tc.format, tc.width, tc.height, tc.orientation)
		}
		if !strings.Contains(out.String(), tc.name) {
			t.Errorf("output does not list %s:\n%s", tc.name, out.String())
		}
	}

	camera, _ := identify(t, filepath.Join(dir, "camera.jpg"))
	if camera.Make == "" || camera.CreationTime == "" || camera.GPS == nil {
		t.Errorf("camera.jpg lacks the EXIF its description promises: %+v", camera)
	}

	if _, err := identify(t, filepath.Join(dir, "notes.jpg")); !errors.Is(err, media.ErrUnknownFormat) {
		t.Errorf("notes.jpg: %v, want ErrUnknownFormat", err)
	}

}
