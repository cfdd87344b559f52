package main

import (
	"fmt"
	"io"
)

func writeMarkdown(w io.Writer, r *Report) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	m := r.Machine
	p("## Machine\n\n")
	p("- CPU: %s, %d logical CPUs (GOMAXPROCS %d)\n", m.CPUModel, m.CPUs, m.GOMAXPROCS)
	p("- memory: %s; %s\n", m.MemTotal, m.OS)
	p("- tools: %s, %s, exiftool %s\n", r.Tools.Go, r.Tools.Vips, r.Tools.Exiftool)
	p("- %d runs of each process, alternating ours and theirs; medians of wall and CPU time, maximum of peak RSS\n", r.Runs)
	p("- peak RSS floor of the launcher (what a process doing nothing reports): %s\n\n", mib(r.RSSFloorKiB))

	p("## Thumbnails (%d px box, upright), one process per image\n\n", r.ThumbSize)
	p("| file | ours wall | libvips wall | ours/libvips | ours CPU | libvips CPU | ours peak RSS | libvips peak RSS | ours/libvips RSS |\n")
	p("|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, f := range r.Files {
		t := f.Thumb
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", f.Name,
			msec(t.Ours.WallMs), msec(t.Vips.WallMs), ratio(t.WallRatio),
			msec(t.Ours.CPUMs), msec(t.Vips.CPUMs),
			mib(t.Ours.MaxRSSKiB), mib(t.Vips.MaxRSSKiB), ratio(t.RSSRatio))
	}

	p("\n## Thumbnails, start-up amortized\n\n")
	p("Ours: median of %d calls inside one process (read, identify, thumbnail). "+
		"libvips: one vipsthumbnail over %d copies, divided by %d", r.Runs, r.Runs, r.Runs)
	if r.Runs > 1 {
		p("; marginal = (batch − single run) / %d, which leaves out start-up entirely", r.Runs-1)
	}
	p(".\n\n")
	p("| file | ours in process | libvips per file in batch | libvips marginal | ours/libvips (batch) |\n")
	p("|---|--:|--:|--:|--:|\n")
	for _, f := range r.Files {
		t := f.Thumb
		p("| %s | %s | %s | %s | %s |\n", f.Name, msec(t.OursInProcessMs), msec(t.VipsBatchPerFileMs),
			optMsec(t.VipsMarginalMs), ratio(t.InProcessRatio))
	}

	p("\n## Thumbnail quality\n\n")
	p("PSNR of ours against libvips's over RGB. The resamplers differ, so ~30–40 dB is expected; " +
		"a figure near 10 dB means the images do not show the same thing (a wrong orientation, say).\n\n")
	p("| file | source | ours | libvips | PSNR |\n")
	p("|---|---|---|---|--:|\n")
	for _, f := range r.Files {
		t := f.Thumb
		psnr := "sizes differ"
		if t.PSNR != nil {
			psnr = fmt.Sprintf("%.1f dB", *t.PSNR)
		}
		p("| %s | %s %dx%d, orientation %d | %s, %s | %s, %s | %s |\n", f.Name, f.Format, f.Width, f.Height,
			f.Orientation, t.OursSize, kb(t.OursBytes), t.VipsSize, kb(t.VipsBytes), psnr)
	}

	p("\n## Metadata\n\n")
	p("Ours in process: median of the calls that open the file, run media.Identify through the os.File and close it. "+
		"exiftool batch: one `exiftool -j -n` over %d copies, divided by %d.\n\n", r.MetaBatch, r.MetaBatch)
	p("| file | ours process | exiftool process | exiftool/ours | ours peak RSS | exiftool peak RSS | ours in process | exiftool per file in batch | exiftool marginal | exiftool batch/ours in process | agree |\n")
	p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	var mismatches []string
	for _, f := range r.Files {
		mr := f.Meta
		agree := "yes"
		if len(mr.Mismatches) > 0 {
			agree = "**MISMATCH**"
			for _, s := range mr.Mismatches {
				mismatches = append(mismatches, f.Name+": "+s)
			}
		}
		p("| %s | %s | %s | %s | %s | %s | %.1f µs | %s | %s | %s | %s |\n", f.Name,
			msec(mr.Ours.WallMs), msec(mr.Exiftool.WallMs), ratio(mr.ProcessRatio),
			mib(mr.Ours.MaxRSSKiB), mib(mr.Exiftool.MaxRSSKiB),
			mr.OursInProcessUs, msec(mr.ExiftoolBatchPerFileMs), optMsec(mr.ExiftoolMarginalMs),
			ratio(mr.BatchRatio), agree)
	}
	p("\nexiftool marginal = (batch − single run) / %d. ", r.MetaBatch-1)
	p("Compared with exiftool: width, height, orientation, make, model, DateTimeOriginal (with its offset), GPS.\n")
	if len(mismatches) > 0 {
		p("\n**Metadata mismatches:**\n\n")
		for _, s := range mismatches {
			p("- %s\n", s)
		}
	}
}

func msec(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 1:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.3f ms", v)
	}
}

func optMsec(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return msec(*v)
}

func ratio(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f×", v)
	}
	return fmt.Sprintf("%.2f×", v)
}

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

func kb(b int64) string { return fmt.Sprintf("%.1f KB", float64(b)/1000) }
