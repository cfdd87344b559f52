// Command bench compares the media package with the tools people would
// otherwise reach for: libvips (vipsthumbnail) for thumbnails and exiftool
// for metadata. Given the benchmark samples (starter gen-samples --bench), it
// times both sides per file, as whole processes and with start-up amortized,
// records peak memory, checks that the two agree, and prints a Markdown
// report (or JSON with --json). Figures are reported, never asserted.
//
//	bench --dir D [--runs N] [--size S] [--meta-batch M] [--meta-iters K] [--json]
//
// The same binary also serves as the "ours" side of the process comparison
// and as the launcher that measures each process:
//
//	bench thumb FILE OUT [SIZE]  identify FILE and write its thumbnail (default 250 px) to OUT
//	bench meta FILE              print media.Identify's result for FILE as JSON
//	bench spawn CMD [ARG...]     run CMD, print its wall time, CPU time and peak RSS
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"photoflow/media"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "thumb":
			if len(args) != 3 && len(args) != 4 {
				return errors.New("usage: bench thumb FILE OUT [SIZE]")
			}
			size := 250
			if len(args) == 4 {
				if _, err := fmt.Sscan(args[3], &size); err != nil || size <= 0 {
					return fmt.Errorf("thumb: bad size %q", args[3])
				}
			}
			return thumbCmd(args[1], args[2], size)
		case "meta":
			if len(args) != 2 {
				return errors.New("usage: bench meta FILE")
			}
			return metaCmd(args[1], out)
		case "spawn":
			if len(args) < 2 {
				return errors.New("usage: bench spawn CMD [ARG...]")
			}
			return spawnCmd(args[1:], out)
		}
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory holding the benchmark samples (starter gen-samples --bench --dir D)")
	runs := fs.Int("runs", 10, "runs of each measurement; medians are reported")
	size := fs.Int("size", 250, "thumbnail box, in pixels")
	metaBatch := fs.Int("meta-batch", 100, "files per exiftool batch run, to amortize Perl's start-up")
	metaIters := fs.Int("meta-iters", 2000, "in-process media.Identify calls per file")
	asJSON := fs.Bool("json", false, "print JSON instead of Markdown")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() > 0 || *runs < 1 || *size < 1 || *metaBatch < 1 || *metaIters < 1 {
		fs.Usage()
		return errors.New("needs --dir D, positive counts and no arguments")
	}
	cfg := config{dir: *dir, runs: *runs, size: *size, metaBatch: *metaBatch, metaIters: *metaIters}
	rep, err := measureAll(cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	writeMarkdown(out, rep)
	return nil
}

// makeThumb does what the worker does for one upload: read it whole, learn
// its format and orientation from the header, and make the thumbnail.
func makeThumb(path string, size int) (media.Thumb, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return media.Thumb{}, err
	}
	info, err := media.Identify(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return media.Thumb{}, err
	}
	return media.Thumbnail(bytes.NewReader(data), info.Format, info.Orientation, size, 0)
}

func thumbCmd(path, outPath string, size int) error {
	th, err := makeThumb(path, size)
	if err != nil {
		return err
	}
	return os.WriteFile(outPath, th.Data, 0o644)
}

// identifyFile reads only what Identify asks for, through the file as an
// io.ReaderAt, the way the worker reads an object with ranged requests.
func identifyFile(path string) (media.Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return media.Info{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return media.Info{}, err
	}
	return media.Identify(f, st.Size())
}

func metaCmd(path string, out io.Writer) error {
	info, err := identifyFile(path)
	if err != nil {
		return err
	}
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "%s\n", b)
	return err
}

// thumbExt is the extension of the thumbnail for a source file: the media
// package keeps the source's format, so libvips is asked for the same one.
func thumbExt(path string) string {
	if strings.EqualFold(filepath.Ext(path), ".png") {
		return ".png"
	}
	return ".jpg"
}
