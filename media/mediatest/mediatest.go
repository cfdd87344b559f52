// Package mediatest generates image files for tests, fixtures and samples:
// pictures with known content, encoded with chosen EXIF metadata, in every
// format package media identifies. All output is deterministic, so the same
// call always yields the same bytes.
//
// The generators panic on arguments no test could mean (such as an EXIF
// payload too large for a JPEG segment), as they exist to be called by code.
package mediatest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"photoflow/media"
)

// EXIF is the metadata EncodeEXIF writes. Zero fields are left out.
type EXIF struct {
	Make, Model string
	// Orientation is the EXIF orientation 1..8; 0 omits the tag. Other values
	// are written as given, to build invalid files.
	Orientation int
	// DateTimeOriginal is in EXIF form, "2016:04:09 14:08:13".
	DateTimeOriginal string
	// OffsetTimeOriginal is the zone offset, "+02:00".
	OffsetTimeOriginal string
	// GPS is written as degrees/minutes/seconds rationals with N/S and E/W
	// references.
	GPS *media.GeoPoint
}

// TIFF field types and tags written by EncodeEXIF.
const (
	typeByte     = 1
	typeASCII    = 2
	typeShort    = 3
	typeLong     = 4
	typeRational = 5
)

type field struct {
	tag, typ uint16
	count    uint32
	data     []byte
}

// EncodeEXIF returns a TIFF-structured EXIF payload in the given byte order:
// IFD0 (Make, Model, Orientation and the sub-IFD pointers), an Exif IFD
// (DateTimeOriginal, OffsetTimeOriginal) and a GPS IFD, each only when it has
// something to hold. This is the payload of a JPEG APP1 segment after its
// "Exif\x00\x00" prefix, and the content of a PNG eXIf chunk.
func EncodeEXIF(e EXIF, order binary.ByteOrder) []byte {
	ascii := func(tag uint16, s string) field {
		b := append([]byte(s), 0)
		return field{tag, typeASCII, uint32(len(b)), b}
	}
	var ifd0, exif, gps []field
	if e.Make != "" {
		ifd0 = append(ifd0, ascii(0x010F, e.Make))
	}
	if e.Model != "" {
		ifd0 = append(ifd0, ascii(0x0110, e.Model))
	}
	if e.Orientation != 0 {
		ifd0 = append(ifd0, field{0x0112, typeShort, 1, app16(order, nil, uint16(e.Orientation))})
	}
	if e.DateTimeOriginal != "" {
		exif = append(exif, ascii(0x9003, e.DateTimeOriginal))
	}
	if e.OffsetTimeOriginal != "" {
		exif = append(exif, ascii(0x9011, e.OffsetTimeOriginal))
	}
	if e.GPS != nil {
		latRef, lonRef := "N", "E"
		if e.GPS.Latitude < 0 {
			latRef = "S"
		}
		if e.GPS.Longitude < 0 {
			lonRef = "W"
		}
		gps = append(gps,
			field{0x0000, typeByte, 4, []byte{2, 3, 0, 0}},
			ascii(0x0001, latRef),
			field{0x0002, typeRational, 3, dms(e.GPS.Latitude, order)},
			ascii(0x0003, lonRef),
			field{0x0004, typeRational, 3, dms(e.GPS.Longitude, order)},
		)
	}
	// Pointers are placeholders until the layout is known; IFD0 keeps its
	// size either way, so the offsets can be computed before filling them in.
	exifAt, gpsAt := -1, -1
	if len(exif) > 0 {
		exifAt = len(ifd0)
		ifd0 = append(ifd0, field{0x8769, typeLong, 1, make([]byte, 4)})
	}
	if len(gps) > 0 {
		gpsAt = len(ifd0)
		ifd0 = append(ifd0, field{0x8825, typeLong, 1, make([]byte, 4)})
	}
	off0 := 8
	offExif := off0 + ifdSize(ifd0)
	offGPS := offExif
	if len(exif) > 0 {
		offGPS += ifdSize(exif)
	}
	if exifAt >= 0 {
		order.PutUint32(ifd0[exifAt].data, uint32(offExif))
	}
	if gpsAt >= 0 {
		order.PutUint32(ifd0[gpsAt].data, uint32(offGPS))
	}

	var out []byte
	if order == binary.LittleEndian {
		out = append(out, 'I', 'I', 42, 0)
	} else {
		out = append(out, 'M', 'M', 0, 42)
	}
	out = app32(order, out, uint32(off0))
	out = writeIFD(out, ifd0, order)
	if len(exif) > 0 {
		out = writeIFD(out, exif, order)
	}
	if len(gps) > 0 {
		out = writeIFD(out, gps, order)
	}
	return out
}

// ifdSize is the size of an IFD with its out-of-line data, padded to even
// length as TIFF asks.
func ifdSize(fs []field) int {
	n := 2 + 12*len(fs) + 4
	for _, f := range fs {
		if len(f.data) > 4 {
			n += len(f.data) + len(f.data)%2
		}
	}
	return n
}

// writeIFD appends an IFD (entries, a zero next-IFD pointer, then the data
// that does not fit inline) at the current end of out.
func writeIFD(out []byte, fs []field, order binary.ByteOrder) []byte {
	dataAt := len(out) + 2 + 12*len(fs) + 4
	out = app16(order, out, uint16(len(fs)))
	var data []byte
	for _, f := range fs {
		out = app16(order, out, f.tag)
		out = app16(order, out, f.typ)
		out = app32(order, out, f.count)
		if len(f.data) <= 4 {
			var v [4]byte
			copy(v[:], f.data)
			out = append(out, v[:]...)
			continue
		}
		out = app32(order, out, uint32(dataAt+len(data)))
		data = append(data, f.data...)
		if len(f.data)%2 == 1 {
			data = append(data, 0)
		}
	}
	out = app32(order, out, 0)
	return append(out, data...)
}

// app16 and app32 append in a binary.ByteOrder, which unlike
// binary.AppendByteOrder is what callers naturally hold.
func app16(order binary.ByteOrder, b []byte, v uint16) []byte {
	var t [2]byte
	order.PutUint16(t[:], v)
	return append(b, t[:]...)
}

func app32(order binary.ByteOrder, b []byte, v uint32) []byte {
	var t [4]byte
	order.PutUint32(t[:], v)
	return append(b, t[:]...)
}

// dms encodes decimal degrees as three RATIONALs, with seconds to a
// thousandth (about 3 cm), the precision phones write.
func dms(v float64, order binary.ByteOrder) []byte {
	v = math.Abs(v)
	d := math.Floor(v)
	mf := (v - d) * 60
	m := math.Floor(mf)
	s := math.Round((mf - m) * 60 * 1000)
	var b []byte
	for _, r := range [][2]uint32{{uint32(d), 1}, {uint32(m), 1}, {uint32(s), 1000}} {
		b = app32(order, b, r[0])
		b = app32(order, b, r[1])
	}
	return b
}

// JPEG encodes img as a baseline JPEG (quality 90). A non-nil exif payload is
// inserted right after SOI as an APP1 "Exif\x00\x00" segment, where cameras
// put it.
func JPEG(img image.Image, exif []byte) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		panic(fmt.Sprintf("mediatest: jpeg: %v", err))
	}
	b := buf.Bytes()
	if exif == nil {
		return b
	}
	segLen := 2 + 6 + len(exif)
	if segLen > 0xFFFF {
		panic(fmt.Sprintf("mediatest: EXIF payload of %d bytes does not fit a JPEG segment", len(exif)))
	}
	out := make([]byte, 0, len(b)+2+segLen)
	out = append(out, b[:2]...) // SOI
	out = append(out, 0xFF, 0xE1, byte(segLen>>8), byte(segLen))
	out = append(out, "Exif\x00\x00"...)
	out = append(out, exif...)
	return append(out, b[2:]...)
}

// PNG encodes img as a PNG. A non-nil exif payload is inserted as an eXIf
// chunk before the first IDAT, as the PNG specification recommends.
func PNG(img image.Image, exif []byte) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(fmt.Sprintf("mediatest: png: %v", err))
	}
	b := buf.Bytes()
	if exif == nil {
		return b
	}
	// Walk the chunks the encoder wrote to find the first IDAT.
	off := 8
	for off+8 <= len(b) && string(b[off+4:off+8]) != "IDAT" {
		off += 12 + int(binary.BigEndian.Uint32(b[off:]))
	}
	out := make([]byte, 0, len(b)+12+len(exif))
	out = append(out, b[:off]...)
	out = append(out, PNGChunk("eXIf", exif)...)
	return append(out, b[off:]...)
}

// PNGChunk returns a complete PNG chunk (length, type, data, CRC), for tests
// that assemble PNGs chunk by chunk.
func PNGChunk(typ string, data []byte) []byte {
	if len(typ) != 4 {
		panic("mediatest: PNG chunk type must have four letters")
	}
	out := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	out = append(out, typ...)
	out = append(out, data...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[4:]))
}

// Colours of the Quadrants picture, fully saturated so that tests can tell
// them apart after JPEG compression and resampling.
var (
	Red    = color.RGBA{255, 0, 0, 255}
	Green  = color.RGBA{0, 255, 0, 255}
	Blue   = color.RGBA{0, 0, 255, 255}
	Yellow = color.RGBA{255, 255, 0, 255}
)

// Quadrants returns an upright w×h picture whose top-left quarter is red,
// top-right green, bottom-left blue and bottom-right yellow: every one of the
// eight orientations moves the colours to a different arrangement, so a
// wrong transform cannot go unnoticed.
func Quadrants(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			var c color.RGBA
			switch {
			case x < w/2 && y < h/2:
				c = Red
			case y < h/2:
				c = Green
			case x < w/2:
				c = Blue
			default:
				c = Yellow
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// StoredFor returns the pixels a camera stores for a scene that looks like
// upright when displayed with EXIF orientation o: the inverse of media.Orient.
//
// It is written from the TIFF 6.0 definitions of the orientation tag (which
// visual side the stored 0th row and 0th column are) rather than by inverting
// media.Orient, so that tests comparing the two check something.
func StoredFor(upright image.Image, orientation int) image.Image {
	ub := upright.Bounds()
	uw, uh := ub.Dx(), ub.Dy()
	sw, sh := uw, uh
	if orientation >= 5 && orientation <= 8 {
		sw, sh = uh, uw
	}
	out := image.NewRGBA(image.Rect(0, 0, sw, sh))
	src, _ := upright.(*image.RGBA)
	for b := range sh { // stored row
		for a := range sw { // stored column
			var x, y int // where the stored pixel appears when displayed
			switch orientation {
			case 2: // 0th row top, 0th column right
				x, y = uw-1-a, b
			case 3: // 0th row bottom, 0th column right
				x, y = uw-1-a, uh-1-b
			case 4: // 0th row bottom, 0th column left
				x, y = a, uh-1-b
			case 5: // 0th row left, 0th column top
				x, y = b, a
			case 6: // 0th row right, 0th column top
				x, y = uw-1-b, a
			case 7: // 0th row right, 0th column bottom
				x, y = uw-1-b, uh-1-a
			case 8: // 0th row left, 0th column bottom
				x, y = b, uh-1-a
			default: // 1: 0th row top, 0th column left
				x, y = a, b
			}
			if src != nil {
				// Copying bytes keeps 12 MP fixtures fast; the result is the
				// same as the general path below.
				si := src.PixOffset(ub.Min.X+x, ub.Min.Y+y)
				copy(out.Pix[out.PixOffset(a, b):][:4], src.Pix[si:si+4])
				continue
			}
			out.Set(a, b, upright.At(ub.Min.X+x, ub.Min.Y+y))
		}
	}
	return out
}

// Photo returns a w×h picture with the statistics of a landscape photo (a sky
// gradient above a textured green ground, with a sun), so that encoders and
// resamplers do realistic work. seed varies the texture.
func Photo(w, h int, seed int64) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	horizon := h * 45 / 100
	sunX, sunY, sunR := w*7/10, h/6, max(2, min(w, h)/14)
	s := uint64(seed)*0x9E3779B97F4A7C15 + 1
	for y := range h {
		row := img.Pix[y*img.Stride:]
		for x := range w {
			// A cheap per-pixel hash stands in for sensor noise and texture.
			n := uint64(x)*0x9E3779B97F4A7C15 ^ uint64(y)*0xC2B2AE3D27D4EB4F ^ s
			n ^= n >> 29
			n *= 0xBF58476D1CE4E5B9
			n ^= n >> 32
			noise := int(n%21) - 10
			var r, g, b int
			if y < horizon {
				t := y * 255 / max(1, horizon)
				r, g, b = 70+t/3, 130+t/4, 235-t/10
				dx, dy := x-sunX, y-sunY
				if dx*dx+dy*dy < sunR*sunR {
					r, g, b = 255, 245, 200
				}
				noise /= 3
			} else {
				t := (y - horizon) * 255 / max(1, h-horizon)
				wave := int(20 * math.Sin(float64(x)/37+float64(y)/53))
				r, g, b = 60+t/5+wave/2, 120-t/6+wave, 40+wave/3
			}
			row[4*x+0] = clamp(r + noise)
			row[4*x+1] = clamp(g + noise)
			row[4*x+2] = clamp(b + noise)
			row[4*x+3] = 255
		}
	}
	return img
}

func clamp(v int) uint8 {
	return uint8(min(255, max(0, v)))
}

// GIF returns a w×h Quadrants picture encoded as GIF.
func GIF(w, h int) []byte {
	var buf bytes.Buffer
	if err := gif.Encode(&buf, Quadrants(w, h), nil); err != nil {
		panic(fmt.Sprintf("mediatest: gif: %v", err))
	}
	return buf.Bytes()
}

// TIFF returns a w×h Quadrants picture encoded as an uncompressed TIFF.
func TIFF(w, h int) []byte {
	var buf bytes.Buffer
	if err := tiff.Encode(&buf, Quadrants(w, h), nil); err != nil {
		panic(fmt.Sprintf("mediatest: tiff: %v", err))
	}
	return buf.Bytes()
}

// BMP returns a w×h Quadrants picture encoded as BMP.
func BMP(w, h int) []byte {
	var buf bytes.Buffer
	if err := bmp.Encode(&buf, Quadrants(w, h)); err != nil {
		panic(fmt.Sprintf("mediatest: bmp: %v", err))
	}
	return buf.Bytes()
}

// WebP returns a valid 1×1 lossless WebP holding one opaque orange pixel.
// There is no WebP encoder to hand, so the bitstream is assembled here: a
// VP8L header, no transforms, no colour cache, and five single-symbol prefix
// codes, which spend zero bits on the pixel itself.
func WebP() []byte {
	var bw bitWriter
	bw.write(0x2F, 8) // VP8L signature
	bw.write(0, 14)   // width-1
	bw.write(0, 14)   // height-1
	bw.write(0, 1)    // alpha_is_used
	bw.write(0, 3)    // version
	bw.write(0, 1)    // no transform
	bw.write(0, 1)    // no colour cache
	bw.write(0, 1)    // no meta prefix codes
	// Green, red, blue, alpha, distance: each a "simple" code of one 8-bit symbol.
	for _, sym := range []uint32{0x80, 0xFF, 0x00, 0xFF, 0x00} {
		bw.write(1, 1) // simple code
		bw.write(0, 1) // one symbol
		bw.write(1, 1) // 8-bit symbol
		bw.write(sym, 8)
	}
	data := bw.bytes()
	chunk := append([]byte("VP8L"), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
	chunk = append(chunk, data...)
	if len(data)%2 == 1 {
		chunk = append(chunk, 0) // RIFF chunks are padded to even size
	}
	out := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(4+len(chunk)))...)
	out = append(out, "WEBP"...)
	return append(out, chunk...)
}

// bitWriter packs bits least-significant first, as VP8L reads them.
type bitWriter struct {
	buf   []byte
	acc   uint64
	nbits uint
}

func (w *bitWriter) write(v uint32, n uint) {
	w.acc |= uint64(v) << w.nbits
	w.nbits += n
	for w.nbits >= 8 {
		w.buf = append(w.buf, byte(w.acc))
		w.acc >>= 8
		w.nbits -= 8
	}
}

func (w *bitWriter) bytes() []byte {
	if w.nbits > 0 {
		return append(w.buf, byte(w.acc))
	}
	return w.buf
}

// Camera metadata written by CameraJPEG, exported so tests can compare.
const (
	CameraMake               = "Canon"
	CameraModel              = "Canon EOS 5D Mark IV"
	CameraDateTimeOriginal   = "2016:04:09 14:08:13"
	CameraOffsetTimeOriginal = "-07:00"
	// CameraCreationTime is what media.Identify reports for CameraJPEG.
	CameraCreationTime = "2016-04-09T14:08:13-07:00"
)

// CameraGPS is the position CameraJPEG records: Mount Rainier.
var CameraGPS = media.GeoPoint{Latitude: 46.8256, Longitude: -121.7283}

// CameraJPEG returns a JPEG as a camera would write it: w×h stored pixels, a
// Photo scene that displays upright with EXIF orientation o (so for o 5..8
// the scene itself is h×w), and full EXIF metadata in little-endian order
// (Canon's choice): make, model, orientation, capture time with offset, GPS.
func CameraJPEG(w, h int, orientation int) []byte {
	uw, uh := media.OrientedSize(w, h, orientation)
	stored := StoredFor(Photo(uw, uh, 1), orientation)
	gps := CameraGPS
	exif := EncodeEXIF(EXIF{
		Make:               CameraMake,
		Model:              CameraModel,
		Orientation:        orientation,
		DateTimeOriginal:   CameraDateTimeOriginal,
		OffsetTimeOriginal: CameraOffsetTimeOriginal,
		GPS:                &gps,
	}, binary.LittleEndian)
	return JPEG(stored, exif)
}

// SkinTone returns a w×h picture filled mostly with a skin-like colour in soft shading: the
// offline analyzer's moderation heuristic scores it high, so it exercises the review path.
func SkinTone(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			shade := (x + y) * 24 / max(1, w+h)
			i := img.PixOffset(x, y)
			img.Pix[i+0] = clamp(224 - shade)
			img.Pix[i+1] = clamp(172 - shade)
			img.Pix[i+2] = clamp(140 - shade)
			img.Pix[i+3] = 255
		}
	}
	return img
}
