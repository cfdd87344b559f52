package media_test

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"photoflow/media"
	"photoflow/media/mediatest"
)

func toRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Bounds(), img, b.Min, draw.Src)
	return out
}

// boxAverage averages s×s blocks of img (partial at the right and bottom),
// which is what a reduced decode approximates.
func boxAverage(img *image.RGBA, s int) *image.RGBA {
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	ow, oh := (w+s-1)/s, (h+s-1)/s
	out := image.NewRGBA(image.Rect(0, 0, ow, oh))
	for oy := range oh {
		for ox := range ow {
			var sum [4]int
			n := 0
			for y := oy * s; y < min(h, oy*s+s); y++ {
				for x := ox * s; x < min(w, ox*s+s); x++ {
					i := img.PixOffset(x, y)
					for c := range 4 {
						sum[c] += int(img.Pix[i+c])
					}
					n++
				}
			}
			i := out.PixOffset(ox, oy)
			for c := range 4 {
				out.Pix[i+c] = uint8((sum[c] + n/2) / n)
			}
		}
	}
	return out
}

// meanAbsDiff is the mean absolute difference per colour channel.
func meanAbsDiff(t *testing.T, a, b *image.RGBA) float64 {
	t.Helper()
	if a.Bounds() != b.Bounds() {
		t.Fatalf("bounds %v and %v", a.Bounds(), b.Bounds())
	}
	var sum, n int
	for i := range a.Pix {
		if i%4 == 3 {
			continue
		}
		d := int(a.Pix[i]) - int(b.Pix[i])
		sum += max(d, -d)
		n++
	}
	return float64(sum) / float64(n)
}

func psnr(t *testing.T, a, b *image.RGBA) float64 {
	t.Helper()
	if a.Bounds() != b.Bounds() {
		t.Fatalf("bounds %v and %v", a.Bounds(), b.Bounds())
	}
	var se float64
	var n int
	for i := range a.Pix {
		if i%4 == 3 {
			continue
		}
		d := float64(a.Pix[i]) - float64(b.Pix[i])
		se += d * d
		n++
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(se/float64(n)))
}

type jpegCase struct {
	name string
	data []byte
	prog bool
}

// jpegCases covers the layouts the reduced decoder handles itself.
func jpegCases() []jpegCase {
	var cases []jpegCase
	for _, sz := range [][2]int{{1001, 667}, {320, 240}, {17, 9}, {1, 1}, {9, 17}} {
		photo := mediatest.Photo(sz[0], sz[1], 3)
		add := func(name string, data []byte, prog bool) {
			cases = append(cases, jpegCase{fmt.Sprintf("%dx%d/%s", sz[0], sz[1], name), data, prog})
		}
		add("stdlib-420", mediatest.JPEG(photo, nil), false)
		var gray bytes.Buffer
		g := image.NewGray(photo.Bounds())
		draw.Draw(g, g.Bounds(), photo, image.Point{}, draw.Src)
		if err := jpeg.Encode(&gray, g, &jpeg.Options{Quality: 90}); err != nil {
			panic(err)
		}
		add("stdlib-gray", gray.Bytes(), false)
		for _, sub := range []string{"444", "422", "420", "440"} {
			add(sub, mediatest.EncodeJPEG(photo, mediatest.JPEGOptions{Subsampling: sub}), false)
			add(sub+"-rst3", mediatest.EncodeJPEG(photo, mediatest.JPEGOptions{Subsampling: sub, RestartInterval: 3}), false)
			add(sub+"-prog", mediatest.EncodeJPEG(photo, mediatest.JPEGOptions{Subsampling: sub, Progressive: true}), true)
		}
		add("gray", mediatest.EncodeJPEG(photo, mediatest.JPEGOptions{Gray: true}), false)
		add("gray-rst1", mediatest.EncodeJPEG(photo, mediatest.JPEGOptions{Gray: true, RestartInterval: 1}), false)
		add("gray-prog", mediatest.EncodeJPEG(photo, mediatest.JPEGOptions{Gray: true, Progressive: true}), true)
		add("420-prog-sa", mediatest.EncodeJPEG(photo, mediatest.JPEGOptions{Progressive: true, SuccessiveApprox: true, RestartInterval: 2}), true)
		add("420-q40", mediatest.EncodeJPEG(photo, mediatest.JPEGOptions{Quality: 40}), false)
	}
	return cases
}

// Every reduced scale matches the full decode averaged over the same blocks.
func TestDecodeAtLeastMatchesBoxAverage(t *testing.T) {
	for _, tc := range jpegCases() {
		full, err := jpeg.Decode(bytes.NewReader(tc.data))
		if err != nil {
			t.Fatalf("%s: image/jpeg: %v", tc.name, err)
		}
		fullRGBA := toRGBA(full)
		w, h := full.Bounds().Dx(), full.Bounds().Dy()
		for _, s := range []int{8, 4, 2, 1} {
			t.Run(fmt.Sprintf("%s/1:%d", tc.name, s), func(t *testing.T) {
				tw, th := (w+s-1)/s, (h+s-1)/s
				if got := media.PickScale(w, h, tw, th); got != s && w >= 8 && h >= 8 {
					t.Fatalf("PickScale = %d", got)
				}
				img, err := media.DecodeAtLeast(bytes.NewReader(tc.data), media.FormatJPEG, tw, th, 0)
				if err != nil {
					t.Fatal(err)
				}
				b := img.Bounds()
				if tc.prog && s != 8 {
					// Progressive files are reduced only to 1/8.
					if b.Dx() != w || b.Dy() != h {
						t.Fatalf("fallback bounds %v, want full size", b)
					}
					return
				}
				if b.Dx() != tw || b.Dy() != th {
					t.Fatalf("bounds %v, want %dx%d", b, tw, th)
				}
				d := meanAbsDiff(t, toRGBA(img), boxAverage(fullRGBA, s))
				limit := 1.5
				switch {
				case w < 64 || h < 64:
					// A few output pixels, some of them mostly padding,
					// on a sharp horizon: the reduced IDCT samples a
					// low-pass image where the reference averages, and
					// subsampled chroma spans the whole picture. Only gross
					// errors (misplaced blocks, wrong colours) show here.
					limit = 20
				case s == 2, tc.prog && !strings.Contains(tc.name, "gray"),
					strings.Contains(tc.name, "/422"), strings.Contains(tc.name, "/440"):
					// Chroma kept at half the luma resolution (or at 1/16
					// for progressive DC) against full-resolution chroma
					// averaged: colour edges differ a little more.
					limit = 2.5
				}
				if d > limit {
					t.Errorf("mean difference %.2f levels", d)
				}
				if w == 1001 {
					t.Logf("mean difference %.3f", d)
				}
			})
		}
	}
}

// The decoded types carry the file's subsampling instead of converting.
func TestDecodeAtLeastTypes(t *testing.T) {
	photo := mediatest.Photo(64, 48, 1)
	for sub, want := range map[string]image.YCbCrSubsampleRatio{
		"444": image.YCbCrSubsampleRatio444, "422": image.YCbCrSubsampleRatio422,
		// 4:2:0 chroma is decoded at twice the luma reduction, so it keeps
		// the output's resolution.
		"420": image.YCbCrSubsampleRatio444, "440": image.YCbCrSubsampleRatio440,
	} {
		data := mediatest.EncodeJPEG(photo, mediatest.JPEGOptions{Subsampling: sub})
		img, err := media.DecodeAtLeast(bytes.NewReader(data), media.FormatJPEG, 8, 6, 0)
		if err != nil {
			t.Fatal(err)
		}
		if m, ok := img.(*image.YCbCr); !ok || m.SubsampleRatio != want || m.Bounds() != image.Rect(0, 0, 8, 6) {
			t.Errorf("%s: got %T %v", sub, img, img.Bounds())
		}
	}
	data := mediatest.EncodeJPEG(photo, mediatest.JPEGOptions{Gray: true})
	if img, err := media.DecodeAtLeast(bytes.NewReader(data), media.FormatJPEG, 8, 6, 0); err != nil {
		t.Fatal(err)
	} else if _, ok := img.(*image.Gray); !ok {
		t.Errorf("gray: got %T", img)
	}
}

// CMYK goes to the full decoder, and the stream is replayed from the start.
func TestDecodeAtLeastCMYKFallback(t *testing.T) {
	photo := mediatest.Photo(200, 120, 4)
	data := mediatest.EncodeJPEG(photo, mediatest.JPEGOptions{CMYK: true})
	img, err := media.DecodeAtLeast(struct{ plainReader }{bytes.NewReader(data)}, media.FormatJPEG, 25, 15, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.(*image.CMYK); !ok || img.Bounds().Dx() != 200 {
		t.Fatalf("got %T %v", img, img.Bounds())
	}
	th, err := media.Thumbnail(bytes.NewReader(data), media.FormatJPEG, 6, 50, 0)
	if err != nil {
		t.Fatal(err)
	}
	if th.Width != 30 || th.Height != 50 {
		t.Errorf("thumbnail %dx%d", th.Width, th.Height)
	}
	if _, err := media.DecodeAtLeast(bytes.NewReader(data), media.FormatJPEG, 1, 1, 1000); !errors.Is(err, media.ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
}

// plainReader hides any other interface of a reader, such as io.Seeker.
type plainReader interface{ Read([]byte) (int, error) }

// A cut file is malformed wherever the cut falls: even after the last MCU,
// a file without EOI is refused, as the full decoder refuses it.
func TestDecodeAtLeastTruncated(t *testing.T) {
	photo := mediatest.Photo(300, 200, 7)
	for name, data := range map[string][]byte{
		"baseline":    mediatest.JPEG(photo, nil),
		"restarts":    mediatest.EncodeJPEG(photo, mediatest.JPEGOptions{Subsampling: "422", RestartInterval: 4}),
		"progressive": mediatest.EncodeJPEG(photo, mediatest.JPEGOptions{Progressive: true, SuccessiveApprox: true}),
		"gray":        mediatest.EncodeJPEG(photo, mediatest.JPEGOptions{Gray: true}),
	} {
		for _, s := range []int{8, 4, 2} {
			for pct := range 100 {
				cut := len(data) * pct / 100
				_, err := media.DecodeAtLeast(bytes.NewReader(data[:cut]), media.FormatJPEG, 300/s, 200/s, 0)
				if !errors.Is(err, media.ErrMalformed) {
					t.Errorf("%s 1:%d cut at %d%%: err = %v", name, s, pct, err)
				}
			}
			if _, err := media.DecodeAtLeast(bytes.NewReader(data), media.FormatJPEG, 300/s, 200/s, 0); err != nil {
				t.Errorf("%s 1:%d whole: %v", name, s, err)
			}
		}
	}
}

// Reader failures are reported as such at any point, on the reduced path
// and on the fallback path.
func TestDecodeAtLeastReaderError(t *testing.T) {
	photo := mediatest.Photo(300, 200, 7)
	for name, data := range map[string][]byte{
		"baseline": mediatest.JPEG(photo, nil),
		"cmyk":     mediatest.EncodeJPEG(photo, mediatest.JPEGOptions{CMYK: true}),
	} {
		for _, limit := range []int{0, 1, 100, len(data) / 3, len(data) - 1} {
			_, err := media.DecodeAtLeast(&failingReader{data: data, limit: limit}, media.FormatJPEG, 30, 20, 0)
			if !errors.Is(err, errNetwork) || errors.Is(err, media.ErrMalformed) {
				t.Errorf("%s limit %d: err = %v, want the reader's error", name, limit, err)
			}
		}
	}
}

// Damaged entropy data gives an error or an image, never a panic or a hang.
func TestDecodeAtLeastCorrupt(t *testing.T) {
	photo := mediatest.Photo(160, 120, 2)
	rng := rand.New(rand.NewPCG(1, 2))
	for name, data := range map[string][]byte{
		"baseline":    mediatest.JPEG(photo, nil),
		"restarts":    mediatest.EncodeJPEG(photo, mediatest.JPEGOptions{Subsampling: "444", RestartInterval: 2}),
		"progressive": mediatest.EncodeJPEG(photo, mediatest.JPEGOptions{Progressive: true, SuccessiveApprox: true}),
	} {
		sos := bytes.Index(data, []byte{0xFF, 0xDA})
		for i := range 300 {
			bad := bytes.Clone(data)
			for range 1 + i%4 {
				bad[sos+rng.IntN(len(bad)-sos)] = byte(rng.Uint32())
			}
			for _, s := range []int{8, 4, 2} {
				img, err := media.DecodeAtLeast(bytes.NewReader(bad), media.FormatJPEG, 160/s, 120/s, 0)
				if err == nil && img == nil {
					t.Fatalf("%s: nil image without error", name)
				}
				if err != nil && !errors.Is(err, media.ErrMalformed) {
					t.Fatalf("%s: err = %v", name, err)
				}
			}
		}
	}
}

func TestDecodeAtLeastPNG(t *testing.T) {
	img, err := media.DecodeAtLeast(bytes.NewReader(mediatest.PNG(mediatest.Quadrants(64, 48), nil)), media.FormatPNG, 8, 6, 0)
	if err != nil || img.Bounds().Dx() != 64 {
		t.Fatalf("%v %v", img.Bounds(), err)
	}
	if _, err := media.DecodeAtLeast(bytes.NewReader(mediatest.GIF(8, 8)), media.FormatGIF, 8, 8, 0); !errors.Is(err, media.ErrUnsupportedFormat) {
		t.Errorf("GIF: %v", err)
	}
}

// lanczosReference scales img to w×h with a direct, separable float64
// Lanczos3 over the whole source: slow, independent of the package's
// resampler, and what the fast path is meant to approximate.
func lanczosReference(img *image.RGBA, w, h int) *image.RGBA {
	sw, sh := img.Bounds().Dx(), img.Bounds().Dy()
	kernel := func(x float64) float64 {
		x = math.Abs(x)
		if x >= 3 {
			return 0
		}
		if x == 0 {
			return 1
		}
		return 3 * math.Sin(math.Pi*x) * math.Sin(math.Pi*x/3) / (math.Pi * math.Pi * x * x)
	}
	pass := func(n, srcN, dstN int, get func(line, i, c int) float64, set func(line, i, c int, v float64)) {
		scale := float64(srcN) / float64(dstN)
		fs := math.Max(scale, 1)
		for line := range n {
			for i := range dstN {
				c0 := (float64(i) + 0.5) * scale
				var acc [4]float64
				var sum float64
				for j := int(math.Floor(c0 - 3*fs)); j <= int(math.Ceil(c0+3*fs)); j++ {
					wt := kernel((float64(j) + 0.5 - c0) / fs)
					if wt == 0 {
						continue
					}
					jj := min(max(j, 0), srcN-1)
					for c := range 4 {
						acc[c] += wt * get(line, jj, c)
					}
					sum += wt
				}
				for c := range 4 {
					set(line, i, c, acc[c]/sum)
				}
			}
		}
	}
	tmp := make([]float64, sh*w*4)
	pass(sh, sw, w, func(y, x, c int) float64 { return float64(img.Pix[img.PixOffset(x, y)+c]) },
		func(y, x, c int, v float64) { tmp[(y*w+x)*4+c] = v })
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	pass(w, sh, h, func(x, y, c int) float64 { return tmp[(y*w+x)*4+c] },
		func(x, y, c int, v float64) { out.Pix[out.PixOffset(x, y)+c] = uint8(min(255, max(0, math.Round(v)))) })
	return out
}

// The fast thumbnail (reduced decode, Lanczos3 on the planes) against a full
// decode resampled directly with a float Lanczos3.
func TestThumbnailQuality(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		o    int
	}{
		{"camera 2000x1500", mediatest.CameraJPEG(2000, 1500, 1), 1},
		{"camera 1500x2000 rotated", mediatest.CameraJPEG(2000, 1500, 6), 6},
		{"progressive", mediatest.EncodeJPEG(mediatest.Photo(1800, 1200, 5), mediatest.JPEGOptions{Progressive: true}), 1},
		{"444 odd size", mediatest.EncodeJPEG(mediatest.Photo(1001, 667, 5), mediatest.JPEGOptions{Subsampling: "444"}), 1},
		{"gray", mediatest.EncodeJPEG(mediatest.Photo(1600, 1000, 5), mediatest.JPEGOptions{Gray: true}), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			full, err := jpeg.Decode(bytes.NewReader(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			got, err := media.ThumbImage(bytes.NewReader(tc.data), media.FormatJPEG, tc.o, 250, 0)
			if err != nil {
				t.Fatal(err)
			}
			b := full.Bounds()
			w, h := b.Dx(), b.Dy()
			tw, th := 250, (h*250+w/2)/w
			if h > w {
				tw, th = (w*250+h/2)/h, 250
			}
			ref := toRGBA(media.Orient(lanczosReference(toRGBA(full), tw, th), tc.o))
			p := psnr(t, toRGBA(got), ref)
			t.Logf("PSNR %.2f dB", p)
			if p < 35 {
				t.Errorf("PSNR %.2f dB, want >= 35", p)
			}
		})
	}
}

// The resampler handles premultiplied alpha: a half-transparent edge does
// not darken or tint the opaque side.
func TestResampleAlpha(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 300, 40))
	for y := range 40 {
		for x := range 300 {
			i := src.PixOffset(x, y)
			if x >= 150 {
				copy(src.Pix[i:i+4], []byte{200, 100, 20, 255})
			} else if x%2 == 0 {
				copy(src.Pix[i:i+4], []byte{0, 0, 0, 0})
			} else {
				copy(src.Pix[i:i+4], []byte{0, 128, 0, 128}) // half-transparent green
			}
		}
	}
	out := media.ResizeDirect(src, 100, 13)
	for y := range 13 {
		for x := range 100 {
			p := out.Pix[out.PixOffset(x, y):][:4]
			if p[0] > p[3] || p[1] > p[3] || p[2] > p[3] {
				t.Fatalf("pixel %d,%d = %v is not premultiplied", x, y, p)
			}
		}
	}
	if p := out.Pix[out.PixOffset(20, 6):][:4]; !near(p[1], 64, 2) || !near(p[3], 64, 2) || p[0] != 0 {
		t.Errorf("mixed side %v, want about 0,64,0,64", p)
	}
	if p := out.Pix[out.PixOffset(90, 6):][:4]; p[0] != 200 || p[1] != 100 || p[2] != 20 || p[3] != 255 {
		t.Errorf("opaque side %v", p)
	}
}
