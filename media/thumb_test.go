package media_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"runtime"
	"testing"

	"photoflow/media"
	"photoflow/media/mediatest"
)

// quadrantCentres returns the centre of each quarter of a w×h picture with
// the colour Quadrants puts there.
func quadrantCentres(w, h int) map[image.Point]color.RGBA {
	return map[image.Point]color.RGBA{
		{w / 4, h / 4}:         mediatest.Red,
		{3 * w / 4, h / 4}:     mediatest.Green,
		{w / 4, 3 * h / 4}:     mediatest.Blue,
		{3 * w / 4, 3 * h / 4}: mediatest.Yellow,
	}
}

func near(a, b uint8, tol int) bool {
	d := int(a) - int(b)
	return d <= tol && d >= -tol
}

// checkQuadrants asserts that img shows the upright Quadrants picture.
func checkQuadrants(t *testing.T, img image.Image) {
	t.Helper()
	b := img.Bounds()
	for p, want := range quadrantCentres(b.Dx(), b.Dy()) {
		r, g, bl, _ := img.At(b.Min.X+p.X, b.Min.Y+p.Y).RGBA()
		got := color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 255}
		if !near(got.R, want.R, 40) || !near(got.G, want.G, 40) || !near(got.B, want.B, 40) {
			t.Errorf("pixel %v = %v, want %v", p, got, want)
		}
	}
}

func TestThumbnailOrientations(t *testing.T) {
	upright := mediatest.Quadrants(400, 300)
	for _, format := range []string{media.FormatJPEG, media.FormatPNG} {
		for o := 1; o <= 8; o++ {
			t.Run(fmt.Sprintf("%s/%d", format, o), func(t *testing.T) {
				stored := mediatest.StoredFor(upright, o)
				exif := mediatest.EncodeEXIF(mediatest.EXIF{Orientation: o}, binary.BigEndian)
				var data []byte
				if format == media.FormatJPEG {
					data = mediatest.JPEG(stored, exif)
				} else {
					data = mediatest.PNG(stored, exif)
				}
				info, err := identifyBytes(data)
				if err != nil {
					t.Fatal(err)
				}
				sw, sh := media.OrientedSize(400, 300, o)
				if info.Orientation != o || info.Width != sw || info.Height != sh {
					t.Fatalf("Identify: %+v", info)
				}
				th, err := media.Thumbnail(bytes.NewReader(data), info.Format, info.Orientation, 250, 0)
				if err != nil {
					t.Fatal(err)
				}
				if th.Width != 250 || th.Height != 188 || th.Format != format {
					t.Fatalf("thumbnail %dx%d %s, want 250x188 %s", th.Width, th.Height, th.Format, format)
				}
				img, kind, err := image.Decode(bytes.NewReader(th.Data))
				if err != nil {
					t.Fatal(err)
				}
				if kind != map[string]string{media.FormatJPEG: "jpeg", media.FormatPNG: "png"}[format] {
					t.Errorf("encoded as %s", kind)
				}
				if b := img.Bounds(); b.Dx() != 250 || b.Dy() != 188 {
					t.Fatalf("encoded size %v", b)
				}
				checkQuadrants(t, img)
			})
		}
	}
}

func TestThumbnailNoUpscale(t *testing.T) {
	for _, o := range []int{1, 6} {
		data := mediatest.JPEG(mediatest.StoredFor(mediatest.Quadrants(100, 80), o), nil)
		th, err := media.Thumbnail(bytes.NewReader(data), media.FormatJPEG, o, 250, 0)
		if err != nil {
			t.Fatal(err)
		}
		if th.Width != 100 || th.Height != 80 {
			t.Errorf("orientation %d: %dx%d, want 100x80", o, th.Width, th.Height)
		}
		img, err := jpeg.Decode(bytes.NewReader(th.Data))
		if err != nil {
			t.Fatal(err)
		}
		checkQuadrants(t, img)
	}
}

func TestThumbnailPortraitAndExtreme(t *testing.T) {
	for _, tc := range []struct{ w, h, o, tw, th int }{
		{300, 400, 1, 188, 250},
		{4000, 10, 1, 250, 1},   // a sliver keeps at least one pixel
		{4000, 10, 6, 1, 250},   // and orientation swaps it
		{250, 250, 1, 250, 250}, // exactly the limit: untouched
	} {
		data := mediatest.PNG(mediatest.Quadrants(tc.w, tc.h), nil)
		th, err := media.Thumbnail(bytes.NewReader(data), media.FormatPNG, tc.o, 250, 0)
		if err != nil {
			t.Fatal(err)
		}
		if th.Width != tc.tw || th.Height != tc.th {
			t.Errorf("%dx%d o%d: got %dx%d, want %dx%d", tc.w, tc.h, tc.o, th.Width, th.Height, tc.tw, tc.th)
		}
	}
}

func TestThumbnailTruncated(t *testing.T) {
	jpg := mediatest.CameraJPEG(640, 480, 1)
	pngData := mediatest.PNG(mediatest.Photo(640, 480, 2), nil)
	for name, tc := range map[string]struct {
		data   []byte
		format string
	}{
		"JPEG half":        {jpg[:len(jpg)/2], media.FormatJPEG},
		"JPEG without EOI": {jpg[:len(jpg)-2], media.FormatJPEG},
		"JPEG header only": {jpg[:bytes.Index(jpg, []byte{0xFF, 0xDA})+4], media.FormatJPEG},
		"PNG half":         {pngData[:len(pngData)/2], media.FormatPNG},
		"PNG no IEND":      {pngData[:len(pngData)-12], media.FormatPNG},
		"PNG as JPEG":      {pngData, media.FormatJPEG},
		"empty":            {nil, media.FormatPNG},
	} {
		t.Run(name, func(t *testing.T) {
			// Identify still accepts the header: the damage is found here.
			_, err := media.Thumbnail(bytes.NewReader(tc.data), tc.format, 1, 250, 0)
			if !errors.Is(err, media.ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestThumbnailReaderError(t *testing.T) {
	data := mediatest.CameraJPEG(640, 480, 1)
	for _, limit := range []int{0, 100, len(data) / 2} {
		_, err := media.Thumbnail(&failingReader{data: data, limit: limit}, media.FormatJPEG, 1, 250, 0)
		if !errors.Is(err, errNetwork) || errors.Is(err, media.ErrMalformed) {
			t.Errorf("limit %d: err = %v, want the reader's error", limit, err)
		}
	}
}

func TestThumbnailUnsupported(t *testing.T) {
	_, err := media.Thumbnail(bytes.NewReader(mediatest.GIF(10, 10)), media.FormatGIF, 1, 250, 0)
	if !errors.Is(err, media.ErrUnsupportedFormat) {
		t.Errorf("err = %v, want ErrUnsupportedFormat", err)
	}
	if _, err := media.Thumbnail(bytes.NewReader(mediatest.PNG(mediatest.Quadrants(4, 4), nil)), media.FormatPNG, 1, 0, 0); err == nil {
		t.Error("maxSide 0 accepted")
	}
}

// bombPNG is a valid-looking PNG header claiming w×h RGB pixels, followed by
// a tiny IDAT: a decompression bomb in its simplest form.
func bombPNG(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, mediatest.PNGChunk("IHDR", ihdr)...)
	out = append(out, mediatest.PNGChunk("IDAT", []byte{0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	return append(out, mediatest.PNGChunk("IEND", nil)...)
}

// bombJPEG is a JPEG header claiming 65535×65535 pixels.
func bombJPEG() []byte {
	src := mediatest.JPEG(mediatest.Quadrants(16, 16), nil)
	sof := bytes.Index(src, []byte{0xFF, 0xC0})
	out := bytes.Clone(src)
	copy(out[sof+5:sof+9], []byte{0xFF, 0xFF, 0xFF, 0xFF})
	return out
}

func TestDecodeBomb(t *testing.T) {
	for name, tc := range map[string]struct {
		data   []byte
		format string
		limit  int64
	}{
		"PNG 100000x100000":      {bombPNG(100000, 100000), media.FormatPNG, 0},
		"PNG 2^31-1 square":      {bombPNG(1<<31-1, 1<<31-1), media.FormatPNG, 0},
		"PNG over caller limit":  {bombPNG(2000, 2000), media.FormatPNG, 1_000_000},
		"JPEG 65535x65535":       {bombJPEG(), media.FormatJPEG, 0},
		"JPEG over caller limit": {mediatest.JPEG(mediatest.Quadrants(200, 200), nil), media.FormatJPEG, 10_000},
	} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := media.Thumbnail(bytes.NewReader(tc.data), tc.format, 1, 250, tc.limit)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, media.ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
			if a := after.TotalAlloc - before.TotalAlloc; a > 1<<20 {
				t.Errorf("allocated %d bytes before refusing", a)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	src := mediatest.Quadrants(64, 48)
	img, err := media.Decode(bytes.NewReader(mediatest.PNG(src, nil)), media.FormatPNG, 64*48)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 64 || img.Bounds().Dy() != 48 {
		t.Fatalf("bounds %v", img.Bounds())
	}
	checkQuadrants(t, img)
	if _, err := media.Decode(bytes.NewReader(mediatest.PNG(src, nil)), media.FormatPNG, 64*48-1); !errors.Is(err, media.ErrTooLarge) {
		t.Errorf("one pixel over the limit: err = %v", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray16(image.Rect(0, 0, 3, 3))); err != nil {
		t.Fatal(err)
	}
	if _, err := media.Decode(&buf, media.FormatPNG, 0); err != nil {
		t.Errorf("16-bit PNG: %v", err)
	}
}

// The orientation table checked against hand-drawn expectations for a 3×2
// image with pixels a b c / d e f.
func TestOrientByHand(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for i, c := range "abcdef" {
		src.Pix[4*i] = uint8(c)
		src.Pix[4*i+3] = 255
	}
	want := map[int][]string{
		1: {"abc", "def"},
		2: {"cba", "fed"},
		3: {"fed", "cba"},
		4: {"def", "abc"},
		5: {"ad", "be", "cf"},
		6: {"da", "eb", "fc"},
		7: {"fc", "eb", "da"},
		8: {"cf", "be", "ad"},
	}
	for o, rows := range want {
		got := media.Orient(src, o)
		b := got.Bounds()
		var gotRows []string
		for y := b.Min.Y; y < b.Max.Y; y++ {
			var row []byte
			for x := b.Min.X; x < b.Max.X; x++ {
				r, _, _, _ := got.At(x, y).RGBA()
				row = append(row, byte(r>>8))
			}
			gotRows = append(gotRows, string(row))
		}
		if fmt.Sprint(gotRows) != fmt.Sprint(rows) {
			t.Errorf("orientation %d: got %v, want %v", o, gotRows, rows)
		}
		if w, h := media.OrientedSize(3, 2, o); w != b.Dx() || h != b.Dy() {
			t.Errorf("orientation %d: OrientedSize %dx%d, image %v", o, w, h, b)
		}
	}
}

// Orient undoes StoredFor for every orientation, on any image type and
// with a non-zero origin.
func TestOrientInvertsStoredFor(t *testing.T) {
	photo := mediatest.Photo(37, 23, 5)
	nrgba := image.NewNRGBA(image.Rect(10, 20, 47, 43))
	for y := range 23 {
		for x := range 37 {
			nrgba.Set(10+x, 20+y, photo.At(x, y))
		}
	}
	for o := 1; o <= 8; o++ {
		for name, stored := range map[string]image.Image{
			"RGBA":   mediatest.StoredFor(photo, o),
			"NRGBA":  shift(mediatest.StoredFor(nrgba, o)),
			"offset": shift(mediatest.StoredFor(photo, o)),
		} {
			got := media.Orient(stored, o)
			b := got.Bounds()
			if b.Dx() != 37 || b.Dy() != 23 {
				t.Fatalf("%s orientation %d: bounds %v", name, o, b)
			}
			for y := range 23 {
				for x := range 37 {
					if g, w := color.RGBAModel.Convert(got.At(b.Min.X+x, b.Min.Y+y)), photo.At(x, y); g != w {
						t.Fatalf("%s orientation %d: pixel %d,%d = %v, want %v", name, o, x, y, g, w)
					}
				}
			}
		}
	}
}

// shift copies img into an NRGBA whose bounds do not start at 0,0.
func shift(img image.Image) image.Image {
	b := img.Bounds()
	out := image.NewNRGBA(b.Add(image.Pt(5, -7)))
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			out.Set(x+5, y-7, img.At(x, y))
		}
	}
	return out
}

func TestOrientIgnoresInvalid(t *testing.T) {
	src := mediatest.Quadrants(4, 2)
	for _, o := range []int{-1, 0, 1, 9, 1 << 30} {
		if got := media.Orient(src, o); got != image.Image(src) {
			t.Errorf("orientation %d changed the image", o)
		}
		if w, h := media.OrientedSize(4, 2, o); w != 4 || h != 2 {
			t.Errorf("orientation %d: OrientedSize %dx%d", o, w, h)
		}
	}
}

// Large reductions take the box-filter path; colours must still land in the
// right quadrants.
func TestThumbnailLargeReduction(t *testing.T) {
	upright := mediatest.Quadrants(2000, 1500)
	for _, o := range []int{1, 3, 6, 7} {
		stored := mediatest.StoredFor(upright, o)
		for format, data := range map[string][]byte{
			media.FormatJPEG: mediatest.JPEG(stored, nil),
			media.FormatPNG:  mediatest.PNG(stored, nil),
		} {
			th, err := media.Thumbnail(bytes.NewReader(data), format, o, 250, 0)
			if err != nil {
				t.Fatal(err)
			}
			if th.Width != 250 || th.Height != 188 {
				t.Fatalf("%s o%d: %dx%d", format, o, th.Width, th.Height)
			}
			img, _, err := image.Decode(bytes.NewReader(th.Data))
			if err != nil {
				t.Fatal(err)
			}
			checkQuadrants(t, img)
		}
	}
}

// The two-stage resampler stays close to a direct Catmull-Rom, including
// partial edge blocks and odd sizes.
func TestResizeMatchesDirect(t *testing.T) {
	src := mediatest.Photo(1003, 751, 9)
	fast, direct := media.Resize(src, 250, 187), media.ResizeDirect(src, 250, 187)
	var sum, worst int
	for i := range fast.Pix {
		d := int(fast.Pix[i]) - int(direct.Pix[i])
		if d < 0 {
			d = -d
		}
		sum += d
		worst = max(worst, d)
	}
	mean := float64(sum) / float64(len(fast.Pix))
	t.Logf("mean difference %.2f, worst %d", mean, worst)
	if mean > 3 {
		t.Errorf("mean difference %.2f", mean)
	}
}

// Transparency survives a PNG thumbnail.
func TestThumbnailKeepsAlpha(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 1000, 500))
	for y := range 500 {
		for x := range 1000 {
			a := uint8(255)
			if x < 500 {
				a = 0
			}
			src.SetNRGBA(x, y, color.NRGBA{200, 30, 30, a})
		}
	}
	th, err := media.Thumbnail(bytes.NewReader(mediatest.PNG(src, nil)), media.FormatPNG, 1, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(th.Data))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, a := img.At(10, 25).RGBA(); a != 0 {
		t.Errorf("transparent side has alpha %d", a>>8)
	}
	if c := color.NRGBAModel.Convert(img.At(90, 25)).(color.NRGBA); c.A != 255 || !near(c.R, 200, 2) || !near(c.G, 30, 2) {
		t.Errorf("opaque side is %v", c)
	}
}
