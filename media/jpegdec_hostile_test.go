package media_test

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"testing"
	"time"

	"photoflow/media"
	"photoflow/media/mediatest"
)

// segment is a JPEG marker segment with its length.
func segment(m byte, payload []byte) []byte {
	n := len(payload) + 2
	return append([]byte{0xFF, m, byte(n >> 8), byte(n)}, payload...)
}

// withoutSegment removes the first segment with marker m after SOI.
func withoutSegment(t *testing.T, b []byte, m byte) []byte {
	t.Helper()
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xFF {
			t.Fatalf("no marker at %d", i)
		}
		n := int(b[i+2])<<8 | int(b[i+3])
		if b[i+1] == m {
			return append(bytes.Clone(b[:i]), b[i+2+n:]...)
		}
		i += 2 + n
	}
	t.Fatalf("no marker %#x", m)
	return nil
}

// A file of nothing but Huffman tables buys a bounded amount of work.
func TestReducedDecodeBoundsHuffmanTables(t *testing.T) {
	var tables []byte
	for range 3000 {
		tables = append(tables, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)
	}
	data := []byte{0xFF, 0xD8}
	for len(tables) > 0 {
		n := min(len(tables), 18*3000)
		data = append(data, segment(0xC4, tables[:n])...)
		tables = tables[n:]
	}
	data = append(data, 0xFF, 0xD9)
	began := time.Now()
	_, err := media.DecodeAtLeast(bytes.NewReader(data), media.FormatJPEG, 8, 8, 0)
	if !errors.Is(err, media.ErrMalformed) {
		t.Fatalf("got %v, want ErrMalformed", err)
	}
	if d := time.Since(began); d > time.Second {
		t.Errorf("took %s", d)
	}
}

// What comes before the frame header is kept for a fallback's replay, up to a bound.
func TestReducedDecodeBoundsRecordedHeader(t *testing.T) {
	src := mediatest.Photo(64, 48, 1)
	var junk []byte
	for range 300 { // ~19 MB of APP5 segments
		junk = append(junk, segment(0xE5, make([]byte, 65000))...)
	}
	pad := func(b []byte) []byte { return append(append([]byte{0xFF, 0xD8}, junk...), b[2:]...) }

	// The reduced path needs no replay: a padded YCbCr file still decodes.
	img, err := media.DecodeAtLeast(bytes.NewReader(pad(mediatest.EncodeJPEG(src, mediatest.JPEGOptions{}))), media.FormatJPEG, 8, 6, 0)
	if err != nil || img.Bounds().Dx() != 8 {
		t.Fatalf("padded YCbCr: %v, %v", img, err)
	}
	// A CMYK file falls back to the full decoder, which would need the whole prefix again.
	cmyk := pad(mediatest.EncodeJPEG(src, mediatest.JPEGOptions{CMYK: true}))
	if _, err := media.DecodeAtLeast(bytes.NewReader(cmyk), media.FormatJPEG, 8, 6, 0); !errors.Is(err, media.ErrMalformed) {
		t.Fatalf("padded CMYK: got %v, want ErrMalformed", err)
	}
}

// Three components stored as RGB (no JFIF marker, ids 'R','G','B') come out in their real
// colours, as image/jpeg decodes them.
func TestReducedDecodeRGBComponents(t *testing.T) {
	b := withoutSegment(t, mediatest.EncodeJPEG(mediatest.Photo(64, 48, 2), mediatest.JPEGOptions{Subsampling: "444"}), 0xE0)
	sof := bytes.Index(b, []byte{0xFF, 0xC0})
	ids := map[byte]byte{}
	for i := range 3 {
		ids[b[sof+10+3*i]] = "RGB"[i]
		b[sof+10+3*i] = "RGB"[i]
	}
	sos := bytes.Index(b, []byte{0xFF, 0xDA})
	for i := range int(b[sos+4]) {
		b[sos+5+2*i] = ids[b[sos+5+2*i]]
	}
	want, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	got, err := media.DecodeAtLeast(bytes.NewReader(b), media.FormatJPEG, 8, 6, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []image.Point{{4, 4}, {40, 30}} {
		wr, wg, wb, _ := want.At(p.X, p.Y).RGBA()
		gr, gg, gb, _ := got.At(p.X, p.Y).RGBA()
		if wr != gr || wg != gg || wb != gb {
			t.Errorf("at %v: got %d,%d,%d, want %d,%d,%d", p, gr>>8, gg>>8, gb>>8, wr>>8, wg>>8, wb>>8)
		}
	}
}

// A baseline scan's spectral fields mean nothing; odd values must not refuse the file.
func TestReducedDecodeIgnoresSequentialScanFields(t *testing.T) {
	b := mediatest.EncodeJPEG(mediatest.Photo(64, 48, 3), mediatest.JPEGOptions{})
	want, err := media.DecodeAtLeast(bytes.NewReader(b), media.FormatJPEG, 8, 6, 0)
	if err != nil {
		t.Fatal(err)
	}
	sos := bytes.Index(b, []byte{0xFF, 0xDA})
	ns := int(b[sos+4])
	b[sos+6+2*ns] = 0 // Se
	got, err := media.DecodeAtLeast(bytes.NewReader(b), media.FormatJPEG, 8, 6, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got.Bounds() != want.Bounds() || got.At(3, 3) != want.At(3, 3) {
		t.Errorf("Se=0 changed the image")
	}
}

// A sequential file codes each component once; a repeated scan is refused, not decoded again.
func TestReducedDecodeRefusesRepeatedScan(t *testing.T) {
	b := mediatest.EncodeJPEG(mediatest.Photo(64, 48, 4), mediatest.JPEGOptions{})
	sos := bytes.Index(b, []byte{0xFF, 0xDA})
	eoi := bytes.LastIndex(b, []byte{0xFF, 0xD9})
	twice := append(append(bytes.Clone(b[:eoi]), b[sos:eoi]...), 0xFF, 0xD9)
	if _, err := media.DecodeAtLeast(bytes.NewReader(twice), media.FormatJPEG, 8, 6, 0); !errors.Is(err, media.ErrMalformed) {
		t.Fatalf("got %v, want ErrMalformed", err)
	}
}
