package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg" // thumbnails are decoded for the quality check
	_ "image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"photoflow/media"
)

// sampleNames are the files starter gen-samples --bench writes, in the order
// the report lists them.
var sampleNames = []string{"bench-12mp.jpg", "bench-24mp.jpg", "bench-12mp-progressive.jpg", "bench-12mp.png"}

type config struct {
	dir                  string
	runs, size           int
	metaBatch, metaIters int
}

// Report is everything one run of the harness measured.
type Report struct {
	Machine Machine `json:"machine"`
	Tools   Tools   `json:"tools"`
	// Runs is how many times each process was run; ThumbSize the box.
	Runs      int `json:"runs"`
	ThumbSize int `json:"thumbSize"`
	// MetaBatch is the number of files in one exiftool batch run.
	MetaBatch int `json:"metaBatch"`
	// RSSFloorKiB is the peak RSS the launcher reports for a process that
	// does nothing: no process measured here can report less.
	RSSFloorKiB int64        `json:"rssFloorKiB"`
	Files       []FileResult `json:"files"`
}

// Machine describes where the figures were taken.
type Machine struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpuModel"`
	MemTotal   string `json:"memTotal"`
	OS         string `json:"os"`
}

// Tools are the versions compared.
type Tools struct {
	Go       string `json:"go"`
	Vips     string `json:"vips"`
	Exiftool string `json:"exiftool"`
}

// FileResult holds the figures for one sample.
type FileResult struct {
	Name        string      `json:"name"`
	Bytes       int64       `json:"bytes"`
	Format      string      `json:"format"`
	Width       int         `json:"width"`
	Height      int         `json:"height"`
	Orientation int         `json:"orientation"`
	Thumb       ThumbResult `json:"thumb"`
	Meta        MetaResult  `json:"meta"`
}

// ThumbResult compares media.Thumbnail with vipsthumbnail.
type ThumbResult struct {
	// Ours and Vips are one process per thumbnail, start-up included.
	Ours procStats `json:"ours"`
	Vips procStats `json:"vips"`
	// WallRatio and RSSRatio are ours/libvips; below 1 means ours is better.
	WallRatio float64 `json:"wallRatio"`
	RSSRatio  float64 `json:"rssRatio"`
	// OursInProcessMs is the median time of the same work inside a running
	// process: read, identify, thumbnail.
	OursInProcessMs float64 `json:"oursInProcessMs"`
	// VipsBatchPerFileMs is one vipsthumbnail over Runs copies, divided by
	// Runs; VipsMarginalMs removes the start-up entirely by subtracting a
	// single-file run (absent when Runs is 1).
	VipsBatchPerFileMs float64  `json:"vipsBatchPerFileMs"`
	VipsMarginalMs     *float64 `json:"vipsMarginalMs,omitempty"`
	// InProcessRatio is OursInProcessMs / VipsBatchPerFileMs.
	InProcessRatio float64 `json:"inProcessRatio"`
	// OursSize and VipsSize are the thumbnails' pixel sizes ("WxH").
	OursSize string `json:"oursSize"`
	VipsSize string `json:"vipsSize"`
	// OursBytes and VipsBytes are the encoded sizes.
	OursBytes int64 `json:"oursBytes"`
	VipsBytes int64 `json:"vipsBytes"`
	// PSNR is ours against libvips's, in dB over RGB; absent when the
	// sizes differ.
	PSNR *float64 `json:"psnr,omitempty"`
}

// MetaResult compares media.Identify with exiftool.
type MetaResult struct {
	Ours     procStats `json:"ours"`
	Exiftool procStats `json:"exiftool"`
	// ProcessRatio is exiftool/ours per process; above 1 means ours is faster.
	ProcessRatio float64 `json:"processRatio"`
	// OursInProcessUs is the median of MetaIters calls, each opening the
	// file, identifying it through the os.File and closing it.
	OursInProcessUs float64 `json:"oursInProcessUs"`
	// ExiftoolBatchPerFileMs is one exiftool over MetaBatch copies divided
	// by MetaBatch; ExiftoolMarginalMs subtracts a single-file run.
	ExiftoolBatchPerFileMs float64  `json:"exiftoolBatchPerFileMs"`
	ExiftoolMarginalMs     *float64 `json:"exiftoolMarginalMs,omitempty"`
	// BatchRatio is ExiftoolBatchPerFileMs over OursInProcessUs.
	BatchRatio float64 `json:"batchRatio"`
	// Mismatches lists the fields on which the two disagree.
	Mismatches []string `json:"mismatches"`
}

func measureAll(c config) (*Report, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	for _, tool := range []string{"vipsthumbnail", "exiftool"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s is not installed (bench/run installs it): %w", tool, err)
		}
	}
	var paths []string
	for _, n := range sampleNames {
		p := filepath.Join(c.dir, n)
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%w (write the samples with: go run ./starter gen-samples --bench --dir %s)", err, c.dir)
		}
		paths = append(paths, p)
	}
	work, err := os.MkdirTemp("", "photoflow-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	l := launcher{self: self}
	rep := &Report{
		Machine:   machine(),
		Tools:     tools(),
		Runs:      c.runs,
		ThumbSize: c.size,
		MetaBatch: c.metaBatch,
	}
	truePath, err := exec.LookPath("true")
	if err != nil {
		return nil, err
	}
	floor, err := l.measure(truePath)
	if err != nil {
		return nil, err
	}
	rep.RSSFloorKiB = floor.MaxRSS

	for i, p := range paths {
		progress("%s: identifying", filepath.Base(p))
		info, err := identifyFile(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		fr := FileResult{
			Name: filepath.Base(p), Bytes: st.Size(), Format: info.Format,
			Width: info.Width, Height: info.Height, Orientation: info.Orientation,
		}
		fdir := filepath.Join(work, fmt.Sprint(i))
		if err := os.Mkdir(fdir, 0o755); err != nil {
			return nil, err
		}
		if fr.Thumb, err = measureThumb(c, l, p, fdir); err != nil {
			return nil, fmt.Errorf("%s: thumbnail: %w", fr.Name, err)
		}
		if fr.Meta, err = measureMeta(c, l, p, fdir, info); err != nil {
			return nil, fmt.Errorf("%s: metadata: %w", fr.Name, err)
		}
		for _, m := range fr.Meta.Mismatches {
			fmt.Fprintf(os.Stderr, "!!! METADATA MISMATCH %s: %s\n", fr.Name, m)
		}
		rep.Files = append(rep.Files, fr)
	}
	return rep, nil
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// vipsOutput is vipsthumbnail's -o argument for a file: the same format
// as ours, and for JPEG the same quality.
func vipsOutput(path string) string {
	if thumbExt(path) == ".jpg" {
		return path + "[Q=85]"
	}
	return path
}

func measureThumb(c config, l launcher, src, dir string) (ThumbResult, error) {
	var r ThumbResult
	ext := thumbExt(src)
	oursOut := filepath.Join(dir, "ours"+ext)
	vipsOut := filepath.Join(dir, "vips"+ext)
	ours := []string{l.self, "thumb", src, oursOut, fmt.Sprint(c.size)}
	// vipsthumbnail autorotates by EXIF orientation unless --no-rotate.
	vips := []string{"vipsthumbnail", src, "-s", fmt.Sprint(c.size), "-o", vipsOutput(vipsOut)}
	progress("%s: thumbnail, %d processes each", filepath.Base(src), c.runs)
	uo, uv, err := l.alternate(c.runs, ours, vips)
	if err != nil {
		return r, err
	}
	r.Ours, r.Vips = summarize(uo), summarize(uv)
	r.WallRatio = r.Ours.WallMs / r.Vips.WallMs
	r.RSSRatio = float64(r.Ours.MaxRSSKiB) / float64(r.Vips.MaxRSSKiB)

	progress("%s: thumbnail in process", filepath.Base(src))
	var ds []time.Duration
	for i := range c.runs + 1 {
		start := time.Now()
		if _, err := makeThumb(src, c.size); err != nil {
			return r, err
		}
		if i > 0 { // the first call warms up
			ds = append(ds, time.Since(start))
		}
	}
	r.OursInProcessMs = ms(median(ds))

	progress("%s: libvips batch of %d", filepath.Base(src), c.runs)
	links, err := linkCopies(src, filepath.Join(dir, "vips-batch"), c.runs)
	if err != nil {
		return r, err
	}
	outPattern := filepath.Join(dir, "vips-batch-out", "%s"+ext)
	if err := os.Mkdir(filepath.Dir(outPattern), 0o755); err != nil {
		return r, err
	}
	batch := append([]string{"vipsthumbnail"}, links...)
	batch = append(batch, "-s", fmt.Sprint(c.size), "-o", vipsOutput(outPattern))
	bt, err := batchMedian(l, batch, min(c.runs, 3))
	if err != nil {
		return r, err
	}
	r.VipsBatchPerFileMs = ms(bt) / float64(c.runs)
	if c.runs > 1 {
		m := (ms(bt) - r.Vips.WallMs) / float64(c.runs-1)
		r.VipsMarginalMs = &m
	}
	r.InProcessRatio = r.OursInProcessMs / r.VipsBatchPerFileMs

	oi, ob, err := decodeFile(oursOut)
	if err != nil {
		return r, fmt.Errorf("our thumbnail: %w", err)
	}
	vi, vb, err := decodeFile(vipsOut)
	if err != nil {
		return r, fmt.Errorf("libvips thumbnail: %w", err)
	}
	r.OursBytes, r.VipsBytes = ob, vb
	r.OursSize = fmt.Sprintf("%dx%d", oi.Bounds().Dx(), oi.Bounds().Dy())
	r.VipsSize = fmt.Sprintf("%dx%d", vi.Bounds().Dx(), vi.Bounds().Dy())
	if r.OursSize == r.VipsSize {
		p := psnr(oi, vi)
		r.PSNR = &p
	}
	return r, nil
}

// batchMedian runs one batch command n times and returns the median wall
// time; the first run is unmeasured so the batch starts from a warm cache.
func batchMedian(l launcher, argv []string, n int) (time.Duration, error) {
	if _, err := l.measure(argv...); err != nil {
		return 0, err
	}
	var ds []time.Duration
	for range n {
		u, err := l.measure(argv...)
		if err != nil {
			return 0, err
		}
		ds = append(ds, u.Wall)
	}
	return median(ds), nil
}

// linkCopies makes n symbolic links to src in a new directory, so that a
// batch tool sees n files without n copies of the data on disk.
func linkCopies(src, dir string, n int) ([]string, error) {
	abs, err := filepath.Abs(src)
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	links := make([]string, n)
	for i := range links {
		links[i] = filepath.Join(dir, fmt.Sprintf("copy-%04d%s", i, filepath.Ext(src)))
		if err := os.Symlink(abs, links[i]); err != nil {
			return nil, err
		}
	}
	return links, nil
}

func measureMeta(c config, l launcher, src, dir string, info media.Info) (MetaResult, error) {
	var r MetaResult
	progress("%s: metadata, %d processes each", filepath.Base(src), c.runs)
	ours := []string{l.self, "meta", src}
	exif := []string{"exiftool", "-j", "-n", src}
	uo, ue, err := l.alternate(c.runs, ours, exif)
	if err != nil {
		return r, err
	}
	r.Ours, r.Exiftool = summarize(uo), summarize(ue)
	r.ProcessRatio = r.Exiftool.WallMs / r.Ours.WallMs

	progress("%s: metadata in process, %d calls", filepath.Base(src), c.metaIters)
	ds := make([]time.Duration, 0, c.metaIters)
	for i := range c.metaIters + 10 {
		start := time.Now()
		if _, err := identifyFile(src); err != nil {
			return r, err
		}
		if i >= 10 { // warm-up
			ds = append(ds, time.Since(start))
		}
	}
	r.OursInProcessUs = float64(median(ds)) / float64(time.Microsecond)

	progress("%s: exiftool batch of %d", filepath.Base(src), c.metaBatch)
	links, err := linkCopies(src, filepath.Join(dir, "exif-batch"), c.metaBatch)
	if err != nil {
		return r, err
	}
	bt, err := batchMedian(l, append([]string{"exiftool", "-j", "-n"}, links...), min(c.runs, 3))
	if err != nil {
		return r, err
	}
	r.ExiftoolBatchPerFileMs = ms(bt) / float64(c.metaBatch)
	if c.metaBatch > 1 {
		m := (ms(bt) - r.Exiftool.WallMs) / float64(c.metaBatch-1)
		r.ExiftoolMarginalMs = &m
	}
	r.BatchRatio = r.ExiftoolBatchPerFileMs * 1000 / r.OursInProcessUs

	r.Mismatches, err = compareExiftool(src, info)
	return r, err
}

// compareExiftool checks the fields the pipeline stores against exiftool's
// reading of the same file.
func compareExiftool(src string, info media.Info) ([]string, error) {
	out, err := exec.Command("exiftool", "-j", "-n", src).Output()
	if err != nil {
		return nil, fmt.Errorf("exiftool: %w", err)
	}
	var recs []map[string]any
	if err := json.Unmarshal(out, &recs); err != nil || len(recs) != 1 {
		return nil, fmt.Errorf("exiftool output: %v", err)
	}
	e := recs[0]
	str := func(k string) string {
		v, ok := e[k]
		if !ok {
			return ""
		}
		return strings.TrimSpace(fmt.Sprint(v))
	}
	num := func(k string, absent int) int {
		if f, ok := e[k].(float64); ok {
			return int(f)
		}
		return absent
	}
	// exiftool prints EXIF times as written, "2006:01:02 15:04:05"; the
	// pipeline stores "2006-01-02T15:04:05" plus the matching offset tag.
	when := func(t, off string) string {
		if len(t) < 19 || strings.Trim(t, "0: ") == "" {
			return ""
		}
		return strings.Replace(t[:10], ":", "-", 2) + "T" + t[11:19] + off
	}
	created := when(str("DateTimeOriginal"), str("OffsetTimeOriginal"))
	if created == "" {
		created = when(str("CreateDate"), str("OffsetTimeDigitized"))
	}
	var bad []string
	check := func(field string, ours, theirs any) {
		if fmt.Sprint(ours) != fmt.Sprint(theirs) {
			bad = append(bad, fmt.Sprintf("%s: ours %q, exiftool %q", field, fmt.Sprint(ours), fmt.Sprint(theirs)))
		}
	}
	check("width", info.Width, num("ImageWidth", 0))
	check("height", info.Height, num("ImageHeight", 0))
	check("orientation", info.Orientation, num("Orientation", 1))
	check("make", info.Make, str("Make"))
	check("model", info.Model, str("Model"))
	check("DateTimeOriginal", info.CreationTime, created)
	lat, latOK := e["GPSLatitude"].(float64)
	lon, lonOK := e["GPSLongitude"].(float64)
	switch {
	case info.GPS == nil && latOK && lonOK:
		bad = append(bad, fmt.Sprintf("gps: ours none, exiftool %v,%v", lat, lon))
	case info.GPS != nil && !(latOK && lonOK):
		bad = append(bad, fmt.Sprintf("gps: ours %v,%v, exiftool none", info.GPS.Latitude, info.GPS.Longitude))
	case info.GPS != nil && (math.Abs(info.GPS.Latitude-lat) > 1e-6 || math.Abs(info.GPS.Longitude-lon) > 1e-6):
		bad = append(bad, fmt.Sprintf("gps: ours %v,%v, exiftool %v,%v", info.GPS.Latitude, info.GPS.Longitude, lat, lon))
	}
	return bad, nil
}

func decodeFile(path string) (*image.RGBA, int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, 0, err
	}
	b := img.Bounds()
	rgba := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(rgba, rgba.Bounds(), img, b.Min, draw.Src)
	return rgba, int64(len(data)), nil
}

// psnr compares the RGB channels of two images of the same size; identical
// images score 99 dB rather than infinity, which JSON cannot carry.
func psnr(a, b *image.RGBA) float64 {
	var sum float64
	n := 0
	for i := 0; i+3 < len(a.Pix); i += 4 {
		for c := range 3 {
			d := float64(a.Pix[i+c]) - float64(b.Pix[i+c])
			sum += d * d
			n++
		}
	}
	if sum == 0 {
		return 99
	}
	return 10 * math.Log10(255*255/(sum/float64(n)))
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPUModel = procField(string(b), "model name")
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kib int64
		if _, err := fmt.Sscanf(procField(string(b), "MemTotal"), "%d kB", &kib); err == nil {
			m.MemTotal = fmt.Sprintf("%.1f GiB", float64(kib)/(1<<20))
		}
	}
	return m
}

// procField returns the value of the first "key : value" line.
func procField(text, key string) string {
	for line := range strings.Lines(text) {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func tools() Tools {
	version := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).Output()
		if err != nil {
			return "unknown"
		}
		return strings.TrimSpace(string(out))
	}
	return Tools{
		Go:       runtime.Version(),
		Vips:     version("vips", "--version"),
		Exiftool: version("exiftool", "-ver"),
	}
}
