package mediatest_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"testing"

	"photoflow/media/mediatest"
)

// testPicture has smooth colour gradients, hard edges between saturated
// colours and a gray ramp: everything chroma subsampling and quantisation
// have to get right, without the noise that makes the error depend on luck.
func testPicture(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(max(1, w-1)), float64(y)/float64(max(1, h-1))
			c := color.RGBA{uint8(40 + 180*fx), uint8(200 - 150*fy), uint8(60 + 120*fx*fy), 255}
			dx, dy := fx-0.3, fy-0.6
			switch {
			case dx*dx+dy*dy < 0.04:
				c = color.RGBA{230, 40, 30, 255}
			case fx > 0.7 && fy < 0.3:
				c = color.RGBA{20, 60, 220, 255}
			case fy > 0.9:
				v := uint8(255 * fx)
				c = color.RGBA{v, v, v, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// smoothPicture is a diagonal colour gradient.
func smoothPicture(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(60 + 4*x), uint8(180 - 3*y), uint8(90 + 2*(x+y)), 255})
		}
	}
	return img
}

// meanAbsError returns the mean absolute difference per channel (R, G, B) in
// 8-bit levels, after the decoder's own conversion to RGB.
func meanAbsError(t *testing.T, want, got image.Image) [3]float64 {
	t.Helper()
	wb, gb := want.Bounds(), got.Bounds()
	if wb.Dx() != gb.Dx() || wb.Dy() != gb.Dy() {
		t.Fatalf("decoded %v, want %v", gb, wb)
	}
	var sum [3]float64
	for y := range wb.Dy() {
		for x := range wb.Dx() {
			r0, g0, b0, _ := want.At(wb.Min.X+x, wb.Min.Y+y).RGBA()
			r1, g1, b1, _ := got.At(gb.Min.X+x, gb.Min.Y+y).RGBA()
			sum[0] += math.Abs(float64(r0>>8) - float64(r1>>8))
			sum[1] += math.Abs(float64(g0>>8) - float64(g1>>8))
			sum[2] += math.Abs(float64(b0>>8) - float64(b1>>8))
		}
	}
	n := float64(wb.Dx() * wb.Dy())
	return [3]float64{sum[0] / n, sum[1] / n, sum[2] / n}
}

// jpegMarkers lists the markers outside entropy-coded data, with RSTn
// markers (which sit inside it) counted separately.
func jpegMarkers(t *testing.T, data []byte) (markers []byte, restarts int) {
	t.Helper()
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		t.Fatal("no SOI")
	}
	i := 2
	for i+1 < len(data) {
		if data[i] != 0xFF {
			t.Fatalf("no marker at %d", i)
		}
		m := data[i+1]
		markers = append(markers, m)
		if m == 0xD9 {
			if i+2 != len(data) {
				t.Errorf("%d bytes after EOI", len(data)-i-2)
			}
			return markers, restarts
		}
		i += 2 + int(binary.BigEndian.Uint16(data[i+2:]))
		if m != 0xDA {
			continue
		}
		for i+1 < len(data) {
			if data[i] == 0xFF && data[i+1] != 0 {
				if data[i+1] < 0xD0 || data[i+1] > 0xD7 {
					break
				}
				restarts++
			}
			i++
		}
	}
	t.Fatal("no EOI")
	return nil, 0
}

var subsampleRatios = map[string]image.YCbCrSubsampleRatio{
	"444": image.YCbCrSubsampleRatio444,
	"422": image.YCbCrSubsampleRatio422,
	"420": image.YCbCrSubsampleRatio420,
	"440": image.YCbCrSubsampleRatio440,
}

type jpegCase struct {
	name string
	opts mediatest.JPEGOptions
}

// jpegCases is every option combination the encoder offers.
func jpegCases() []jpegCase {
	var cases []jpegCase
	modes := []struct {
		name              string
		progressive, sapx bool
	}{{"baseline", false, false}, {"progressive", true, false}, {"progressive-sa", true, true}}
	for _, mode := range modes {
		for _, ri := range []int{0, 1, 3} {
			for _, sub := range []string{"444", "422", "420", "440"} {
				cases = append(cases, jpegCase{fmt.Sprintf("%s/%s/ri%d", sub, mode.name, ri), mediatest.JPEGOptions{
					Subsampling: sub, Progressive: mode.progressive, SuccessiveApprox: mode.sapx, RestartInterval: ri}})
			}
			cases = append(cases,
				jpegCase{fmt.Sprintf("gray/%s/ri%d", mode.name, ri), mediatest.JPEGOptions{
					Gray: true, Progressive: mode.progressive, SuccessiveApprox: mode.sapx, RestartInterval: ri}},
				jpegCase{fmt.Sprintf("cmyk/%s/ri%d", mode.name, ri), mediatest.JPEGOptions{
					CMYK: true, Progressive: mode.progressive, SuccessiveApprox: mode.sapx, RestartInterval: ri}})
		}
	}
	return cases
}

// Every option combination decodes with image/jpeg to the source picture,
// at sizes that are and are not whole MCUs. The small sizes are mostly
// padding and use a smooth picture, since a hard edge in a 7×5 image is a
// large share of it whatever the encoder does.
func TestEncodeJPEGRoundTrip(t *testing.T) {
	sizes := [][2]int{{1, 1}, {7, 5}, {17, 33}, {203, 151}, {160, 128}}
	for _, tc := range jpegCases() {
		for _, size := range sizes {
			w, h := size[0], size[1]
			src := testPicture(w, h)
			if w < 64 {
				src = smoothPicture(w, h)
			}
			var want image.Image = src
			if tc.opts.Gray {
				g := image.NewGray(src.Bounds())
				for y := range h {
					for x := range w {
						g.Set(x, y, src.At(x, y))
					}
				}
				want = g
			}
			data := mediatest.EncodeJPEG(src, tc.opts)
			got, err := jpeg.Decode(bytes.NewReader(data))
			if err != nil {
				t.Errorf("%s %dx%d: %v", tc.name, w, h, err)
				continue
			}
			switch m := got.(type) {
			case *image.Gray:
				if !tc.opts.Gray {
					t.Errorf("%s: decoded as gray", tc.name)
				}
			case *image.CMYK:
				if !tc.opts.CMYK {
					t.Errorf("%s: decoded as CMYK", tc.name)
				}
			case *image.YCbCr:
				if want := subsampleRatios[tc.opts.Subsampling]; tc.opts.Gray || tc.opts.CMYK || m.SubsampleRatio != want {
					t.Errorf("%s: decoded as YCbCr %v", tc.name, m.SubsampleRatio)
				}
			default:
				t.Errorf("%s: decoded as %T", tc.name, got)
			}
			for ch, v := range meanAbsError(t, want, got) {
				if v > 3 {
					t.Errorf("%s %dx%d: mean error %.2f in channel %d", tc.name, w, h, v, ch)
				}
			}
		}
	}
}

// The files have the structure the options ask for, so the round trip above
// is not passing by accident (say, every file being baseline).
func TestEncodeJPEGStructure(t *testing.T) {
	src := testPicture(61, 45)
	for _, tc := range jpegCases() {
		data := mediatest.EncodeJPEG(src, tc.opts)
		markers, restarts := jpegMarkers(t, data)
		count := func(m byte) int { return bytes.Count(markers, []byte{m}) }
		comps := 3
		switch {
		case tc.opts.Gray:
			comps = 1
		case tc.opts.CMYK:
			comps = 4
		}
		wantScans := 1
		if tc.opts.Progressive {
			wantScans = 1 + 2*comps
			if tc.opts.SuccessiveApprox {
				wantScans++
			}
		}
		if tc.opts.Progressive && (count(0xC2) != 1 || count(0xC0) != 0) {
			t.Errorf("%s: progressive without a single SOF2: % x", tc.name, markers)
		}
		if !tc.opts.Progressive && (count(0xC0) != 1 || count(0xC2) != 0) {
			t.Errorf("%s: baseline without a single SOF0: % x", tc.name, markers)
		}
		if got := count(0xDA); got != wantScans {
			t.Errorf("%s: %d scans, want %d", tc.name, got, wantScans)
		}
		if got := count(0xEE) == 1; got != tc.opts.CMYK {
			t.Errorf("%s: Adobe marker present %v", tc.name, got)
		}
		if tc.opts.CMYK {
			i := bytes.Index(data, []byte("Adobe"))
			if i < 0 || data[i+11] != 0 {
				t.Errorf("%s: Adobe transform is not 0", tc.name)
			}
		}
		if (count(0xDD) > 0) != (tc.opts.RestartInterval > 0) || (restarts > 0) != (tc.opts.RestartInterval > 0) {
			t.Errorf("%s: %d DRI markers, %d restarts", tc.name, count(0xDD), restarts)
		}
		// With an interval of one MCU, the first scan restarts after every
		// MCU but the last: 4×3 MCUs of 16×16 at 4:2:0 for 61×45.
		if tc.opts.RestartInterval == 1 && tc.opts.Subsampling == "420" && !tc.opts.Progressive && restarts != 11 {
			t.Errorf("%s: %d restarts, want 11", tc.name, restarts)
		}
		if !bytes.Equal(data, mediatest.EncodeJPEG(src, tc.opts)) {
			t.Errorf("%s: output differs between calls", tc.name)
		}
	}
}

// Progressive scans and restart markers change how the coefficients are
// sent, not what they are: every variant of one colour layout decodes to
// exactly the pixels of the plain baseline file. This catches what the error
// bound above cannot, such as a lost DC refinement bit.
func TestEncodeJPEGVariantsAgree(t *testing.T) {
	src := testPicture(203, 151)
	decode := func(o mediatest.JPEGOptions) image.Image {
		img, err := jpeg.Decode(bytes.NewReader(mediatest.EncodeJPEG(src, o)))
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		return img
	}
	for _, tc := range jpegCases() {
		base := tc.opts
		base.Progressive, base.SuccessiveApprox, base.RestartInterval = false, false, 0
		if base == tc.opts {
			continue
		}
		if e := meanAbsError(t, decode(base), decode(tc.opts)); e != [3]float64{} {
			t.Errorf("%s: differs from baseline by %v", tc.name, e)
		}
	}
}

// CMYK samples are stored inverted, so a decoder honouring the Adobe marker
// gets back the source's ink values, not their complements.
func TestEncodeJPEGCMYKValues(t *testing.T) {
	src := image.NewCMYK(image.Rect(0, 0, 32, 16))
	for y := range 16 {
		for x := range 32 {
			src.SetCMYK(x, y, color.CMYK{C: uint8(8 * x), M: 200, Y: uint8(16 * y), K: 30})
		}
	}
	got, err := jpeg.Decode(bytes.NewReader(mediatest.EncodeJPEG(src, mediatest.JPEGOptions{CMYK: true, Quality: 95})))
	if err != nil {
		t.Fatal(err)
	}
	m, ok := got.(*image.CMYK)
	if !ok {
		t.Fatalf("decoded as %T", got)
	}
	for _, p := range []image.Point{{2, 2}, {20, 10}, {30, 14}} {
		w, g := src.CMYKAt(p.X, p.Y), m.CMYKAt(p.X, p.Y)
		for i, d := range []int{int(w.C) - int(g.C), int(w.M) - int(g.M), int(w.Y) - int(g.Y), int(w.K) - int(g.K)} {
			if d < -4 || d > 4 {
				t.Errorf("at %v: ink %d is %v, want %v", p, i, g, w)
			}
		}
	}
}

// Quality scales the tables: lower quality, smaller files, larger errors;
// zero means 90.
func TestEncodeJPEGQuality(t *testing.T) {
	src := mediatest.Photo(96, 64, 3)
	if !bytes.Equal(mediatest.EncodeJPEG(src, mediatest.JPEGOptions{}), mediatest.EncodeJPEG(src, mediatest.JPEGOptions{Quality: 90})) {
		t.Error("quality 0 is not quality 90")
	}
	var prevSize int
	prevErr := math.Inf(1)
	for _, q := range []int{10, 50, 75, 90, 100} {
		data := mediatest.EncodeJPEG(src, mediatest.JPEGOptions{Quality: q})
		got, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("quality %d: %v", q, err)
		}
		mae := meanAbsError(t, src, got)
		e := mae[0] + mae[1] + mae[2]
		if len(data) <= prevSize || e >= prevErr {
			t.Errorf("quality %d: %d bytes, error %.2f; the quality below gave %d bytes, error %.2f", q, len(data), e, prevSize, prevErr)
		}
		prevSize, prevErr = len(data), e
	}
}

// The encoder is no worse than image/jpeg at the same quality and
// subsampling on a photo-like picture, and the files are about as large.
func TestEncodeJPEGComparable(t *testing.T) {
	src := mediatest.Photo(320, 240, 5)
	var ref bytes.Buffer
	if err := jpeg.Encode(&ref, src, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	refImg, err := jpeg.Decode(bytes.NewReader(ref.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	data := mediatest.EncodeJPEG(src, mediatest.JPEGOptions{})
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	refErr, gotErr := meanAbsError(t, src, refImg), meanAbsError(t, src, img)
	for ch := range 3 {
		if gotErr[ch] > refErr[ch]*1.25+0.25 {
			t.Errorf("channel %d: mean error %.2f, image/jpeg %.2f", ch, gotErr[ch], refErr[ch])
		}
	}
	if r := float64(len(data)) / float64(ref.Len()); r < 0.7 || r > 1.3 {
		t.Errorf("%d bytes, image/jpeg %d", len(data), ref.Len())
	}
}

// The error measure itself tells pictures apart.
func TestMeanAbsErrorDetectsDifference(t *testing.T) {
	a := testPicture(40, 30)
	b := mediatest.StoredFor(a, 3) // the same picture turned upside down
	if e := meanAbsError(t, a, b); e[0]+e[1]+e[2] < 30 {
		t.Errorf("a picture and its 180° turn differ by %v", e)
	}
	if e := meanAbsError(t, a, a); e != [3]float64{} {
		t.Errorf("a picture differs from itself by %v", e)
	}
}

func TestEncodeJPEGPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"empty":       func() { mediatest.EncodeJPEG(image.NewRGBA(image.Rect(0, 0, 0, 5)), mediatest.JPEGOptions{}) },
		"subsampling": func() { mediatest.EncodeJPEG(testPicture(8, 8), mediatest.JPEGOptions{Subsampling: "411"}) },
		"quality":     func() { mediatest.EncodeJPEG(testPicture(8, 8), mediatest.JPEGOptions{Quality: 101}) },
		"gray+cmyk":   func() { mediatest.EncodeJPEG(testPicture(8, 8), mediatest.JPEGOptions{Gray: true, CMYK: true}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
