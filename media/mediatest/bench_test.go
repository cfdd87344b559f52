package mediatest_test

import (
	"bytes"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"photoflow/media"
	"photoflow/media/mediatest"
)

func TestGenerateBenchSamples(t *testing.T) {
	if testing.Short() {
		t.Skip("writes about 60 MP of images")
	}
	dir := filepath.Join(t.TempDir(), "bench")
	files, err := mediatest.GenerateBenchSamples(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name, kind, format string
		w, h, orientation  int
		progressive        bool
	}{
		{"bench-12mp.jpg", mediatest.SampleCamera, media.FormatJPEG, 4000, 3000, 6, false},
		{"bench-24mp.jpg", mediatest.SamplePlain, media.FormatJPEG, 6000, 4000, 1, false},
		{"bench-12mp-progressive.jpg", mediatest.SampleProgressive, media.FormatJPEG, 4000, 3000, 1, true},
		{"bench-12mp.png", mediatest.SamplePNG, media.FormatPNG, 4000, 3000, 1, false},
	}
	if len(files) != len(want) {
		t.Fatalf("%d files: %+v", len(files), files)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != len(want) {
		t.Fatalf("directory holds %d entries (%v)", len(entries), err)
	}
	for i, w := range want {
		f := files[i]
		if f.Name != w.name || f.Kind != w.kind {
			t.Errorf("file %d is %s (%s), want %s (%s)", i, f.Name, f.Kind, w.name, w.kind)
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(data)) != f.Size {
			t.Errorf("%s: %d bytes on disk, %d reported", f.Name, len(data), f.Size)
		}
		// Photo-like content: megabytes, not the kilobytes of a flat picture,
		// nor the tens of megabytes of noise.
		if mp := float64(w.w*w.h) / 1e6; float64(len(data)) < 0.1e6*mp || float64(len(data)) > 2e6*mp {
			t.Errorf("%s: %d bytes for %.0f MP", f.Name, len(data), mp)
		}
		info, err := media.Identify(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if info.Format != w.format || info.Width != w.w || info.Height != w.h || info.Orientation != w.orientation {
			t.Errorf("%s: identified as %+v", f.Name, info)
		}
		if camera := w.kind == mediatest.SampleCamera; camera != (info.Make == mediatest.CameraMake) {
			t.Errorf("%s: make %q", f.Name, info.Make)
		}
		if w.format != media.FormatJPEG {
			continue
		}
		if got := bytes.Contains(data, []byte{0xFF, 0xC2}); got != w.progressive {
			t.Errorf("%s: progressive %v", f.Name, got)
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width != w.w || cfg.Height != w.h {
			t.Errorf("%s: image/jpeg reads %dx%d (%v)", f.Name, cfg.Width, cfg.Height, err)
		}
	}
}
