package media_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"photoflow/media"
	"photoflow/media/mediatest"
)

// seedFiles are the fixtures every fuzz target starts from.
func seedFiles() [][]byte {
	le, be := binary.LittleEndian, binary.BigEndian
	full := mediatest.EXIF{
		Make: "Canon", Model: "Canon EOS 5D Mark IV", Orientation: 6,
		DateTimeOriginal: "2016:04:09 14:08:13", OffsetTimeOriginal: "-07:00",
		GPS: &media.GeoPoint{Latitude: 46.8256, Longitude: -121.7283},
	}
	small := mediatest.Quadrants(8, 6)
	seeds := [][]byte{
		mediatest.CameraJPEG(16, 12, 6),
		mediatest.JPEG(small, nil),
		mediatest.JPEG(small, mediatest.EncodeEXIF(full, be)),
		mediatest.PNG(small, nil),
		mediatest.PNG(small, mediatest.EncodeEXIF(full, le)),
		mediatest.GIF(8, 6),
		mediatest.TIFF(8, 6),
		mediatest.BMP(8, 6),
		mediatest.WebP(),
		[]byte("\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic"),
		[]byte("\x00\x00\x00\x18ftypavif\x00\x00\x00\x00mif1avif"),
		[]byte("plain text"),
		{},
	}
	for _, exif := range hostileEXIF() {
		seeds = append(seeds, jpegWithEXIF(exif))
	}
	return seeds
}

func FuzzIdentify(f *testing.F) {
	for _, s := range seedFiles() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := identifyBytes(data)
		if err != nil {
			if !errors.Is(err, media.ErrUnknownFormat) && !errors.Is(err, media.ErrMalformed) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		checkSane(t, info)
		switch info.Format {
		case media.FormatJPEG, media.FormatPNG:
			if info.Width <= 0 || info.Height <= 0 {
				t.Fatalf("%s without a size: %+v", info.Format, info)
			}
		case media.FormatGIF, media.FormatTIFF, media.FormatBMP, media.FormatWebP, media.FormatHEIC, media.FormatAVIF:
		default:
			t.Fatalf("unknown format %q", info.Format)
		}
	})
}

func FuzzEXIF(f *testing.F) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		f.Add(mediatest.EncodeEXIF(mediatest.EXIF{
			Make: "Apple", Model: "iPhone 15", Orientation: 8,
			DateTimeOriginal: "2024:01:02 03:04:05", OffsetTimeOriginal: "+09:00",
			GPS: &media.GeoPoint{Latitude: -33.8568, Longitude: 151.2153},
		}, order))
	}
	for _, exif := range hostileEXIF() {
		f.Add(exif)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSane(t, media.ParseEXIF(data))
	})
}

// FuzzThumbnail feeds arbitrary bytes to the decoder path with a small pixel
// budget, so the fuzzer explores headers rather than huge allocations.
func FuzzThumbnail(f *testing.F) {
	for _, s := range append(seedFiles(), jpegSeeds()...) {
		f.Add(s, uint8(6))
	}
	f.Fuzz(func(t *testing.T, data []byte, o uint8) {
		format := media.FormatJPEG
		if bytes.HasPrefix(data, []byte("\x89PNG")) {
			format = media.FormatPNG
		}
		th, err := media.Thumbnail(bytes.NewReader(data), format, int(o), 32, 1<<16)
		if err != nil {
			if !errors.Is(err, media.ErrMalformed) && !errors.Is(err, media.ErrTooLarge) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if th.Width < 1 || th.Height < 1 || th.Width > 32 || th.Height > 32 || len(th.Data) == 0 {
			t.Fatalf("thumbnail %dx%d, %d bytes", th.Width, th.Height, len(th.Data))
		}
	})
}

// checkSane asserts the invariants every Info must hold, whatever the input.
func checkSane(t *testing.T, info media.Info) {
	t.Helper()
	if info.Orientation < 1 || info.Orientation > 8 {
		t.Fatalf("orientation %d", info.Orientation)
	}
	if info.Width < 0 || info.Height < 0 {
		t.Fatalf("size %dx%d", info.Width, info.Height)
	}
	if len(info.Warnings) > media.MaxWarnings {
		t.Fatalf("%d warnings", len(info.Warnings))
	}
	if len(info.Make) > 1024 || len(info.Model) > 1024 {
		t.Fatalf("make/model of %d/%d bytes", len(info.Make), len(info.Model))
	}
	if g := info.GPS; g != nil {
		if g.Latitude < -90 || g.Latitude > 90 || g.Longitude < -180 || g.Longitude > 180 ||
			(g.Latitude == 0 && g.Longitude == 0) || g.Latitude != g.Latitude || g.Longitude != g.Longitude {
			t.Fatalf("GPS %+v", *g)
		}
	}
	if c := info.CreationTime; c != "" && len(c) != 19 && len(c) != 25 {
		t.Fatalf("creation time %q", c)
	}
}

// jpegSeeds are small JPEGs in every layout the reduced decoder handles,
// and some it hands over to the full decoder.
func jpegSeeds() [][]byte {
	photo := mediatest.Photo(40, 24, 1)
	seeds := [][]byte{mediatest.JPEG(photo, nil)}
	for _, o := range []mediatest.JPEGOptions{
		{Subsampling: "444"}, {Subsampling: "422", RestartInterval: 2}, {Subsampling: "440"},
		{Gray: true, RestartInterval: 1}, {Progressive: true}, {Progressive: true, SuccessiveApprox: true, RestartInterval: 3},
		{Gray: true, Progressive: true}, {CMYK: true}, {Quality: 20},
	} {
		seeds = append(seeds, mediatest.EncodeJPEG(photo, o))
	}
	return seeds
}

// FuzzDecodeJPEG runs the reduced JPEG decoder at every scale.
func FuzzDecodeJPEG(f *testing.F) {
	for _, s := range jpegSeeds() {
		f.Add(s, uint8(8))
	}
	f.Fuzz(func(t *testing.T, data []byte, scale uint8) {
		s := []int{1, 2, 4, 8}[scale%4]
		img, err := media.DecodeAtLeast(bytes.NewReader(data), media.FormatJPEG, 40/s, 24/s, 1<<16)
		if err != nil {
			if !errors.Is(err, media.ErrMalformed) && !errors.Is(err, media.ErrTooLarge) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		b := img.Bounds()
		if b.Empty() || b.Dx()*b.Dy() > 1<<16 {
			t.Fatalf("bounds %v", b)
		}
		_ = img.At(b.Max.X-1, b.Max.Y-1) // the planes must cover the bounds
	})
}
