package media_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"

	"photoflow/media"
	"photoflow/media/mediatest"
)

func TestIdentifyCameraJPEG(t *testing.T) {
	for o := 1; o <= 8; o++ {
		info, err := identifyBytes(mediatest.CameraJPEG(160, 120, o))
		if err != nil {
			t.Fatalf("orientation %d: %v", o, err)
		}
		want := media.Info{
			Format: media.FormatJPEG, Width: 160, Height: 120, Orientation: o,
			Make: "Canon", Model: "Canon EOS 5D Mark IV",
			CreationTime: "2016-04-09T14:08:13-07:00",
		}
		checkInfo(t, info, want, &media.GeoPoint{Latitude: 46.8256, Longitude: -121.7283})
	}
}

// checkInfo compares every field, GPS within 1e-4 degrees.
func checkInfo(t *testing.T, got, want media.Info, gps *media.GeoPoint) {
	t.Helper()
	gotGPS := got.GPS
	got.GPS, want.GPS = nil, nil
	if got.Format != want.Format || got.Width != want.Width || got.Height != want.Height ||
		got.Orientation != want.Orientation || got.Make != want.Make || got.Model != want.Model ||
		got.CreationTime != want.CreationTime || len(got.Warnings) != len(want.Warnings) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	switch {
	case gps == nil && gotGPS != nil:
		t.Errorf("GPS = %+v, want nil", *gotGPS)
	case gps != nil && gotGPS == nil:
		t.Errorf("GPS = nil, want %+v", *gps)
	case gps != nil && (math.Abs(gotGPS.Latitude-gps.Latitude) > 1e-4 || math.Abs(gotGPS.Longitude-gps.Longitude) > 1e-4):
		t.Errorf("GPS = %+v, want %+v", *gotGPS, *gps)
	}
}

func TestIdentifyByteOrders(t *testing.T) {
	sydney := &media.GeoPoint{Latitude: -33.8568, Longitude: 151.2153}
	e := mediatest.EXIF{
		Make: "NIKON CORPORATION", Model: "NIKON D850", Orientation: 8,
		DateTimeOriginal: "2021:12:31 23:59:59", OffsetTimeOriginal: "+11:00", GPS: sydney,
	}
	want := media.Info{
		Orientation: 8, Make: "NIKON CORPORATION", Model: "NIKON D850",
		CreationTime: "2021-12-31T23:59:59+11:00",
	}
	img := mediatest.Quadrants(64, 48)
	for _, order := range []binary.ByteOrder{binary.BigEndian, binary.LittleEndian} {
		exif := mediatest.EncodeEXIF(e, order)
		for name, data := range map[string][]byte{
			"JPEG": mediatest.JPEG(img, exif),
			"PNG":  mediatest.PNG(img, exif),
		} {
			t.Run(name+"/"+order.String(), func(t *testing.T) {
				info, err := identifyBytes(data)
				if err != nil {
					t.Fatal(err)
				}
				w := want
				w.Format, w.Width, w.Height = name, 64, 48
				checkInfo(t, info, w, sydney)
			})
		}
	}
}

func TestIdentifyPNG(t *testing.T) {
	img := mediatest.Quadrants(50, 40)
	exif := mediatest.EncodeEXIF(mediatest.EXIF{Orientation: 3, Make: "Apple"}, binary.BigEndian)
	plain := mediatest.PNG(img, nil)
	iend := len(plain) - 12
	afterIDAT := append(append(append([]byte{}, plain[:iend]...), mediatest.PNGChunk("eXIf", exif)...), plain[iend:]...)
	prefixed := mediatest.PNG(img, append([]byte("Exif\x00\x00"), exif...))
	hugeEXIF := append(append(append([]byte{}, plain[:iend]...), 0x7F, 0xFF, 0xFF, 0xF0, 'e', 'X', 'I', 'f'), plain[iend:]...)

	base := media.Info{Format: media.FormatPNG, Width: 50, Height: 40, Orientation: 1}
	withEXIF := base
	withEXIF.Orientation, withEXIF.Make = 3, "Apple"
	truncated := mediatest.PNG(img, exif)
	truncated = truncated[:len(truncated)-30]
	tooLarge := base
	tooLarge.Warnings = []string{"exif: eXIf chunk is too large"}

	for _, tc := range []struct {
		name string
		data []byte
		want media.Info
	}{
		{"no eXIf", plain, base},
		{"eXIf before IDAT", mediatest.PNG(img, exif), withEXIF},
		{"eXIf after IDAT", afterIDAT, withEXIF},
		{"eXIf with Exif prefix", prefixed, withEXIF},
		{"truncated after IHDR", plain[:33], base},
		{"truncated in IDAT", truncated, withEXIF},
		{"eXIf claiming 2 GiB", hugeEXIF, tooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := identifyBytes(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			checkInfo(t, info, tc.want, nil)
		})
	}
}

func TestIdentifyJPEGWithoutEXIF(t *testing.T) {
	info, err := identifyBytes(mediatest.JPEG(mediatest.Photo(300, 200, 7), nil))
	if err != nil {
		t.Fatal(err)
	}
	checkInfo(t, info, media.Info{Format: media.FormatJPEG, Width: 300, Height: 200, Orientation: 1}, nil)
}

func TestIdentifyOtherFormats(t *testing.T) {
	ftyp := func(major string, compat ...string) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(16+4*len(compat)))
		b = append(b, "ftyp"+major+"\x00\x00\x00\x00"+strings.Join(compat, "")...)
		return append(b, make([]byte, 32)...)
	}
	for _, tc := range []struct {
		name   string
		data   []byte
		format string
		w, h   int
	}{
		{"GIF", mediatest.GIF(40, 30), media.FormatGIF, 40, 30},
		{"TIFF", mediatest.TIFF(40, 30), media.FormatTIFF, 40, 30},
		{"BMP", mediatest.BMP(40, 30), media.FormatBMP, 40, 30},
		{"WebP", mediatest.WebP(), media.FormatWebP, 1, 1},
		{"HEIC", ftyp("heic", "mif1", "heic"), media.FormatHEIC, 0, 0},
		{"HEIF mif1", ftyp("mif1", "mif1", "miaf"), media.FormatHEIC, 0, 0},
		{"AVIF", ftyp("avif", "mif1", "avif", "miaf"), media.FormatAVIF, 0, 0},
		{"AVIF via mif1", ftyp("mif1", "mif1", "avif"), media.FormatAVIF, 0, 0},
		{"BigTIFF", []byte("II+\x00\x08\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00"), media.FormatTIFF, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := identifyBytes(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			checkInfo(t, info, media.Info{Format: tc.format, Width: tc.w, Height: tc.h, Orientation: 1}, nil)
		})
	}
}

func TestIdentifyUnknown(t *testing.T) {
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(i*7919 + i>>3)
	}
	mp4 := append([]byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"), make([]byte, 64)...)
	for name, data := range map[string][]byte{
		"empty":       nil,
		"one byte":    {0xFF},
		"text":        []byte("Hello, this is a plain text file.\nNothing to see here.\n"),
		"text BM":     []byte("BMW makes cars, and this text starts with BM. It is long enough."),
		"random":      random,
		"mp4":         mp4,
		"JPEG-ish 2B": {0xFF, 0xD8},
		"html":        []byte("<!DOCTYPE html><html><body>not an image</body></html>"),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := identifyBytes(data)
			if !errors.Is(err, media.ErrUnknownFormat) {
				t.Fatalf("err = %v, want ErrUnknownFormat", err)
			}
		})
	}
}

func TestIdentifyMalformedJPEG(t *testing.T) {
	good := mediatest.CameraJPEG(64, 48, 1)
	sof := bytes.Index(good, []byte{0xFF, 0xC0})
	if sof < 0 {
		t.Fatal("no SOF in fixture")
	}
	zeroWidth := bytes.Clone(good)
	zeroWidth[sof+7], zeroWidth[sof+8] = 0, 0
	for name, data := range map[string][]byte{
		"cut before SOF":        good[:sof],
		"cut inside SOF":        good[:sof+6],
		"cut inside APP1":       good[:40],
		"SOI only":              good[:3],
		"segment length 1":      {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x01, 0xFF, 0xC0},
		"SOS before SOF":        {0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x08, 0, 0, 0, 0, 0, 0},
		"EOI before SOF":        {0xFF, 0xD8, 0xFF, 0xD9},
		"zero width":            zeroWidth,
		"all fill bytes":        append([]byte{0xFF, 0xD8}, bytes.Repeat([]byte{0xFF}, 1<<17)...),
		"garbage after SOI":     append([]byte{0xFF, 0xD8, 0xFF}, bytes.Repeat([]byte{0x42}, 1<<17)...),
		"many empty segments":   append([]byte{0xFF, 0xD8}, bytes.Repeat([]byte{0xFF, 0xFE, 0x00, 0x02}, 5000)...),
		"short SOF":             {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x05, 8, 0, 10, 0, 10},
		"DNL height (zero)":     {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 8, 0, 0, 0, 10, 1, 1, 0x11, 0},
		"APP1 past end of file": {0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xF0, 'E', 'x', 'i', 'f', 0, 0},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := identifyBytes(data)
			if !errors.Is(err, media.ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

// JPEG structure that decoders accept and we must too.
func TestIdentifyJPEGQuirks(t *testing.T) {
	good := mediatest.JPEG(mediatest.Quadrants(64, 48), nil)
	withFill := append([]byte{0xFF, 0xD8, 0xFF, 0xFF, 0xFF}, good[3:]...) // fill bytes before DQT
	withRST := append([]byte{0xFF, 0xD8, 0xFF, 0xD0, 0xFF, 0x01}, good[2:]...)
	withJunk := append([]byte{0xFF, 0xD8, 0xFF, 0xFE, 0x00, 0x04, 'h', 'i', 0x00, 0x13, 0x37}, good[2:]...)
	progressive := bytes.Clone(good)
	sof := bytes.Index(progressive, []byte{0xFF, 0xC0})
	progressive[sof+1] = 0xC2
	for name, data := range map[string][]byte{
		"fill bytes": withFill, "standalone markers": withRST, "junk": withJunk, "SOF2": progressive,
	} {
		info, err := identifyBytes(data)
		if err != nil || info.Width != 64 || info.Height != 48 {
			t.Errorf("%s: %+v, %v", name, info, err)
		}
	}
}

func TestIdentifyMalformedPNG(t *testing.T) {
	good := mediatest.PNG(mediatest.Quadrants(8, 8), nil)
	zero := bytes.Clone(good)
	copy(zero[16:20], []byte{0, 0, 0, 0})
	notIHDR := bytes.Clone(good)
	copy(notIHDR[12:16], "tEXt")
	for name, data := range map[string][]byte{
		"signature only": good[:8],
		"cut in IHDR":    good[:20],
		"zero width":     zero,
		"IHDR not first": notIHDR,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := identifyBytes(data)
			if !errors.Is(err, media.ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestIdentifyEXIFValues(t *testing.T) {
	for _, tc := range []struct {
		name    string
		exif    mediatest.EXIF
		created string
		gps     *media.GeoPoint
		warns   int
	}{
		{"GPS 0,0 is missing", mediatest.EXIF{GPS: &media.GeoPoint{}}, "", nil, 0},
		{"no offset", mediatest.EXIF{DateTimeOriginal: "2016:04:09 14:08:13"}, "2016-04-09T14:08:13", nil, 0},
		{"offset only", mediatest.EXIF{OffsetTimeOriginal: "+02:00"}, "", nil, 0},
		{"zero date", mediatest.EXIF{DateTimeOriginal: "0000:00:00 00:00:00"}, "", nil, 0},
		{"blank date", mediatest.EXIF{DateTimeOriginal: "    :  :     :  :  "}, "", nil, 0},
		{"invalid date", mediatest.EXIF{DateTimeOriginal: "2016:02:30 14:08:13"}, "", nil, 1},
		{"invalid offset", mediatest.EXIF{DateTimeOriginal: "2016:04:09 14:08:13", OffsetTimeOriginal: "+25:00"}, "2016-04-09T14:08:13", nil, 1},
		{"GPS out of range", mediatest.EXIF{GPS: &media.GeoPoint{Latitude: 95, Longitude: 10}}, "", nil, 1},
		{"south west", mediatest.EXIF{GPS: &media.GeoPoint{Latitude: -22.9519, Longitude: -43.2105}}, "", &media.GeoPoint{Latitude: -22.9519, Longitude: -43.2105}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
				info, err := identifyBytes(jpegWithEXIF(mediatest.EncodeEXIF(tc.exif, order)))
				if err != nil {
					t.Fatal(err)
				}
				want := media.Info{Format: media.FormatJPEG, Width: 32, Height: 24, Orientation: 1,
					CreationTime: tc.created, Warnings: make([]string, tc.warns)}
				checkInfo(t, info, want, tc.gps)
			}
		})
	}
}

func TestIdentifyHostileEXIF(t *testing.T) {
	for name, exif := range hostileEXIF() {
		t.Run(name, func(t *testing.T) {
			for label, data := range map[string][]byte{
				"JPEG": jpegWithEXIF(exif),
				"PNG":  mediatest.PNG(mediatest.Quadrants(32, 24), exif),
			} {
				info, err := identifyBytes(data)
				if err != nil {
					t.Fatalf("%s: %v", label, err)
				}
				if info.Width != 32 || info.Height != 24 || info.Format != label {
					t.Errorf("%s: image lost: %+v", label, info)
				}
				if len(info.Warnings) == 0 {
					t.Errorf("%s: no warning for %s: %+v", label, name, info)
				}
				if info.Orientation < 1 || info.Orientation > 8 || info.GPS != nil || info.CreationTime != "" {
					t.Errorf("%s: implausible fields: %+v", label, info)
				}
				for _, w := range info.Warnings {
					if !strings.HasPrefix(w, "exif: ") {
						t.Errorf("%s: warning %q lacks the exif prefix", label, w)
					}
				}
			}
		})
	}
}

// A broken sub-IFD must not cost the fields read before it.
func TestIdentifyEXIFPartial(t *testing.T) {
	info, err := identifyBytes(jpegWithEXIF(hostileEXIF()["Exif IFD pointer into IFD0"]))
	if err != nil {
		t.Fatal(err)
	}
	if info.Orientation != 6 || len(info.Warnings) != 1 {
		t.Errorf("got %+v, want orientation 6 and one warning", info)
	}
}

// Forged counts and lengths must not turn into reads or allocations.
func TestIdentifyHostileIsBounded(t *testing.T) {
	files := map[string][]byte{}
	for name, exif := range hostileEXIF() {
		files["JPEG "+name] = jpegWithEXIF(exif)
	}
	plain := mediatest.PNG(mediatest.Quadrants(32, 24), nil)
	files["PNG eXIf claiming 2 GiB"] = append(append(bytes.Clone(plain[:33]), 0x7F, 0xFF, 0xFF, 0xF0, 'e', 'X', 'I', 'f'), plain[33:]...)
	files["PNG chunk claiming 4 GiB"] = append(append(bytes.Clone(plain[:33]), 0xFF, 0xFF, 0xFF, 0xFF, 't', 'E', 'X', 't'), plain[33:]...)
	for name, data := range files {
		cr := &countingReaderAt{r: bytes.NewReader(data)}
		if _, err := media.Identify(cr, int64(len(data))); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if cr.bytes.Load() > 1<<20 {
			t.Errorf("%s: read %d bytes", name, cr.bytes.Load())
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		const runs = 20
		for range runs {
			_, _ = identifyBytes(data)
		}
		runtime.ReadMemStats(&after)
		if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 1<<20 {
			t.Errorf("%s: allocated %d bytes per Identify", name, per)
		}
	}
}

func TestIdentifyReadsLittle(t *testing.T) {
	data := bigCameraJPEG()
	cr := &countingReaderAt{r: bytes.NewReader(data)}
	info, err := media.Identify(cr, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if info.Width != 4000 || info.Height != 3000 || info.Orientation != 6 {
		t.Fatalf("got %+v", info)
	}
	read, calls := cr.bytes.Load(), cr.calls.Load()
	t.Logf("file %d bytes; Identify read %d bytes in %d calls", len(data), read, calls)
	if read > 64<<10 || read*100 > int64(len(data)) || calls > 8 {
		t.Errorf("read %d bytes in %d calls of a %d-byte file", read, calls, len(data))
	}
}

// A PNG with eXIf at the end is walked by chunk headers only.
func TestIdentifyPNGSkipsIDAT(t *testing.T) {
	plain := mediatest.PNG(mediatest.Photo(1200, 900, 3), nil)
	exif := mediatest.EncodeEXIF(mediatest.EXIF{Orientation: 5}, binary.LittleEndian)
	iend := len(plain) - 12
	data := append(append(bytes.Clone(plain[:iend]), mediatest.PNGChunk("eXIf", exif)...), plain[iend:]...)
	cr := &countingReaderAt{r: bytes.NewReader(data)}
	info, err := media.Identify(cr, int64(len(data)))
	if err != nil || info.Orientation != 5 {
		t.Fatalf("got %+v, %v", info, err)
	}
	t.Logf("file %d bytes; Identify read %d bytes in %d calls", len(data), cr.bytes.Load(), cr.calls.Load())
	if cr.bytes.Load()*10 > int64(len(data)) {
		t.Errorf("read %d of %d bytes", cr.bytes.Load(), len(data))
	}
}

func TestIdentifyReaderError(t *testing.T) {
	data := mediatest.CameraJPEG(64, 48, 1)
	for _, limit := range []int64{0, 10, 100} {
		_, err := media.Identify(failingReaderAt{data, limit}, int64(len(data)))
		if !errors.Is(err, errNetwork) {
			t.Errorf("limit %d: err = %v, want the reader's error", limit, err)
		}
	}
}

// A size larger than the data behaves as a truncated file, not a crash.
func TestIdentifySizeMismatch(t *testing.T) {
	data := mediatest.CameraJPEG(64, 48, 1)
	if _, err := media.Identify(bytes.NewReader(data[:100]), int64(len(data))); !errors.Is(err, media.ErrMalformed) {
		t.Errorf("err = %v, want ErrMalformed", err)
	}
	if _, err := media.Identify(bytes.NewReader(data), -5); !errors.Is(err, media.ErrUnknownFormat) {
		t.Errorf("negative size: err = %v, want ErrUnknownFormat", err)
	}
}

func TestParseEXIFWarningsCapped(t *testing.T) {
	// Many entries, each wrong in its own way, must not grow the list unboundedly.
	var entries [][4]uint32
	for i := range 300 {
		entries = append(entries, [4]uint32{0x0112, uint32(20 + i), 1, 1})
	}
	b := newTIFF(8+2+12*300+4, binary.LittleEndian, 8).ifd(8, 300, entries...).b
	info := media.ParseEXIF(b)
	if len(info.Warnings) == 0 || len(info.Warnings) > media.MaxWarnings {
		t.Errorf("%d warnings", len(info.Warnings))
	}
}

// After the first IDAT the search for eXIf reads the file's tail once instead
// of hopping over every pixel-data chunk: an eXIf just before IEND is found in
// a few reads however long the IDAT run, and one buried further from the end
// is given up on.
func TestIdentifyPNGAfterIDAT(t *testing.T) {
	plain := mediatest.PNG(mediatest.Quadrants(8, 8), nil)
	exif := mediatest.EncodeEXIF(mediatest.EXIF{Orientation: 5}, binary.LittleEndian)
	build := func(idats int) []byte {
		// Empty IDAT chunks between the real one and IEND: legal, and the
		// cheapest way to make a long chunk run.
		iend := len(plain) - 12
		out := bytes.Clone(plain[:iend])
		empty := mediatest.PNGChunk("IDAT", nil)
		for range idats {
			out = append(out, empty...)
		}
		out = append(out, mediatest.PNGChunk("eXIf", exif)...)
		return append(out, plain[iend:]...)
	}
	info, err := identifyBytes(build(500))
	if err != nil || info.Orientation != 5 {
		t.Errorf("500 IDATs: %+v, %v", info, err)
	}
	data := build(50000)
	cr := &countingReaderAt{r: bytes.NewReader(data)}
	info, err = media.Identify(cr, int64(len(data)))
	if err != nil || info.Orientation != 5 || info.Width != 8 {
		t.Errorf("50000 IDATs: %+v, %v", info, err)
	}
	if c := cr.calls.Load(); c > 4 {
		t.Errorf("%d reads", c)
	}

	// 100 KB of chunks after the eXIf puts it out of the tail's reach; a
	// forged "eXIf" inside pixel data (wrong CRC) is not taken for one.
	plainIEND := len(plain) - 12
	buried := bytes.Clone(plain[:plainIEND])
	buried = append(buried, mediatest.PNGChunk("IDAT", make([]byte, 70<<10))...)
	buried = append(buried, mediatest.PNGChunk("eXIf", exif)...)
	forged := append([]byte{0, 0, 0, 30}, "eXIf"...)
	forged = append(forged, exif[:min(len(exif), 30)]...)
	buried = append(buried, mediatest.PNGChunk("IDAT", append(make([]byte, 100<<10), forged...))...)
	buried = append(buried, plain[plainIEND:]...)
	cr = &countingReaderAt{r: bytes.NewReader(buried)}
	info, err = media.Identify(cr, int64(len(buried)))
	if err != nil || info.Orientation != 1 || len(info.Warnings) != 0 {
		t.Errorf("buried eXIf: %+v, %v", info, err)
	}
	if c := cr.calls.Load(); c > 4 {
		t.Errorf("buried eXIf: %d reads", c)
	}
}

func TestIdentifyDigitizedFallback(t *testing.T) {
	le := binary.LittleEndian
	b := newTIFF(200, le, 8).
		ifd(8, 3, [4]uint32{0x010F, 2, 16, 100}, [4]uint32{0x0110, 2, 4, 'X' | '1'<<8}, [4]uint32{0x8769, 4, 1, 50}).
		ifd(50, 3, [4]uint32{0x9004, 2, 20, 120}, [4]uint32{0x9011, 2, 7, 140}, [4]uint32{0x9012, 2, 7, 150}).
		str(100, "  Canon\x00\x00\x00\x00 ").
		str(120, "2015:01:02 03:04:05\x00").
		str(140, "+02:00\x00").
		str(150, "-05:00\x00").b
	info := media.ParseEXIF(b)
	if info.CreationTime != "2015-01-02T03:04:05-05:00" || info.Make != "Canon" || info.Model != "X1" || len(info.Warnings) != 0 {
		t.Errorf("got %+v", info)
	}
}
