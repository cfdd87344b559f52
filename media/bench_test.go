package media_test

import (
	"bytes"
	"testing"

	"photoflow/media"
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

func BenchmarkThumbnail(b *testing.B) {
	data := bigCameraJPEG()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := media.Thumbnail(bytes.NewReader(data), media.FormatJPEG, 6, 250, 0); err != nil {
			b.Fatal(err)
		}
	}
}
