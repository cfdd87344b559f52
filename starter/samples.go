package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"photoflow/media/mediatest"
)

// samplesCmd writes a small set of files that walk every branch of the pipeline.
func samplesCmd(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("samples", flag.ContinueOnError)
	dirs, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) != 1 {
		return usageError{"samples needs exactly one DIR"}
	}
	dir := dirs[0]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := []struct {
		name, what string
		data       []byte
	}{
		{"camera.jpg", "camera JPEG, 4032x3024 stored, EXIF orientation 6, make/model/date/GPS → SUCCEEDED",
			mediatest.CameraJPEG(4032, 3024, 6)},
		{"screenshot.png", "PNG without EXIF → SUCCEEDED", mediatest.PNG(mediatest.Photo(1280, 800, 2), nil)},
		{"skin.jpg", "mostly skin-toned picture → PENDING_REVIEW (offline moderation heuristic)",
			mediatest.JPEG(mediatest.SkinTone(800, 600), nil)},
		{"scan.tiff", "TIFF → FAILED, FileNotSupported", mediatest.TIFF(640, 480)},
		{"animation.gif", "GIF → FAILED, FileNotSupported", mediatest.GIF(320, 240)},
		{"notes.jpg", "text file named .jpg → FAILED, FileNotSupported (ImageIdentifyError)",
			[]byte("These are not pixels.\nA text file with an image's name must fail cleanly.\n")},
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(out, "%-28s %s\n", p, f.what)
	}
	return nil
}
