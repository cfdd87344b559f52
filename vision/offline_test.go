package vision

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"math/rand/v2"
	"reflect"
	"testing"

	"photoflow"
)

// skyOverGrass is a landscape photo stand-in: a blue sky brightening toward the horizon
// over textured green grass. The noise is seeded, so the picture is the same every run.
func skyOverGrass(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(1, 2))
	horizon := h / 2
	for y := range h {
		for x := range w {
			var c color.RGBA
			if y < horizon {
				t := float64(y) / float64(horizon)
				c = color.RGBA{uint8(70 + 80*t), uint8(130 + 65*t), uint8(210 + 30*t), 255}
			} else {
				n := rng.IntN(50) - 25
				c = color.RGBA{uint8(60 + n/2), uint8(140 + n), uint8(50 + n/2), 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// textPage is a white page with lines of black "words", like a scanned letter.
func textPage(w, h int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.Gray{250}), image.Point{}, draw.Src)
	rng := rand.New(rand.NewPCG(3, 4))
	margin := w / 10
	for y := margin; y+14 < h-margin; y += 36 {
		for x := margin; x < w-margin; {
			word := 30 + rng.IntN(90)
			end := min(x+word, w-margin)
			draw.Draw(img, image.Rect(x, y, end, y+14), image.NewUniform(color.Gray{20}), image.Point{}, draw.Src)
			x = end + 14
		}
	}
	return img
}

func uniform(w, h int, c color.Color) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(c), image.Point{}, draw.Src)
	return img
}

// viaJPEG round-trips through the JPEG codec, giving the *image.YCbCr a real upload has.
func viaJPEG(t testing.TB, img image.Image) image.Image {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	out, err := jpeg.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := out.(*image.YCbCr); !ok {
		t.Fatalf("jpeg decoded to %T", out)
	}
	return out
}

func labelsOf(t *testing.T, img Image, maxLabels int, minConf float64) map[string]float64 {
	t.Helper()
	got, err := NewOffline().DetectLabels(context.Background(), img, maxLabels, minConf)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("labels: %v", got)
	m := map[string]float64{}
	for _, l := range got {
		m[l.Name] = l.Confidence
	}
	return m
}

func requireLabels(t *testing.T, got map[string]float64, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, ok := got[n]; !ok {
			t.Errorf("missing label %q in %v", n, got)
		}
	}
}

func forbidLabels(t *testing.T, got map[string]float64, names ...string) {
	t.Helper()
	for _, n := range names {
		if c, ok := got[n]; ok {
			t.Errorf("unexpected label %q (%.2f) in %v", n, c, got)
		}
	}
}

func TestSkyOverGrass(t *testing.T) {
	for name, px := range map[string]image.Image{
		"rgba": skyOverGrass(800, 600),
		"jpeg": viaJPEG(t, skyOverGrass(800, 600)),
	} {
		t.Run(name, func(t *testing.T) {
			got := labelsOf(t, Image{Pixels: px, Orientation: 1}, 0, 50)
			requireLabels(t, got, LabelSky, LabelBlue, LabelPlant, LabelGreen, LabelLandscape)
			forbidLabels(t, got, LabelText, LabelDocument, LabelSnow, LabelSunset, LabelMono, LabelPortrait)
		})
	}
}

func TestSkyNeedsTheUprightTop(t *testing.T) {
	up := skyOverGrass(800, 600)
	// Stored as a camera held sideways writes it: Orientation 6 says turn it clockwise.
	stored := image.NewRGBA(image.Rect(0, 0, 600, 800))
	for y := range 600 {
		for x := range 800 {
			stored.Set(y, 800-1-x, up.At(x, y))
		}
	}
	got := labelsOf(t, Image{Pixels: stored, Orientation: 6}, 0, 50)
	requireLabels(t, got, LabelSky, LabelLandscape)
	// Upside down, the sky is at the bottom: no sky.
	got = labelsOf(t, Image{Pixels: up, Orientation: 3}, 0, 0)
	forbidLabels(t, got, LabelSky)
}

func TestTextPage(t *testing.T) {
	got := labelsOf(t, Image{Pixels: textPage(850, 1100), Orientation: 1}, 0, 50)
	requireLabels(t, got, LabelWhite, LabelText, LabelDocument, LabelPortrait, LabelMono)
	forbidLabels(t, got, LabelSky, LabelSnow, LabelPlant, LabelBlue, LabelGreen)
	// The same page photographed sideways is still text.
	got = labelsOf(t, Image{Pixels: textPage(850, 1100), Orientation: 8}, 0, 50)
	requireLabels(t, got, LabelText, LabelLandscape)
	// A blank page is not a document.
	got = labelsOf(t, Image{Pixels: uniform(850, 1100, color.White)}, 0, 0)
	forbidLabels(t, got, LabelText, LabelDocument)
}

func TestOrientationFlipsLayout(t *testing.T) {
	px := uniform(600, 900, color.RGBA{128, 128, 128, 255})
	for _, o := range []int{0, 1, 2, 3, 4} {
		got := labelsOf(t, Image{Pixels: px, Orientation: o}, 0, 0)
		requireLabels(t, got, LabelPortrait)
		forbidLabels(t, got, LabelLandscape, LabelSquare)
	}
	for _, o := range []int{5, 6, 7, 8} {
		got := labelsOf(t, Image{Pixels: px, Orientation: o}, 0, 0)
		requireLabels(t, got, LabelLandscape)
		forbidLabels(t, got, LabelPortrait, LabelSquare)
	}
	got := labelsOf(t, Image{Pixels: uniform(500, 510, color.Black), Orientation: 6}, 0, 0)
	requireLabels(t, got, LabelSquare, LabelBlack, LabelDark)
}

func TestColoursAndTone(t *testing.T) {
	cases := []struct {
		c    color.RGBA
		want []string
	}{
		{color.RGBA{220, 30, 30, 255}, []string{LabelRed}},
		{color.RGBA{240, 140, 20, 255}, []string{LabelOrange}},
		{color.RGBA{240, 220, 40, 255}, []string{LabelYellow}},
		{color.RGBA{40, 160, 60, 255}, []string{LabelGreen}},
		{color.RGBA{30, 60, 200, 255}, []string{LabelBlue}},
		{color.RGBA{120, 40, 170, 255}, []string{LabelPurple}},
		{color.RGBA{250, 160, 200, 255}, []string{LabelPink}},
		{color.RGBA{110, 70, 30, 255}, []string{LabelBrown}},
		{color.RGBA{10, 10, 10, 255}, []string{LabelBlack, LabelDark, LabelMono}},
		{color.RGBA{250, 250, 250, 255}, []string{LabelWhite, LabelBright, LabelMono}},
		{color.RGBA{128, 128, 128, 255}, []string{LabelGray, LabelMono}},
	}
	for _, c := range cases {
		got := labelsOf(t, Image{Pixels: uniform(300, 200, c.c)}, 0, 90)
		requireLabels(t, got, c.want...)
	}
	// Half black, half white: high contrast, neither bright nor dark.
	img := uniform(400, 400, color.White)
	draw.Draw(img, image.Rect(0, 0, 200, 400), image.NewUniform(color.Black), image.Point{}, draw.Src)
	got := labelsOf(t, Image{Pixels: img}, 0, 50)
	requireLabels(t, got, LabelContrast, LabelBlack, LabelWhite)
	forbidLabels(t, got, LabelBright, LabelDark)
}

func TestSunset(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 900, 600))
	for y := range 600 {
		for x := range 900 {
			if y < 380 {
				t := float64(y) / 380
				img.SetRGBA(x, y, color.RGBA{uint8(250 - 20*t), uint8(90 + 70*t), uint8(30 + 20*t), 255})
			} else {
				img.SetRGBA(x, y, color.RGBA{25, 20, 30, 255})
			}
		}
	}
	got := labelsOf(t, Image{Pixels: img}, 0, 50)
	requireLabels(t, got, LabelSunset, LabelOrange, LabelLandscape)
	forbidLabels(t, got, LabelSky, LabelSnow)
}

func TestSnow(t *testing.T) {
	img := uniform(900, 600, color.RGBA{240, 244, 250, 255})
	// A band of dark trees at the top, like a snowfield photo.
	draw.Draw(img, image.Rect(0, 0, 900, 120), image.NewUniform(color.RGBA{30, 50, 35, 255}), image.Point{}, draw.Src)
	got := labelsOf(t, Image{Pixels: img}, 0, 50)
	requireLabels(t, got, LabelSnow, LabelWhite)
	forbidLabels(t, got, LabelText, LabelDocument)
}

func TestLimits(t *testing.T) {
	img := Image{Pixels: skyOverGrass(800, 600), Orientation: 1}
	all, err := NewOffline().DetectLabels(context.Background(), img, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 5 {
		t.Fatalf("want several labels to limit, got %v", all)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Confidence > all[i-1].Confidence {
			t.Fatalf("not sorted by confidence: %v", all)
		}
	}
	for _, l := range all {
		if l.Confidence <= 0 || l.Confidence > 100 {
			t.Errorf("confidence out of range: %v", l)
		}
	}
	top3, _ := NewOffline().DetectLabels(context.Background(), img, 3, 0)
	if !reflect.DeepEqual(top3, all[:3]) {
		t.Errorf("maxLabels 3 = %v, want %v", top3, all[:3])
	}
	cut := all[len(all)/2].Confidence
	high, _ := NewOffline().DetectLabels(context.Background(), img, 0, cut)
	for _, l := range high {
		if l.Confidence < cut {
			t.Errorf("label %v below minConfidence %.2f", l, cut)
		}
	}
	if len(high) == 0 || len(high) >= len(all) {
		t.Errorf("minConfidence %.2f kept %d of %d labels", cut, len(high), len(all))
	}
	none, _ := NewOffline().DetectLabels(context.Background(), img, 0, 100.5)
	if none != nil {
		t.Errorf("minConfidence above 100 returned %v", none)
	}
}

func TestModeration(t *testing.T) {
	ctx := context.Background()
	off := NewOffline()

	skin := uniform(800, 600, color.RGBA{224, 172, 140, 255})
	// A background strip, so the skin is a region rather than the whole frame.
	draw.Draw(skin, image.Rect(0, 0, 800, 60), image.NewUniform(color.RGBA{40, 60, 90, 255}), image.Point{}, draw.Src)
	for name, px := range map[string]image.Image{"rgba": skin, "jpeg": viaJPEG(t, skin)} {
		got, err := off.DetectModeration(ctx, Image{Pixels: px})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %v", name, got)
		if len(got) == 0 || got[0].Name != LabelSuggestive && got[0].Name != LabelExplicit || got[0].Confidence < 80 {
			t.Errorf("%s: large skin area: %v, want a confidence ≥ 80", name, got)
		}
		for _, l := range got {
			if l.Confidence > DefaultModerationCeiling {
				t.Errorf("%s: %v above the default ceiling %.0f", name, l, DefaultModerationCeiling)
			}
		}
	}
	full, _ := (&Offline{ModerationCeiling: 100}).DetectModeration(ctx, Image{Pixels: uniform(600, 600, color.RGBA{224, 172, 140, 255})})
	if len(full) != 2 || full[0].Confidence != 100 || full[1].Name != LabelExplicit {
		t.Errorf("full-frame skin with ceiling 100: %v", full)
	}

	for name, px := range map[string]image.Image{
		"landscape": skyOverGrass(800, 600),
		"text":      textPage(850, 1100),
		"grey":      uniform(300, 300, color.Gray{128}),
		"blue":      uniform(300, 300, color.RGBA{30, 60, 200, 255}),
	} {
		got, err := off.DetectModeration(ctx, Image{Pixels: px})
		if err != nil {
			t.Fatal(err)
		}
		if got != nil {
			t.Errorf("%s: moderation labels %v, want none", name, got)
		}
	}

	// Scattered specks of skin colour score far lower than one patch of the same area.
	specks := uniform(400, 400, color.RGBA{30, 60, 200, 255})
	patch := uniform(400, 400, color.RGBA{30, 60, 200, 255})
	for y := 0; y < 400; y += 20 {
		for x := 0; x < 400; x += 20 {
			draw.Draw(specks, image.Rect(x, y, x+14, y+14), image.NewUniform(color.RGBA{224, 172, 140, 255}), image.Point{}, draw.Src)
		}
	}
	draw.Draw(patch, image.Rect(60, 60, 340, 340), image.NewUniform(color.RGBA{224, 172, 140, 255}), image.Point{}, draw.Src)
	s, _ := off.DetectModeration(ctx, Image{Pixels: specks})
	p, _ := off.DetectModeration(ctx, Image{Pixels: patch})
	t.Logf("specks %v, patch %v", s, p)
	if len(p) == 0 || len(s) > 0 && s[0].Confidence >= p[0].Confidence {
		t.Errorf("specks %v should score below one patch %v", s, p)
	}
}

func TestDeterministicAcrossImageTypes(t *testing.T) {
	src := skyOverGrass(640, 480)
	nrgba := image.NewNRGBA(src.Bounds())
	draw.Draw(nrgba, nrgba.Bounds(), src, image.Point{}, draw.Src)
	rgba64 := image.NewRGBA64(src.Bounds()) // no fast path: exercises At
	draw.Draw(rgba64, rgba64.Bounds(), src, image.Point{}, draw.Src)
	// A sub-image whose bounds do not start at the origin.
	big := image.NewRGBA(image.Rect(-10, -20, 700, 600))
	draw.Draw(big, image.Rect(0, 0, 640, 480), src, image.Point{}, draw.Src)
	sub := big.SubImage(image.Rect(0, 0, 640, 480))

	off := NewOffline()
	ctx := context.Background()
	want, _ := off.DetectLabels(ctx, Image{Pixels: src}, 0, 0)
	wantMod, _ := off.DetectModeration(ctx, Image{Pixels: src})
	for name, px := range map[string]image.Image{"rgba again": src, "nrgba": nrgba, "rgba64": rgba64, "subimage": sub} {
		got, _ := off.DetectLabels(ctx, Image{Pixels: px}, 0, 0)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v\nwant %v", name, got, want)
		}
		gotMod, _ := off.DetectModeration(ctx, Image{Pixels: px})
		if !reflect.DeepEqual(gotMod, wantMod) {
			t.Errorf("%s moderation: %v, want %v", name, gotMod, wantMod)
		}
	}
}

func TestTransparentIsWhite(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 200, 200)) // fully transparent
	got := labelsOf(t, Image{Pixels: img}, 0, 90)
	requireLabels(t, got, LabelWhite)
}

func TestErrors(t *testing.T) {
	off := NewOffline()
	ctx := context.Background()
	for _, px := range []image.Image{nil, image.NewRGBA(image.Rect(0, 0, 0, 10))} {
		if _, err := off.DetectLabels(ctx, Image{Pixels: px}, 10, 0); !errors.Is(err, ErrNoPixels) {
			t.Errorf("DetectLabels(%T) = %v, want ErrNoPixels", px, err)
		}
		if _, err := off.DetectModeration(ctx, Image{Pixels: px}); !errors.Is(err, ErrNoPixels) {
			t.Errorf("DetectModeration(%T) = %v, want ErrNoPixels", px, err)
		}
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	img := Image{Pixels: skyOverGrass(100, 100)}
	if _, err := off.DetectLabels(canceled, img, 10, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("DetectLabels with canceled ctx: %v", err)
	}
	if _, err := off.DetectModeration(canceled, img); !errors.Is(err, context.Canceled) {
		t.Errorf("DetectModeration with canceled ctx: %v", err)
	}
}

func TestTinyImages(t *testing.T) {
	for _, r := range []image.Rectangle{image.Rect(0, 0, 1, 1), image.Rect(0, 0, 1, 3000), image.Rect(0, 0, 3, 2)} {
		img := Image{Pixels: uniform(r.Dx(), r.Dy(), color.RGBA{224, 172, 140, 255})}
		if _, err := NewOffline().DetectLabels(context.Background(), img, 0, 0); err != nil {
			t.Errorf("%v: %v", r, err)
		}
		if _, err := NewOffline().DetectModeration(context.Background(), img); err != nil {
			t.Errorf("%v: %v", r, err)
		}
	}
}

func TestUprightMapping(t *testing.T) {
	// A 3×2 stored grid with distinct cells; for each orientation, the visual top-left
	// (per the EXIF definitions of where stored row 0 and column 0 appear) must be right.
	stored := make([]cell, 6)
	for i := range stored {
		stored[i].r = float64(i)
	}
	// Visual top-left cell index in stored order, and upright size, per orientation.
	want := map[int]struct{ topLeft, w, h int }{
		1: {0, 3, 2}, 2: {2, 3, 2}, 3: {5, 3, 2}, 4: {3, 3, 2},
		5: {0, 2, 3}, 6: {3, 2, 3}, 7: {5, 2, 3}, 8: {2, 2, 3},
	}
	for o, w := range want {
		g := upright(append([]cell(nil), stored...), 3, 2, o)
		if g.w != w.w || g.h != w.h || int(g.cells[0].r) != w.topLeft {
			t.Errorf("orientation %d: %dx%d top-left %v, want %dx%d top-left %d", o, g.w, g.h, g.cells[0].r, w.w, w.h, w.topLeft)
		}
	}
}

func TestAnalyzerInterface(t *testing.T) {
	var a Analyzer = NewOffline()
	var zero Offline
	got, err := a.DetectLabels(context.Background(), Image{Pixels: uniform(10, 10, color.White)}, 1, 0)
	got2, err2 := zero.DetectLabels(context.Background(), Image{Pixels: uniform(10, 10, color.White)}, 1, 0)
	if err != nil || err2 != nil || !reflect.DeepEqual(got, got2) || len(got) != 1 {
		t.Errorf("zero value differs from NewOffline: %v %v / %v %v", got, err, got2, err2)
	}
}

// large is a 4000×3000 4:2:0 YCbCr image, what decoding a 12 MP JPEG yields.
func large() *image.YCbCr {
	img := image.NewYCbCr(image.Rect(0, 0, 4000, 3000), image.YCbCrSubsampleRatio420)
	for i := range img.Y {
		img.Y[i] = uint8(i * 7)
	}
	for i := range img.Cb {
		img.Cb[i] = uint8(100 + i%40)
		img.Cr[i] = uint8(140 + i%30)
	}
	return img
}

func BenchmarkDetectLabels4000x3000(b *testing.B) {
	img := Image{Pixels: large(), Orientation: 6}
	off := NewOffline()
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := off.DetectLabels(ctx, img, 10, 60); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDetectModeration4000x3000(b *testing.B) {
	img := Image{Pixels: large(), Orientation: 1}
	off := NewOffline()
	ctx := context.Background()
	for b.Loop() {
		if _, err := off.DetectModeration(ctx, img); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDetectLabelsGeneric4000x3000(b *testing.B) {
	// *image.RGBA64 has no fast path: the cost of the generic At route.
	src := large()
	img := image.NewRGBA64(src.Bounds())
	draw.Draw(img, img.Bounds(), src, image.Point{}, draw.Src)
	off := NewOffline()
	ctx := context.Background()
	for b.Loop() {
		if _, err := off.DetectLabels(ctx, Image{Pixels: img}, 10, 60); err != nil {
			b.Fatal(err)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	off := NewOffline()
	img := Image{Pixels: viaJPEG(t, skyOverGrass(640, 480)), Orientation: 6}
	want, err := off.DetectLabels(context.Background(), img, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	results := make([][]photoflow.Label, 4)
	done := make(chan struct{})
	for i := range results {
		go func() {
			defer func() { done <- struct{}{} }()
			results[i], _ = off.DetectLabels(context.Background(), img, 0, 0)
		}()
	}
	for range results {
		<-done
	}
	for i, got := range results {
		if !reflect.DeepEqual(got, want) {
			t.Errorf("goroutine %d: %v, want %v", i, got, want)
		}
	}
}
