package main

import (
	"cmp"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"photoflow/media/mediatest"
)

// genSamplesCmd writes realistic sample files for load tests (mediatest.GenerateSamples)
// and says what the pipeline should make of them. With --bench it writes the fixed set of
// full-size photos for timing the pipeline instead (mediatest.GenerateBenchSamples):
//
//	starter gen-samples --count N --dir D [--seed S]   a random mix of N files
//	starter gen-samples --bench --dir D                 bench-12mp.jpg, bench-24mp.jpg,
//	                                                    bench-12mp-progressive.jpg, bench-12mp.png
func genSamplesCmd(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("gen-samples", flag.ContinueOnError)
	count := fs.Int("count", 100, "how many files to write")
	dir := fs.String("dir", "", "directory to write them in (created if missing)")
	seed := fs.Uint64("seed", 1, "seed: the same seed writes the same files")
	bench := fs.Bool("bench", false, "write the benchmark set instead of a random mix: 12 MP camera JPEG "+
		"(orientation 6), 24 MP JPEG, 12 MP progressive JPEG and 12 MP PNG; takes no --count or --seed")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{"gen-samples takes no arguments"}
	}
	if *bench {
		mixed := false
		fs.Visit(func(f *flag.Flag) { mixed = mixed || f.Name == "count" || f.Name == "seed" })
		if *dir == "" || mixed {
			return usageError{"gen-samples --bench needs --dir D and takes no --count or --seed"}
		}
		return genBenchSamples(*dir, out)
	}
	if *dir == "" || *count <= 0 {
		return usageError{"gen-samples needs --dir D and a positive --count N (or --bench for the benchmark set)"}
	}
	start := time.Now()
	st, err := mediatest.GenerateSamples(*dir, *count, *seed)
	if err != nil {
		return err
	}
	printSampleStats(out, *dir, st, time.Since(start))
	return nil
}

func genBenchSamples(dir string, out io.Writer) error {
	start := time.Now()
	files, err := mediatest.GenerateBenchSamples(dir)
	if err != nil {
		return err
	}
	var total int64
	for _, f := range files {
		total += f.Size
	}
	fmt.Fprintf(out, "wrote %d benchmark files (%.1f MB) to %s in %s\n", len(files), float64(total)/1e6, dir,
		time.Since(start).Round(time.Millisecond))
	what := map[string]string{
		"bench-12mp.jpg":             "4000×3000 baseline JPEG, camera EXIF, orientation 6",
		"bench-24mp.jpg":             "6000×4000 baseline JPEG",
		"bench-12mp-progressive.jpg": "4000×3000 progressive JPEG",
		"bench-12mp.png":             "4000×3000 PNG",
	}
	for _, f := range files {
		fmt.Fprintf(out, "  %-28s %6.1f MB  %s → SUCCEEDED\n", f.Name, float64(f.Size)/1e6, cmp.Or(what[f.Name], f.Kind))
	}
	return nil
}

func printSampleStats(out io.Writer, dir string, st mediatest.SampleStats, took time.Duration) {
	fmt.Fprintf(out, "wrote %d files (%.1f MB) to %s in %s\n", st.Count, float64(st.Bytes)/1e6, dir, took.Round(time.Millisecond))
	for _, k := range []struct{ kind, what string }{
		{mediatest.SampleCamera, "camera JPEGs with EXIF (make/model/date, most with GPS) → SUCCEEDED or review"},
		{mediatest.SamplePlain, "JPEGs without EXIF → SUCCEEDED"},
		{mediatest.SamplePNG, "PNGs → SUCCEEDED"},
		{mediatest.SampleText, "text files named .jpg → FAILED, FileNotSupported"},
		{mediatest.SampleCorrupt, "truncated JPEGs → FAILED, CorruptImage"},
	} {
		fmt.Fprintf(out, "  %5d  %s\n", st.Kinds[k.kind], k.what)
	}
	var orients []string
	for _, o := range []int{1, 3, 6, 8} {
		orients = append(orients, fmt.Sprintf("%d×%d", st.Orientations[o], o))
	}
	fmt.Fprintf(out, "  orientations %s; %d portrait; %d with GPS; largest side %d px\n",
		strings.Join(orients, ", "), st.Portrait, st.WithGPS, st.MaxSide)
	makes := make([]string, 0, len(st.Makes))
	for m, n := range st.Makes {
		makes = append(makes, fmt.Sprintf("%s %d", m, n))
	}
	sort.Strings(makes)
	years := make([]string, 0, len(st.Years))
	for y := range st.Years {
		years = append(years, y)
	}
	slices.Sort(years)
	if len(years) > 0 {
		fmt.Fprintf(out, "  cameras: %s; taken %s–%s\n", strings.Join(makes, ", "), years[0], years[len(years)-1])
	}
}
