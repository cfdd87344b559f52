package media_test

import (
	"bytes"
	"image/jpeg"
	"sync"
	"testing"

	"photoflow/media"
	"photoflow/media/mediatest"
)

func BenchmarkIdentify(b *testing.B) {
	data := bigCameraJPEG()
	r := bytes.NewReader(data)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := media.Identify(r, int64(len(data))); err != nil {
			b.Fatal(err)
		}
	}
}

var (
	huge24Once sync.Once
	huge24     []byte
)

// camera24MP is a 24 MP (6000×4000) 4:2:0 quality 90 camera JPEG.
func camera24MP() []byte {
	huge24Once.Do(func() { huge24 = mediatest.CameraJPEG(6000, 4000, 1) })
	return huge24
}

func benchThumbnail(b *testing.B, data []byte, o int) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := media.Thumbnail(bytes.NewReader(data), media.FormatJPEG, o, 250, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkThumbnail is the 12 MP thumbnail with a rotation to apply.
func BenchmarkThumbnail(b *testing.B) { benchThumbnail(b, bigCameraJPEG(), 6) }

func BenchmarkThumbnail12MP(b *testing.B) { benchThumbnail(b, bigCameraJPEG(), 1) }

func BenchmarkThumbnail24MP(b *testing.B) { benchThumbnail(b, camera24MP(), 1) }

func BenchmarkDecodeFull12MP(b *testing.B) {
	data := bigCameraJPEG()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

func benchScaled(b *testing.B, s int) {
	data := bigCameraJPEG()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := media.DecodeAtLeast(bytes.NewReader(data), media.FormatJPEG, 4000/s, 3000/s, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeScaled8(b *testing.B) { benchScaled(b, 8) }
func BenchmarkDecodeScaled4(b *testing.B) { benchScaled(b, 4) }
func BenchmarkDecodeScaled2(b *testing.B) { benchScaled(b, 2) }

// BenchmarkDecodeScaled8Progressive measures a progressive 12 MP file, whose
// AC scans are skipped unread.
func BenchmarkDecodeScaled8Progressive(b *testing.B) {
	data := mediatest.EncodeJPEG(mediatest.Photo(4000, 3000, 1), mediatest.JPEGOptions{Progressive: true})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := media.DecodeAtLeast(bytes.NewReader(data), media.FormatJPEG, 500, 375, 0); err != nil {
			b.Fatal(err)
		}
	}
}
