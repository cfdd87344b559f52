package mediatest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"photoflow/media"
)

// Sample kinds written by GenerateSamples. Each says what the pipeline should make of it.
const (
	// SampleCamera is a JPEG with EXIF: make, model, date, mostly GPS. It is processed;
	// moderation may hold it for review.
	SampleCamera = "camera-jpeg"
	// SamplePlain is a JPEG without EXIF (edited, exported, scanned).
	SamplePlain = "plain-jpeg"
	// SamplePNG is a PNG without EXIF (screenshots, graphics).
	SamplePNG = "png"
	// SampleText is a text file named .jpg: it fails as FileNotSupported.
	SampleText = "not-image"
	// SampleCorrupt is a JPEG cut short: identifiable, not decodable, so it fails as
	// CorruptImage.
	SampleCorrupt = "corrupt"
)

// sampleCameras are the makes and models written into EXIF, as cameras spell them.
var sampleCameras = [][2]string{
	{"Canon", "Canon EOS 5D Mark IV"}, {"Apple", "iPhone 12 Pro"}, {"NIKON CORPORATION", "NIKON D750"},
	{"SONY", "ILCE-7M3"}, {"FUJIFILM", "X-T3"}, {"Google", "Pixel 7"}, {"samsung", "SM-G991B"},
}

// sampleSizes are stored landscape sizes, mostly small so that a thousand samples take
// seconds; the last few are the occasional large photo.
var sampleSizes = [][2]int{
	{640, 480}, {800, 600}, {960, 640}, {1024, 768}, {1024, 576}, {1200, 800}, {720, 540}, {900, 600},
	{1600, 1200}, {2048, 1536}, {2400, 1600},
}

// sampleSpec is everything needed to write one sample, chosen up front from the seed so the
// output does not depend on which goroutine writes which file.
type sampleSpec struct {
	index       int
	kind        string
	name        string // relative, slash-separated
	w, h        int    // stored pixels
	orientation int
	exif        *EXIF
	seed        int64
	cutAt       float64 // corrupt: fraction of the file kept
}

// SampleFile is one file GenerateSamples wrote.
type SampleFile struct {
	// Name is relative to the directory and slash-separated: "2014/IMG_0007.jpg".
	Name string
	// Kind is one of the Sample* constants.
	Kind string
	Size int64
}

// SampleStats is what GenerateSamples wrote.
type SampleStats struct {
	Count int
	Bytes int64
	// Files are in generation order, so a caller can tell what each file should become.
	Files        []SampleFile
	Kinds        map[string]int
	Orientations map[int]int
	WithGPS      int
	Portrait     int // displayed taller than wide
	Makes        map[string]int
	Years        map[string]int
	MaxSide      int
}

// planSamples chooses every sample: the mix of kinds is exact (≈10% PNG, 2% text, 1%
// corrupt, 5% JPEG without EXIF, rounded), the rest varies per sample.
func planSamples(count int, seed uint64) []sampleSpec {
	round := func(pct int) int { return (count*pct + 50) / 100 }
	kinds := make([]string, 0, count)
	for _, k := range []struct {
		kind string
		n    int
	}{{SampleText, round(2)}, {SampleCorrupt, round(1)}, {SamplePNG, round(10)}, {SamplePlain, round(5)}} {
		for range min(k.n, count-len(kinds)) {
			kinds = append(kinds, k.kind)
		}
	}
	for len(kinds) < count {
		kinds = append(kinds, SampleCamera)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })

	specs := make([]sampleSpec, count)
	for i := range specs {
		r := rand.New(rand.NewPCG(seed, uint64(i)+1))
		sp := sampleSpec{index: i, kind: kinds[i], orientation: 1, seed: r.Int64()}
		size := sampleSizes[r.IntN(8)]
		if r.IntN(40) == 0 {
			size = sampleSizes[8+r.IntN(len(sampleSizes)-8)]
		}
		sp.w, sp.h = size[0], size[1]
		switch sp.kind {
		case SampleText:
			sp.name = fmt.Sprintf("notes_%04d.jpg", i)
		case SamplePNG:
			// Screens and graphics: smaller, some portrait (a phone's screenshot).
			size = sampleSizes[r.IntN(5)]
			sp.w, sp.h = size[0], size[1]
			if r.IntN(3) == 0 {
				sp.w, sp.h = sp.h, sp.w
			}
			sp.name = fmt.Sprintf("Screenshot_%04d.png", i)
		case SamplePlain:
			if r.IntN(4) == 0 {
				sp.w, sp.h = sp.h, sp.w
			}
			sp.name = fmt.Sprintf("export_%04d.jpg", i)
		case SampleCamera, SampleCorrupt:
			sp.orientation = []int{1, 1, 1, 1, 1, 1, 1, 6, 6, 6, 8, 8, 3}[r.IntN(13)]
			cam := sampleCameras[r.IntN(len(sampleCameras))]
			taken := time.Date(2005, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(int64(20 * 365 * 24 * time.Hour))))
			e := &EXIF{Make: cam[0], Model: cam[1], Orientation: sp.orientation,
				DateTimeOriginal: taken.Format("2006:01:02 15:04:05")}
			if r.IntN(2) == 0 {
				off := r.IntN(27) - 12
				e.OffsetTimeOriginal = fmt.Sprintf("%+03d:00", off)
			}
			if r.IntN(10) < 7 {
				e.GPS = &media.GeoPoint{Latitude: float64(r.IntN(130_000_000)-60_000_000) / 1e6,
					Longitude: float64(r.IntN(360_000_000)-180_000_000) / 1e6}
			}
			sp.exif = e
			sp.name = fmt.Sprintf("%d/IMG_%04d.jpg", taken.Year(), i)
			if sp.kind == SampleCorrupt {
				sp.name = fmt.Sprintf("%d/IMG_%04d_broken.jpg", taken.Year(), i)
				sp.cutAt = 0.4 + r.Float64()*0.3
			}
		}
		specs[i] = sp
	}
	return specs
}

// render makes one sample's bytes.
func (sp sampleSpec) render() []byte {
	switch sp.kind {
	case SampleText:
		return []byte(fmt.Sprintf("Shopping list #%d\n- milk\n- film for the old camera\n", sp.index))
	case SamplePNG:
		return screenshotPNG(sp.w, sp.h, sp.seed)
	case SamplePlain:
		return JPEG(samplePhoto(sp.w, sp.h, sp.seed), nil)
	}
	// A camera stores its sensor's landscape pixels and says how to turn them.
	uw, uh := media.OrientedSize(sp.w, sp.h, sp.orientation)
	stored := StoredFor(samplePhoto(uw, uh, sp.seed), sp.orientation)
	order := binary.ByteOrder(binary.LittleEndian)
	if sp.index%3 == 0 {
		order = binary.BigEndian // Nikon and others write Motorola order
	}
	data := JPEG(stored, EncodeEXIF(*sp.exif, order))
	if sp.kind == SampleCorrupt {
		data = data[:int(float64(len(data))*sp.cutAt)]
	}
	return data
}

// samplePhoto is Photo drawn at half size and doubled: a quarter of the work, and smaller
// files, since real photos are smoother than its per-pixel noise.
func samplePhoto(w, h int, seed int64) *image.RGBA {
	half := Photo(max(1, (w+1)/2), max(1, (h+1)/2), seed)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		src := half.Pix[(y/2)*half.Stride:]
		dst := img.Pix[y*img.Stride:]
		for x := range w {
			copy(dst[4*x:4*x+4], src[4*(x/2):4*(x/2)+4])
		}
	}
	return img
}

// screenshotPNG draws flat panels, as screens and graphics have: PNG's own kind of content,
// which also keeps encoding fast and files small.
func screenshotPNG(w, h int, seed int64) []byte {
	r := rand.New(rand.NewPCG(uint64(seed), 7))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fill := func(rect image.Rectangle, c color.RGBA) {
		draw.Draw(img, rect, &image.Uniform{c}, image.Point{}, draw.Src)
	}
	fill(img.Bounds(), color.RGBA{uint8(220 + r.IntN(36)), uint8(220 + r.IntN(36)), uint8(220 + r.IntN(36)), 255})
	fill(image.Rect(0, 0, w, h/12), color.RGBA{uint8(r.IntN(80)), uint8(r.IntN(120)), uint8(120 + r.IntN(136)), 255})
	for range 6 + r.IntN(10) {
		x, y := r.IntN(w), h/12+r.IntN(max(1, h-h/12))
		fill(image.Rect(x, y, x+20+r.IntN(w/2), y+8+r.IntN(h/6)),
			color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255})
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
		panic(err) // an in-memory RGBA always encodes
	}
	return buf.Bytes()
}

// GenerateSamples writes count realistic sample files into dir (created if missing), in
// parallel: camera JPEGs with varied EXIF (makes, dates, orientations, GPS), JPEGs without
// EXIF, PNG screenshots, text files named .jpg and truncated JPEGs, in a fixed mix. The bytes
// depend only on count and seed, so a load test can be run again on the same files.
func GenerateSamples(dir string, count int, seed uint64) (SampleStats, error) {
	specs := planSamples(count, seed)
	st := SampleStats{Files: make([]SampleFile, len(specs)), Kinds: map[string]int{}, Orientations: map[int]int{},
		Makes: map[string]int{}, Years: map[string]int{}}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	work := make(chan sampleSpec)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for sp := range work {
				data := sp.render()
				p := filepath.Join(dir, filepath.FromSlash(sp.name))
				err := os.MkdirAll(filepath.Dir(p), 0o755)
				if err == nil {
					err = os.WriteFile(p, data, 0o644)
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				st.Bytes += int64(len(data))
				st.Files[sp.index].Size = int64(len(data))
				mu.Unlock()
			}
		})
	}
	for _, sp := range specs {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		work <- sp
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return st, firstErr
	}
	for _, sp := range specs {
		st.Count++
		st.Kinds[sp.kind]++
		st.Files[sp.index].Name, st.Files[sp.index].Kind = sp.name, sp.kind
		if sp.kind == SampleText {
			continue
		}
		st.Orientations[sp.orientation]++
		st.MaxSide = max(st.MaxSide, sp.w, sp.h)
		if w, h := media.OrientedSize(sp.w, sp.h, sp.orientation); h > w {
			st.Portrait++
		}
		if sp.exif != nil {
			st.Makes[sp.exif.Make]++
			st.Years[sp.exif.DateTimeOriginal[:4]]++
			if sp.exif.GPS != nil {
				st.WithGPS++
			}
		}
	}
	return st, nil
}
