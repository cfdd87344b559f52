package media_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"photoflow/media"
	"photoflow/media/mediatest"
)

// countingReaderAt records how much Identify asks of its reader, standing in
// for the ranged GETs a remote object would cost.
type countingReaderAt struct {
	r     io.ReaderAt
	bytes atomic.Int64
	calls atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.calls.Add(1)
	n, err := c.r.ReadAt(p, off)
	c.bytes.Add(int64(n))
	return n, err
}

// identifyBytes runs Identify on an in-memory file.
func identifyBytes(b []byte) (media.Info, error) {
	return media.Identify(bytes.NewReader(b), int64(len(b)))
}

// failingReaderAt fails every read past limit with a network-like error.
type failingReaderAt struct {
	data  []byte
	limit int64
}

var errNetwork = errors.New("connection reset")

func (f failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.limit {
		n := 0
		if off < f.limit {
			n = copy(p, f.data[off:f.limit])
		}
		return n, errNetwork
	}
	return copy(p, f.data[off:]), nil
}

// failingReader returns data up to limit, then a network-like error.
type failingReader struct {
	data  []byte
	limit int
	off   int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.off >= f.limit {
		return 0, errNetwork
	}
	n := copy(p, f.data[f.off:f.limit])
	f.off += n
	return n, nil
}

// tiffBuilder assembles hand-made, possibly hostile, TIFF payloads: a zeroed
// buffer of a fixed size with values poked at chosen offsets.
type tiffBuilder struct {
	b     []byte
	order binary.ByteOrder
}

func newTIFF(size int, order binary.ByteOrder, ifd0 uint32) *tiffBuilder {
	t := &tiffBuilder{b: make([]byte, size), order: order}
	if order == binary.LittleEndian {
		copy(t.b, "II*\x00")
	} else {
		copy(t.b, "MM\x00*")
	}
	order.PutUint32(t.b[4:], ifd0)
	return t
}

// ifd writes an entry count and entries (tag, type, count, value) at off.
func (t *tiffBuilder) ifd(off int, count uint16, entries ...[4]uint32) *tiffBuilder {
	t.order.PutUint16(t.b[off:], count)
	for i, e := range entries {
		p := off + 2 + 12*i
		t.order.PutUint16(t.b[p:], uint16(e[0]))
		t.order.PutUint16(t.b[p+2:], uint16(e[1]))
		t.order.PutUint32(t.b[p+4:], e[2])
		if e[1] == 3 && e[2] == 1 { // a SHORT sits in the first two bytes
			t.order.PutUint16(t.b[p+8:], uint16(e[3]))
		} else {
			t.order.PutUint32(t.b[p+8:], e[3])
		}
	}
	return t
}

func (t *tiffBuilder) put32(off int, vs ...uint32) *tiffBuilder {
	for i, v := range vs {
		t.order.PutUint32(t.b[off+4*i:], v)
	}
	return t
}

func (t *tiffBuilder) str(off int, s string) *tiffBuilder {
	copy(t.b[off:], s)
	return t
}

// hostileEXIF lists forged payloads with what each one attacks.
func hostileEXIF() map[string][]byte {
	le := binary.LittleEndian
	return map[string][]byte{
		"IFD0 pointing to itself": newTIFF(64, le, 8).
			ifd(8, 2, [4]uint32{0x8769, 4, 1, 8}, [4]uint32{0x8825, 4, 1, 8}).b,
		"Exif IFD pointer into IFD0": newTIFF(64, le, 8).
			ifd(8, 2, [4]uint32{0x0112, 3, 1, 6}, [4]uint32{0x8769, 4, 1, 8 + 2 + 12}).b,
		"Exif and GPS IFD point to each other": newTIFF(128, le, 8).
			ifd(8, 2, [4]uint32{0x8769, 4, 1, 40}, [4]uint32{0x8825, 4, 1, 40}).
			ifd(40, 1, [4]uint32{0x8825, 4, 1, 8}).b,
		"entry count 65535": newTIFF(64, le, 8).ifd(8, 65535).b,
		"entry count past the end": newTIFF(40, le, 8).
			ifd(8, 500, [4]uint32{0x0112, 3, 1, 3}).b,
		"IFD0 offset past the end":     newTIFF(16, le, 0xFFFFFFF0).b,
		"IFD0 offset inside header":    newTIFF(16, le, 2).b,
		"Exif IFD offset past the end": newTIFF(64, le, 8).ifd(8, 1, [4]uint32{0x8769, 4, 1, 0x7FFFFFFF}).b,
		"string offset past the end": newTIFF(64, le, 8).
			ifd(8, 1, [4]uint32{0x010F, 2, 20, 0xFFFFFFF0}).b,
		"huge string count": newTIFF(64, le, 8).
			ifd(8, 2, [4]uint32{0x010F, 2, 0xFFFFFFFF, 26}, [4]uint32{0x0110, 2, 0x7FFFFFFF, 26}).b,
		"huge rational count": newTIFF(96, le, 8).
			ifd(8, 1, [4]uint32{0x8825, 4, 1, 26}).
			ifd(26, 4, [4]uint32{1, 2, 2, 'N'}, [4]uint32{2, 5, 0x20000000, 80}, [4]uint32{3, 2, 2, 'E'}, [4]uint32{4, 5, 0xFFFFFFFF, 80}).b,
		"zero denominators": newTIFF(128, le, 8).
			ifd(8, 1, [4]uint32{0x8825, 4, 1, 26}).
			ifd(26, 4, [4]uint32{1, 2, 2, 'N'}, [4]uint32{2, 5, 3, 80}, [4]uint32{3, 2, 2, 'E'}, [4]uint32{4, 5, 3, 80}).
			put32(80, 46, 0, 49, 1, 32, 1).b,
		"wrong types": newTIFF(64, le, 8).
			ifd(8, 3, [4]uint32{0x010F, 4, 1, 7}, [4]uint32{0x0112, 2, 1, 6}, [4]uint32{0x8769, 2, 4, 8}).b,
		"orientation out of range": newTIFF(64, le, 8).ifd(8, 1, [4]uint32{0x0112, 3, 1, 9}).b,
		"bad byte order":           append([]byte("XX*\x00\x08\x00\x00\x00"), make([]byte, 16)...),
		"too short":                []byte("II*\x00\x08"),
	}
}

var (
	bigCameraOnce sync.Once
	bigCamera     []byte
)

// bigCameraJPEG is a 12 MP (4000×3000) camera JPEG, built once because
// encoding it takes about a second.
func bigCameraJPEG() []byte {
	bigCameraOnce.Do(func() { bigCamera = mediatest.CameraJPEG(4000, 3000, 6) })
	return bigCamera
}

// jpegWithEXIF wraps a payload in a small JPEG.
func jpegWithEXIF(exif []byte) []byte {
	return mediatest.JPEG(mediatest.Quadrants(32, 24), exif)
}
