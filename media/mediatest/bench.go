package mediatest

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"sync"
)

// SampleProgressive is a progressive JPEG without EXIF. It is processed like
// any JPEG, but decoders do more work for it.
const SampleProgressive = "progressive-jpeg"

// benchSample is one file of the benchmark set and how to make it.
type benchSample struct {
	name, kind string
	render     func() []byte
}

// benchSamples are full-size photos in the encodings the pipeline's decode
// time depends on. The scenes are Photo's, whose sensor-like noise makes the
// files about as large as a camera's.
var benchSamples = []benchSample{
	// A camera's 12 MP frame, stored landscape and shown portrait (orientation 6).
	{"bench-12mp.jpg", SampleCamera, func() []byte { return CameraJPEG(4000, 3000, 6) }},
	{"bench-24mp.jpg", SamplePlain, func() []byte { return JPEG(Photo(6000, 4000, 2), nil) }},
	{"bench-12mp-progressive.jpg", SampleProgressive, func() []byte {
		return EncodeJPEG(Photo(4000, 3000, 3), JPEGOptions{Progressive: true})
	}},
	{"bench-12mp.png", SamplePNG, func() []byte {
		var buf bytes.Buffer
		// Default compression would take several times as long for a file
		// only a little smaller; decoding cost is much the same either way.
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, Photo(4000, 3000, 4)); err != nil {
			panic(err) // an in-memory RGBA always encodes
		}
		return buf.Bytes()
	}},
}

// GenerateBenchSamples writes the benchmark set into dir (created if
// missing): bench-12mp.jpg (4000×3000 baseline 4:2:0 at quality 90, with
// camera EXIF and orientation 6), bench-24mp.jpg (6000×4000 baseline),
// bench-12mp-progressive.jpg (4000×3000 progressive) and bench-12mp.png
// (4000×3000). They are the same on every run, so timings can be compared
// across versions. The files are returned in that order.
func GenerateBenchSamples(dir string) ([]SampleFile, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	files := make([]SampleFile, len(benchSamples))
	errs := make([]error, len(benchSamples))
	// Each file holds a few hundred MB of pixels while it is made, so
	// parallelism is capped by cores, not by the number of files.
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, s := range benchSamples {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			data := s.render()
			errs[i] = os.WriteFile(filepath.Join(dir, s.name), data, 0o644)
			files[i] = SampleFile{Name: s.name, Kind: s.kind, Size: int64(len(data))}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}
