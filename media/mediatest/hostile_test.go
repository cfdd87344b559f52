package mediatest_test

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"slices"
	"strings"
	"testing"

	"photoflow/media"
	"photoflow/media/mediatest"
	"photoflow/vision"
)

// maxPixels is the pipeline's default pixel limit.
const maxPixels = 100_000_000

// verdict is what the pipeline's stages make of data, reproduced with the
// media package: identify (unknown or unreadable → FileNotSupported), the
// pixel limit, the JPEG/PNG type check, then decoding into a thumbnail.
func verdict(t *testing.T, data []byte) string {
	t.Helper()
	if len(data) == 0 {
		return mediatest.OutcomeNotSupported
	}
	info, err := media.Identify(bytes.NewReader(data), int64(len(data)))
	switch {
	case errors.Is(err, media.ErrUnknownFormat), errors.Is(err, media.ErrMalformed):
		return mediatest.OutcomeNotSupported
	case err != nil:
		t.Fatalf("identify: %v", err)
	}
	if int64(info.Width)*int64(info.Height) > maxPixels {
		return mediatest.OutcomeTooLarge
	}
	if info.Format != media.FormatJPEG && info.Format != media.FormatPNG {
		return mediatest.OutcomeNotSupported
	}
	_, err = media.Thumbnail(bytes.NewReader(data), info.Format, info.Orientation, 256, maxPixels)
	switch {
	case err == nil:
		return mediatest.OutcomeSucceeded
	case errors.Is(err, media.ErrTooLarge):
		return mediatest.OutcomeTooLarge
	case errors.Is(err, media.ErrMalformed), errors.Is(err, media.ErrUnsupportedFormat), errors.Is(err, io.ErrUnexpectedEOF):
		return mediatest.OutcomeCorrupt
	}
	t.Fatalf("thumbnail: %v", err)
	return ""
}

var outcomes = []string{mediatest.OutcomeSucceeded, mediatest.OutcomeNotSupported, mediatest.OutcomeCorrupt, mediatest.OutcomeTooLarge}

var hostileKinds = []string{
	mediatest.HostileNotImage, mediatest.HostileTruncatedJPEG, mediatest.HostileCorruptJPEG,
	mediatest.HostileBrokenHeader, mediatest.HostileJPEGVariant, mediatest.HostilePNG16,
	mediatest.HostilePNGInterlaced, mediatest.HostilePNGPalette, mediatest.HostileDamagedPNG,
	mediatest.HostileBomb, mediatest.HostileEXIF, mediatest.HostileMarkupEXIF,
	mediatest.HostileOtherFormat, mediatest.HostileMisnamedFormat,
}

func TestHostileFilesCatalogue(t *testing.T) {
	files := mediatest.HostileFiles()
	names := map[string]bool{}
	kinds := map[string]int{}
	total := 0
	for _, f := range files {
		if f.Name == "" || strings.ContainsAny(f.Name, `/\`) || names[f.Name] {
			t.Errorf("name %q is empty, a path or repeated", f.Name)
		}
		names[f.Name] = true
		if !slices.Contains(hostileKinds, f.Kind) {
			t.Errorf("%s: unknown kind %q", f.Name, f.Kind)
		}
		kinds[f.Kind]++
		if len(f.Expect) == 0 {
			t.Errorf("%s: no expected outcome", f.Name)
		}
		for i, e := range f.Expect {
			if !slices.Contains(outcomes, e) || slices.Contains(f.Expect[:i], e) {
				t.Errorf("%s: outcome %q is unknown or repeated", f.Name, e)
			}
		}
		if len(f.Data) > 300<<10 {
			t.Errorf("%s: %d bytes", f.Name, len(f.Data))
		}
		total += len(f.Data)
	}
	if total > 4<<20 {
		t.Errorf("catalogue is %d bytes", total)
	}
	for _, k := range hostileKinds {
		if kinds[k] == 0 {
			t.Errorf("no file of kind %s", k)
		}
	}
	if kinds[mediatest.HostileTruncatedJPEG] < 15 {
		t.Errorf("%d truncated JPEGs, want at least 15", kinds[mediatest.HostileTruncatedJPEG])
	}
	for _, name := range []string{"zero-bytes.jpg", "text.jpg", "page.jpg", "drawing.jpg", "cmyk.jpg", "progressive.jpg",
		"png-16bit-rgb.png", "png-interlaced.png", "png-palette-alpha.png", "bomb-jpeg-65500x65500.jpg",
		"bomb-png-100000x100000.png", "bomb-png-zeros-16384x16384.png", "exif-ifd-loop.jpg", "exif-markup.jpg",
		"image.gif", "image.tiff", "image.bmp", "image.webp", "image.heic"} {
		if !names[name] {
			t.Errorf("catalogue lacks %s", name)
		}
	}
}

func TestHostileFilesDeterministic(t *testing.T) {
	a := mediatest.HostileFiles()
	a[0].Name = "changed"
	a[1].Data = append(a[1].Data[:0], 'x')
	b := mediatest.HostileFiles()
	if b[0].Name == "changed" || (len(b[1].Data) == 1 && b[1].Data[0] == 'x') {
		t.Error("a caller's changes leak into the next call")
	}
	c := mediatest.HostileFiles()
	for i := range b {
		if b[i].Name != c[i].Name || !bytes.Equal(b[i].Data, c[i].Data) {
			t.Errorf("%s differs between calls", b[i].Name)
		}
	}
}

// Every file reaches one of its expected outcomes through the media
// package, and the outcome-specific facts hold: the non-images have no
// signature, the bombs are refused before decoding, the good files decode
// with the standard library and would not be held for moderation.
func TestHostileFilesVerdicts(t *testing.T) {
	analyzer := vision.NewOffline()
	for _, f := range mediatest.HostileFiles() {
		t.Run(f.Name, func(t *testing.T) {
			if got := verdict(t, f.Data); !slices.Contains(f.Expect, got) {
				t.Errorf("outcome %s, want one of %v", got, f.Expect)
			}
			switch f.Kind {
			case mediatest.HostileNotImage:
				if _, err := media.Identify(bytes.NewReader(f.Data), int64(len(f.Data))); !errors.Is(err, media.ErrUnknownFormat) {
					t.Errorf("identify: %v, want ErrUnknownFormat", err)
				}
			case mediatest.HostileBomb:
				format := media.FormatJPEG
				if bytes.HasPrefix(f.Data, []byte("\x89PNG")) {
					format = media.FormatPNG
				}
				if _, err := media.Decode(bytes.NewReader(f.Data), format, maxPixels); !errors.Is(err, media.ErrTooLarge) {
					t.Errorf("decode: %v, want ErrTooLarge", err)
				}
			}
			if !slices.Equal(f.Expect, []string{mediatest.OutcomeSucceeded}) {
				return
			}
			var img image.Image
			var err error
			if bytes.HasPrefix(f.Data, []byte("\x89PNG")) {
				img, err = png.Decode(bytes.NewReader(f.Data))
			} else {
				img, err = jpeg.Decode(bytes.NewReader(f.Data))
			}
			if err != nil {
				t.Fatalf("standard decoder: %v", err)
			}
			labels, err := analyzer.DetectModeration(t.Context(), vision.Image{Pixels: img, Orientation: 1})
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range labels {
				if l.Confidence >= 60 {
					t.Errorf("moderation would hold it for review: %v", labels)
				}
			}
		})
	}
}

// The files are what their names say, checked on the bytes rather than
// trusted from the generator.
func TestHostileFilesContent(t *testing.T) {
	byName := map[string]mediatest.HostileFile{}
	for _, f := range mediatest.HostileFiles() {
		byName[f.Name] = f
	}
	identify := func(name string) media.Info {
		t.Helper()
		data := byName[name].Data
		info, err := media.Identify(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return info
	}
	for name, format := range map[string]string{"image.gif": media.FormatGIF, "image.tiff": media.FormatTIFF,
		"image.bmp": media.FormatBMP, "image.webp": media.FormatWebP, "image.heic": media.FormatHEIC,
		"image.avif": media.FormatAVIF, "gif-named.jpg": media.FormatGIF, "png-named.jpg": media.FormatPNG,
		"jpeg-named.png": media.FormatJPEG} {
		if got := identify(name).Format; got != format {
			t.Errorf("%s: identified as %q", name, got)
		}
	}
	for name, size := range map[string][2]int{"bomb-jpeg-65500x65500.jpg": {65500, 65500},
		"bomb-jpeg-progressive-65500x65500.jpg": {65500, 65500}, "bomb-png-100000x100000.png": {100000, 100000},
		"bomb-png-zeros-16384x16384.png": {16384, 16384}} {
		if info := identify(name); info.Width != size[0] || info.Height != size[1] {
			t.Errorf("%s: %dx%d", name, info.Width, info.Height)
		}
	}
	// The markup survives identification, so an escaping test has something to escape.
	for _, name := range []string{"exif-markup.jpg", "exif-markup.png"} {
		if info := identify(name); info.Make != mediatest.MarkupMake || info.Model != mediatest.MarkupModel {
			t.Errorf("%s: make %q, model %q", name, info.Make, info.Model)
		}
	}
	// Hostile EXIF is noticed, and the image survives it. (A loop through
	// next-IFD pointers goes unnoticed by a reader that never follows them.)
	for name, f := range byName {
		if f.Kind != mediatest.HostileEXIF || strings.Contains(name, "long-strings") ||
			strings.Contains(name, "control-chars") || strings.Contains(name, "next-ifd") {
			continue
		}
		if info := identify(name); len(info.Warnings) == 0 || info.Width != 160 || info.Height != 120 {
			t.Errorf("%s: %+v, want warnings and 160x120", name, info)
		}
	}
	if info := identify("exif-control-chars.jpg"); strings.ContainsAny(info.Make+info.Model, "\x1b\x07\r\n\ufffd") {
		t.Errorf("control characters survive: %q, %q", info.Make, info.Model)
	}

	// PNG variants: the header says what the name says, and the pixels are right.
	ihdr := func(name string) (depth, colorType, interlace byte) {
		d := byName[name].Data
		return d[24], d[25], d[28]
	}
	if d, ct, _ := ihdr("png-16bit-rgb.png"); d != 16 || ct != 2 {
		t.Errorf("png-16bit-rgb: depth %d, colour type %d", d, ct)
	}
	if d, ct, _ := ihdr("png-16bit-gray.png"); d != 16 || ct != 0 {
		t.Errorf("png-16bit-gray: depth %d, colour type %d", d, ct)
	}
	if _, ct, _ := ihdr("png-palette-alpha.png"); ct != 3 || !bytes.Contains(byName["png-palette-alpha.png"].Data, []byte("tRNS")) {
		t.Errorf("png-palette-alpha: colour type %d, or no tRNS", ct)
	}
	for name, src := range map[string]*image.RGBA{"png-interlaced.png": mediatest.Photo(123, 77, 13),
		"png-interlaced-tiny.png": mediatest.Photo(3, 2, 14)} {
		if _, _, il := ihdr(name); il != 1 {
			t.Errorf("%s: not interlaced", name)
		}
		img, err := png.Decode(bytes.NewReader(byName[name].Data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if e := meanAbsError(t, src, img); e != [3]float64{} {
			t.Errorf("%s: pixels differ from the source by %v", name, e)
		}
	}
	pal, err := png.Decode(bytes.NewReader(byName["png-palette-alpha.png"].Data))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, a := pal.At(80, 60).RGBA(); a != 0 {
		t.Errorf("palette PNG centre has alpha %d, want transparent", a)
	}
	cmyk, err := jpeg.Decode(bytes.NewReader(byName["cmyk.jpg"].Data))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cmyk.(*image.CMYK); !ok {
		t.Errorf("cmyk.jpg decodes as %T", cmyk)
	}
	if d := byName["progressive.jpg"].Data; !bytes.Contains(d, []byte{0xFF, 0xC2}) {
		t.Error("progressive.jpg has no SOF2")
	}
	// The truncated files are prefixes of one another, cut at distinct offsets.
	var cuts []int
	for _, f := range mediatest.HostileFiles() {
		if f.Kind == mediatest.HostileTruncatedJPEG && strings.HasPrefix(f.Name, "truncated-") &&
			!strings.Contains(f.Name, "progressive") {
			cuts = append(cuts, len(f.Data))
		}
	}
	slices.Sort(cuts)
	if len(slices.Compact(slices.Clone(cuts))) != len(cuts) {
		t.Errorf("repeated cut offsets: %v", cuts)
	}
}
