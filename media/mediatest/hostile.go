package mediatest

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"slices"
	"strings"
	"sync"
)

// Outcomes a HostileFile may reach, as the pipeline reports them: the final
// status, then the error type for failures.
const (
	OutcomeSucceeded    = "SUCCEEDED"
	OutcomeNotSupported = "FAILED/FileNotSupported"
	OutcomeCorrupt      = "FAILED/CorruptImage"
	OutcomeTooLarge     = "FAILED/ImageTooLarge"
)

// Kinds of HostileFile, for grouping results.
const (
	HostileNotImage       = "not-image"        // empty, text, markup
	HostileTruncatedJPEG  = "truncated-jpeg"   // a JPEG cut short in its header or its scan data
	HostileCorruptJPEG    = "corrupt-jpeg"     // a complete JPEG with damaged entropy-coded data
	HostileBrokenHeader   = "broken-header"    // a JPEG or PNG whose header is invalid
	HostileJPEGVariant    = "jpeg-variant"     // valid JPEGs of the kinds cameras and editors write
	HostilePNG16          = "png-16bit"        // 16 bits a sample
	HostilePNGInterlaced  = "png-interlaced"   // Adam7
	HostilePNGPalette     = "png-palette"      // paletted, with transparency
	HostileDamagedPNG     = "damaged-png"      // truncated or failing its checksums
	HostileBomb           = "bomb"             // small files declaring enormous images
	HostileEXIF           = "hostile-exif"     // valid images with malicious EXIF
	HostileMarkupEXIF     = "markup-exif"      // valid images whose EXIF strings hold markup
	HostileOtherFormat    = "unsupported-type" // real images in formats the pipeline does not take
	HostileMisnamedFormat = "misnamed"         // supported images under another format's extension
)

// Markup written into the EXIF make and model of the markup-exif files, for
// tests that check it comes out escaped wherever it is shown.
const (
	MarkupMake  = "<script>alert(1)</script>"
	MarkupModel = `"><img src=x onerror=alert(1)>`
)

// HostileFile is a file built to trip up an image pipeline, with the outcomes
// the pipeline may legitimately reach for it.
type HostileFile struct {
	// Name is the file name to upload it under, unique in the catalogue.
	Name string
	// Kind is one of the Hostile* constants.
	Kind string
	Data []byte
	// Expect lists the acceptable outcomes, each one of the Outcome*
	// constants. More than one means that decoders may differ and either is
	// correct, as for damaged entropy data that a decoder can resynchronise
	// past or refuse.
	Expect []string
}

var (
	hostileOnce  sync.Once
	hostileFiles []HostileFile
)

// HostileFiles returns a catalogue of hostile and odd files: things that are
// not images, JPEGs cut short at offsets across the file, damaged entropy
// data, unusual but valid JPEG and PNG encodings, decompression bombs,
// malicious EXIF, and images in unsupported formats. Each is small (the
// largest is well under 300 KB) and deterministic. The result is the
// caller's to modify.
func HostileFiles() []HostileFile {
	hostileOnce.Do(func() { hostileFiles = buildHostileFiles() })
	out := make([]HostileFile, len(hostileFiles))
	for i, f := range hostileFiles {
		out[i] = HostileFile{Name: f.Name, Kind: f.Kind, Data: bytes.Clone(f.Data), Expect: slices.Clone(f.Expect)}
	}
	return out
}

func buildHostileFiles() []HostileFile {
	var files []HostileFile
	add := func(name, kind string, data []byte, expect ...string) {
		files = append(files, HostileFile{Name: name, Kind: kind, Data: data, Expect: expect})
	}

	// Not images at all.
	add("zero-bytes.jpg", HostileNotImage, []byte{}, OutcomeNotSupported)
	add("one-byte.jpg", HostileNotImage, []byte{0xFF}, OutcomeNotSupported)
	add("text.jpg", HostileNotImage, []byte("Dear diary,\nthis is not a photo.\n"), OutcomeNotSupported)
	add("page.jpg", HostileNotImage, []byte("<!DOCTYPE html>\n<html><head><title>x</title></head>"+
		"<body><script>alert(1)</script><img src=x onerror=alert(1)></body></html>\n"), OutcomeNotSupported)
	add("drawing.jpg", HostileNotImage, []byte(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100" onload="alert(1)">`+
		`<circle cx="50" cy="50" r="40" fill="red"/><script>alert(2)</script></svg>`+"\n"), OutcomeNotSupported)

	// A camera JPEG cut at offsets spread over its header and scan data.
	camera := cameraStyleJPEG(320, 240, 7)
	layout := jpegLayoutOf(camera)
	for _, cut := range truncationPoints(layout, len(camera)) {
		add(fmt.Sprintf("truncated-%s-at-%d.jpg", cut.where, cut.at), HostileTruncatedJPEG,
			bytes.Clone(camera[:cut.at]), cut.expect...)
	}
	// A progressive JPEG cut inside its AC scans. A decoder that makes a
	// reduced image from the DC scan alone may finish without noticing.
	prog := EncodeJPEG(Photo(320, 240, 8), JPEGOptions{Progressive: true})
	for _, pct := range []int{40, 80} {
		at := len(prog) * pct / 100
		add(fmt.Sprintf("truncated-progressive-at-%d.jpg", at), HostileTruncatedJPEG,
			bytes.Clone(prog[:at]), OutcomeCorrupt, OutcomeSucceeded)
	}

	// Complete JPEGs with damaged entropy-coded data: a decoder may
	// resynchronise (or just paint wrong pixels) or refuse; both are fine,
	// crashing or hanging is not.
	damaged := func(name string, data []byte) {
		add(name, HostileCorruptJPEG, data, OutcomeSucceeded, OutcomeCorrupt)
	}
	damaged("corrupt-flip-early.jpg", flipScan(camera, layout.scanStart, len(camera)-2, 0x5A, 0.05))
	damaged("corrupt-flip-middle.jpg", flipScan(camera, layout.scanStart, len(camera)-2, 0xA5, 0.5))
	damaged("corrupt-flip-late.jpg", flipScan(camera, layout.scanStart, len(camera)-2, 0x0F, 0.97))
	damaged("corrupt-flip-many.jpg", flipScan(camera, layout.scanStart, len(camera)-2, 0x33,
		0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9))
	zeroed := bytes.Clone(camera)
	clear(zeroed[layout.scanStart+(len(camera)-layout.scanStart)*2/5:][:256])
	damaged("corrupt-zeroed-run.jpg", zeroed)
	damaged("corrupt-eoi-in-scan.jpg", insertInScan(camera, layout.scanStart, len(camera)-2, 0.5, 0xFF, 0xD9))
	damaged("corrupt-stray-rst.jpg", insertInScan(camera, layout.scanStart, len(camera)-2, 0.3, 0xFF, 0xD3))
	restart := EncodeJPEG(Photo(320, 240, 9), JPEGOptions{RestartInterval: 4})
	rl := jpegLayoutOf(restart)
	damaged("corrupt-flip-with-restarts.jpg", flipScan(restart, rl.scanStart, len(restart)-2, 0x5A, 0.25, 0.5, 0.75))

	// JPEG and PNG headers that are invalid in ways the identifier sees.
	add("jpeg-zero-width.jpg", HostileBrokenHeader, patchJPEGSize(EncodeJPEG(Photo(32, 24, 1), JPEGOptions{}), 24, 0), OutcomeNotSupported)
	add("jpeg-scan-before-frame.jpg", HostileBrokenHeader, scanBeforeFrame(EncodeJPEG(Photo(32, 24, 1), JPEGOptions{})), OutcomeNotSupported)
	plainPNG := PNG(Photo(64, 48, 2), nil)
	add("png-no-ihdr.png", HostileBrokenHeader, append([]byte(pngSig), PNGChunk("IEND", nil)...), OutcomeNotSupported)
	add("png-zero-size.png", HostileBrokenHeader, pngWithIHDR(0, 48, 8, 2, 0), OutcomeNotSupported)

	// Valid JPEGs in the variants writers produce.
	photo := Photo(320, 240, 10)
	add("cmyk.jpg", HostileJPEGVariant, EncodeJPEG(photo, JPEGOptions{CMYK: true}), OutcomeSucceeded)
	add("cmyk-progressive.jpg", HostileJPEGVariant, EncodeJPEG(photo, JPEGOptions{CMYK: true, Progressive: true}), OutcomeSucceeded)
	add("progressive.jpg", HostileJPEGVariant, EncodeJPEG(photo, JPEGOptions{Progressive: true}), OutcomeSucceeded)
	add("progressive-successive-restart-422.jpg", HostileJPEGVariant, EncodeJPEG(photo,
		JPEGOptions{Progressive: true, SuccessiveApprox: true, RestartInterval: 5, Subsampling: "422"}), OutcomeSucceeded)
	add("gray.jpg", HostileJPEGVariant, EncodeJPEG(photo, JPEGOptions{Gray: true}), OutcomeSucceeded)
	add("restart-444.jpg", HostileJPEGVariant, EncodeJPEG(photo, JPEGOptions{Subsampling: "444", RestartInterval: 1}), OutcomeSucceeded)
	add("subsampling-440.jpg", HostileJPEGVariant, EncodeJPEG(photo, JPEGOptions{Subsampling: "440", Quality: 60}), OutcomeSucceeded)
	add("odd-size-1x1.jpg", HostileJPEGVariant, EncodeJPEG(Photo(1, 1, 1), JPEGOptions{}), OutcomeSucceeded)
	add("odd-size-3x1000.jpg", HostileJPEGVariant, EncodeJPEG(Photo(3, 1000, 1), JPEGOptions{}), OutcomeSucceeded)

	// PNG encodings image/png reads but writers rarely produce.
	add("png-16bit-rgb.png", HostilePNG16, PNG(deepen(Photo(160, 120, 11)), nil), OutcomeSucceeded)
	add("png-16bit-gray.png", HostilePNG16, PNG(grayDeep(Photo(160, 120, 12)), nil), OutcomeSucceeded)
	add("png-interlaced.png", HostilePNGInterlaced, interlacedPNG(Photo(123, 77, 13)), OutcomeSucceeded)
	add("png-interlaced-tiny.png", HostilePNGInterlaced, interlacedPNG(Photo(3, 2, 14)), OutcomeSucceeded)
	add("png-palette-alpha.png", HostilePNGPalette, PNG(palettedWithAlpha(160, 120), nil), OutcomeSucceeded)

	// PNGs damaged after a valid header.
	add("png-truncated.png", HostileDamagedPNG, bytes.Clone(plainPNG[:len(plainPNG)*3/5]), OutcomeCorrupt)
	add("png-bad-crc.png", HostileDamagedPNG, pngBadCRC(plainPNG), OutcomeCorrupt)

	// Decompression bombs: a few bytes that declare billions of pixels.
	add("bomb-jpeg-65500x65500.jpg", HostileBomb, patchJPEGSize(EncodeJPEG(Photo(16, 16, 1), JPEGOptions{}), 65500, 65500), OutcomeTooLarge)
	add("bomb-jpeg-progressive-65500x65500.jpg", HostileBomb,
		patchJPEGSize(EncodeJPEG(Photo(16, 16, 1), JPEGOptions{Progressive: true}), 65500, 65500), OutcomeTooLarge)
	add("bomb-png-100000x100000.png", HostileBomb, pngBomb(100000, 100000, 8, 6, tinyZeros()), OutcomeTooLarge)
	add("bomb-png-zeros-16384x16384.png", HostileBomb, zeroPNG(16384, 16384), OutcomeTooLarge)

	// Valid images whose EXIF is built to mislead a parser. The image must
	// still go through; the metadata is dropped with a warning.
	base := Photo(160, 120, 15)
	for _, e := range hostileEXIFPayloads() {
		add("exif-"+e.name+".jpg", HostileEXIF, JPEG(base, e.data), OutcomeSucceeded)
	}
	add("exif-ifd-loop.png", HostileEXIF, PNG(base, hostileEXIFPayloads()[0].data), OutcomeSucceeded)
	add("exif-long-strings.jpg", HostileEXIF, JPEG(base, EncodeEXIF(EXIF{
		Make: strings.Repeat("M", 30000), Model: strings.Repeat("m", 30000)}, binary.LittleEndian)), OutcomeSucceeded)
	add("exif-control-chars.jpg", HostileEXIF, JPEG(base, EncodeEXIF(EXIF{
		Make: "Evil\x1b[2J\x07Corp\u202e", Model: "Model\xff\xfe\r\nX-Injected: 1"}, binary.BigEndian)), OutcomeSucceeded)
	add("exif-markup.jpg", HostileMarkupEXIF, JPEG(base, EncodeEXIF(EXIF{
		Make: MarkupMake, Model: MarkupModel, Orientation: 1}, binary.LittleEndian)), OutcomeSucceeded)
	add("exif-markup.png", HostileMarkupEXIF, PNG(base, EncodeEXIF(EXIF{
		Make: MarkupMake, Model: MarkupModel}, binary.BigEndian)), OutcomeSucceeded)
	add("exif-template-sql.jpg", HostileMarkupEXIF, JPEG(base, EncodeEXIF(EXIF{
		Make: "{{constructor.constructor('alert(1)')()}}", Model: "'; DROP TABLE images; --"}, binary.LittleEndian)), OutcomeSucceeded)

	// Real images in formats the pipeline identifies but does not process.
	add("image.gif", HostileOtherFormat, GIF(40, 30), OutcomeNotSupported)
	add("image.tiff", HostileOtherFormat, TIFF(40, 30), OutcomeNotSupported)
	add("image.bmp", HostileOtherFormat, BMP(40, 30), OutcomeNotSupported)
	add("image.webp", HostileOtherFormat, WebP(), OutcomeNotSupported)
	add("image.heic", HostileOtherFormat, ftypBox("heic", "mif1", "heic"), OutcomeNotSupported)
	add("image.avif", HostileOtherFormat, ftypBox("avif", "mif1", "avif", "miaf"), OutcomeNotSupported)
	add("gif-named.jpg", HostileOtherFormat, GIF(40, 30), OutcomeNotSupported)

	// Supported images under the wrong extension: the content decides.
	add("jpeg-named.png", HostileMisnamedFormat, JPEG(base, nil), OutcomeSucceeded)
	add("png-named.jpg", HostileMisnamedFormat, PNG(base, nil), OutcomeSucceeded)
	return files
}

const pngSig = "\x89PNG\r\n\x1a\n"

// cameraStyleJPEG is a baseline JPEG with full camera EXIF before the
// tables, the layout whose cuts the truncation cases need.
func cameraStyleJPEG(w, h int, seed int64) []byte {
	gps := CameraGPS
	exif := EncodeEXIF(EXIF{Make: CameraMake, Model: CameraModel, Orientation: 1,
		DateTimeOriginal: CameraDateTimeOriginal, OffsetTimeOriginal: CameraOffsetTimeOriginal, GPS: &gps},
		binary.LittleEndian)
	return JPEG(Photo(w, h, seed), exif)
}

// jpegLayout is where the parts of a JPEG that matter to truncation start:
// each marker segment before the scan, and the entropy-coded data.
type jpegLayout struct {
	segments  []jpegSegment
	scanStart int // first byte of entropy-coded data
}

type jpegSegment struct {
	marker     byte
	start, end int // from the 0xFF of the marker to the end of the payload
}

// jpegLayoutOf walks the marker segments of a JPEG this package wrote, up to
// and including the first SOS. It panics on anything else.
func jpegLayoutOf(data []byte) jpegLayout {
	var l jpegLayout
	off := 2
	for off+4 <= len(data) {
		if data[off] != 0xFF {
			panic("mediatest: JPEG segment does not start with a marker")
		}
		m := data[off+1]
		end := off + 2 + int(binary.BigEndian.Uint16(data[off+2:]))
		l.segments = append(l.segments, jpegSegment{m, off, end})
		if m == 0xDA {
			l.scanStart = end
			return l
		}
		off = end
	}
	panic("mediatest: JPEG has no scan")
}

func (l jpegLayout) segment(m byte) jpegSegment {
	for _, s := range l.segments {
		if s.marker == m {
			return s
		}
	}
	panic(fmt.Sprintf("mediatest: JPEG has no %#02x segment", m))
}

type truncation struct {
	where  string
	at     int
	expect []string
}

// truncationPoints chooses cuts across a JPEG's header and scan data. A cut
// before the frame header leaves nothing an identifier can use; a cut inside
// it may or may not leave the size readable; a cut after it leaves an
// identifiable image whose pixels cannot be decoded.
func truncationPoints(l jpegLayout, total int) []truncation {
	app1, dqt, sof, dht := l.segment(0xE1), l.segment(0xDB), l.segment(0xC0), l.segment(0xC4)
	sos := l.segment(0xDA)
	header := []string{OutcomeNotSupported}
	either := []string{OutcomeNotSupported, OutcomeCorrupt}
	pixels := []string{OutcomeCorrupt}
	cuts := []truncation{
		{"soi", 2, header},
		{"app1-marker", 4, header},
		{"exif-header", app1.start + 10, header},
		{"exif", (app1.start + app1.end) / 2, header},
		{"exif-end", app1.end - 1, header},
		{"dqt", (dqt.start + dqt.end) / 2, header},
		{"sof", sof.start + 5, either},
		{"after-sof", sof.end, pixels},
		{"dht", (dht.start + dht.end) / 2, pixels},
		{"sos", sos.start + 6, pixels},
		{"scan-start", l.scanStart, pixels},
	}
	return addScanCuts(cuts, l.scanStart, total)
}

// addScanCuts appends cuts at fractions of the scan data, and one that
// loses only the final EOI marker, which some decoders forgive.
func addScanCuts(cuts []truncation, scanStart, total int) []truncation {
	for _, pct := range []int{5, 25, 50, 75, 95} {
		at := scanStart + (total-2-scanStart)*pct/100
		cuts = append(cuts, truncation{fmt.Sprintf("scan-%dpct", pct), at, []string{OutcomeCorrupt}})
	}
	return append(cuts, truncation{"eoi", total - 2, []string{OutcomeCorrupt, OutcomeSucceeded}})
}

// flipScan returns a copy of data with one byte of entropy-coded data
// (between start and end) XORed with x at each fraction. Bytes next to 0xFF
// are skipped, and no flip makes a 0xFF, so the marker structure stays
// intact and the damage is to the coded bits alone.
func flipScan(data []byte, start, end int, x byte, fractions ...float64) []byte {
	out := bytes.Clone(data)
	for _, f := range fractions {
		p := start + 1 + int(f*float64(end-start-2))
		for p < end-1 && (out[p] == 0xFF || out[p-1] == 0xFF || out[p]^x == 0xFF) {
			p++
		}
		out[p] ^= x
	}
	return out
}

// insertInScan returns a copy of data with extra bytes inserted into the
// entropy-coded data at a fraction of it, not inside a stuffed 0xFF00.
func insertInScan(data []byte, start, end int, f float64, extra ...byte) []byte {
	p := start + int(f*float64(end-start))
	for p < end && data[p-1] == 0xFF {
		p++
	}
	out := slices.Clone(data[:p])
	out = append(out, extra...)
	return append(out, data[p:]...)
}

// patchJPEGSize rewrites the frame header's height and width.
func patchJPEGSize(data []byte, w, h int) []byte {
	out := bytes.Clone(data)
	for _, s := range jpegLayoutOf(out).segments {
		if s.marker == 0xC0 || s.marker == 0xC2 {
			binary.BigEndian.PutUint16(out[s.start+5:], uint16(h))
			binary.BigEndian.PutUint16(out[s.start+7:], uint16(w))
			return out
		}
	}
	panic("mediatest: JPEG has no frame header")
}

// scanBeforeFrame moves the frame header after the scan header, so the
// scan arrives before anything says what it is a scan of.
func scanBeforeFrame(data []byte) []byte {
	l := jpegLayoutOf(data)
	var sof, rest []byte
	out := bytes.Clone(data[:2])
	for _, s := range l.segments {
		seg := data[s.start:s.end]
		switch s.marker {
		case 0xC0:
			sof = seg
		case 0xDA:
			rest = seg
		default:
			out = append(out, seg...)
		}
	}
	out = append(out, rest...)
	out = append(out, sof...)
	return append(out, data[l.scanStart:]...)
}

func pngWithIHDR(w, h uint32, depth, colorType, interlace byte) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, depth, colorType, 0, 0, interlace)
	out := append([]byte(pngSig), PNGChunk("IHDR", ihdr)...)
	out = append(out, PNGChunk("IDAT", tinyZeros())...)
	return append(out, PNGChunk("IEND", nil)...)
}

// pngBomb is an IHDR for w×h followed by the given IDAT data.
func pngBomb(w, h uint32, depth, colorType byte, idat []byte) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, depth, colorType, 0, 0, 0)
	out := append([]byte(pngSig), PNGChunk("IHDR", ihdr)...)
	out = append(out, PNGChunk("IDAT", idat)...)
	return append(out, PNGChunk("IEND", nil)...)
}

// tinyZeros is a zlib stream of a few zero bytes: the start of any image's
// pixel data, for headers whose body does not matter.
func tinyZeros() []byte {
	return zlibBytes(make([]byte, 64))
}

func zlibBytes(raw []byte) []byte {
	var buf bytes.Buffer
	z, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	z.Write(raw)
	z.Close()
	return buf.Bytes()
}

// zeroPNG is a complete, valid w×h 1-bit grayscale PNG of black pixels:
// deflate shrinks the all-zero rows about a thousandfold, so the file is
// tiny while a decoder that trusts it allocates w×h bytes or more.
func zeroPNG(w, h int) []byte {
	var buf bytes.Buffer
	z, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	row := make([]byte, 1+(w+7)/8) // filter byte and packed pixels, all zero
	for range h {
		z.Write(row)
	}
	z.Close()
	return pngBomb(uint32(w), uint32(h), 1, 0, buf.Bytes())
}

// pngBadCRC corrupts the CRC of the first IDAT chunk.
func pngBadCRC(data []byte) []byte {
	out := bytes.Clone(data)
	off := 8
	for off+8 <= len(out) {
		n := int(binary.BigEndian.Uint32(out[off:]))
		if string(out[off+4:off+8]) == "IDAT" {
			out[off+8+n] ^= 0xFF
			return out
		}
		off += 12 + n
	}
	panic("mediatest: PNG has no IDAT")
}

// ftypBox is an ISO-BMFF file type box, the start of HEIF and AVIF files.
func ftypBox(major string, compatible ...string) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(16+4*len(compatible)))
	out = append(out, "ftyp"+major...)
	out = append(out, 0, 0, 0, 0) // minor version
	for _, c := range compatible {
		out = append(out, c...)
	}
	// A minimal meta box follows, as in real files; its content is not parsed.
	meta := append(binary.BigEndian.AppendUint32(nil, 12), "meta"...)
	return append(append(out, meta...), 0, 0, 0, 0)
}

// deepen widens an 8-bit picture to 16 bits, filling the low byte with a
// pattern so that the extra precision is really used.
func deepen(src *image.RGBA) *image.RGBA64 {
	b := src.Bounds()
	out := image.NewRGBA64(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := src.RGBAAt(x, y)
			lo := uint16((x*7 + y*13) & 0xFF)
			out.SetRGBA64(x, y, color.RGBA64{uint16(c.R)<<8 | lo, uint16(c.G)<<8 | lo, uint16(c.B)<<8 | lo, 0xFFFF})
		}
	}
	return out
}

func grayDeep(src *image.RGBA) *image.Gray16 {
	b := src.Bounds()
	out := image.NewGray16(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			out.Set(x, y, src.At(x, y))
		}
	}
	return out
}

// palettedWithAlpha is a paletted picture with opaque, translucent and fully
// transparent entries, which PNG stores as PLTE plus tRNS.
func palettedWithAlpha(w, h int) *image.Paletted {
	pal := color.Palette{
		color.NRGBA{0, 0, 0, 0},
		color.NRGBA{70, 130, 235, 255},
		color.NRGBA{90, 150, 240, 200},
		color.NRGBA{60, 120, 40, 255},
		color.NRGBA{80, 110, 50, 128},
		color.NRGBA{255, 245, 200, 255},
		color.NRGBA{30, 60, 30, 64},
		color.NRGBA{200, 200, 210, 255},
	}
	img := image.NewPaletted(image.Rect(0, 0, w, h), pal)
	for y := range h {
		for x := range w {
			i := 1 + (y*3/max(1, h))*2 + (x/8+y/8)%2
			if (x-w/2)*(x-w/2)+(y-h/2)*(y-h/2) < h*h/25 {
				i = 0 // a transparent hole
			} else if y > h*9/10 {
				i = 6 + x%2
			}
			img.SetColorIndex(x, y, uint8(min(i, len(pal)-1)))
		}
	}
	return img
}

// interlacedPNG encodes img as an 8-bit RGB PNG with Adam7 interlacing,
// which image/png reads but does not write. Rows alternate between the None
// and Sub filters so that both are exercised.
func interlacedPNG(img *image.RGBA) []byte {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	passes := [7][4]int{ // x0, y0, dx, dy
		{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2},
	}
	var raw []byte
	for _, p := range passes {
		pw := (w - p[0] + p[2] - 1) / p[2]
		ph := (h - p[1] + p[3] - 1) / p[3]
		if pw <= 0 || ph <= 0 {
			continue // an empty pass has no rows, not even filter bytes
		}
		for r := range ph {
			y := p[1] + r*p[3]
			line := make([]byte, 0, 3*pw)
			for c := range pw {
				px := img.RGBAAt(b.Min.X+p[0]+c*p[2], b.Min.Y+y)
				line = append(line, px.R, px.G, px.B)
			}
			filter := byte(r % 2)
			raw = append(raw, filter)
			if filter == 0 {
				raw = append(raw, line...)
				continue
			}
			for i := range line {
				left := byte(0)
				if i >= 3 {
					left = line[i-3]
				}
				raw = append(raw, line[i]-left)
			}
		}
	}
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	ihdr = append(ihdr, 8, 2, 0, 0, 1)
	out := append([]byte(pngSig), PNGChunk("IHDR", ihdr)...)
	out = append(out, PNGChunk("IDAT", zlibBytes(raw))...)
	return append(out, PNGChunk("IEND", nil)...)
}

type namedEXIF struct {
	name string
	data []byte
}

// tiffBuilder assembles EXIF payloads entry by entry, including entries no
// writer would produce.
type tiffBuilder struct {
	b     []byte
	order binary.ByteOrder
}

func newTIFFBuilder(size int, order binary.ByteOrder, ifd0 uint32) *tiffBuilder {
	t := &tiffBuilder{b: make([]byte, size), order: order}
	if order == binary.LittleEndian {
		copy(t.b, "II*\x00")
	} else {
		copy(t.b, "MM\x00*")
	}
	order.PutUint32(t.b[4:], ifd0)
	return t
}

// ifd writes an IFD header at off claiming count entries, then the given
// entries (tag, type, count, value/offset), then next as the next-IFD
// pointer when it fits.
func (t *tiffBuilder) ifd(off int, count uint16, next uint32, entries ...[4]uint32) *tiffBuilder {
	t.order.PutUint16(t.b[off:], count)
	p := off + 2
	for _, e := range entries {
		t.order.PutUint16(t.b[p:], uint16(e[0]))
		t.order.PutUint16(t.b[p+2:], uint16(e[1]))
		t.order.PutUint32(t.b[p+4:], e[2])
		if e[1] == typeShort && e[2] == 1 {
			t.order.PutUint16(t.b[p+8:], uint16(e[3]))
		} else {
			t.order.PutUint32(t.b[p+8:], e[3])
		}
		p += 12
	}
	if p+4 <= len(t.b) {
		t.order.PutUint32(t.b[p:], next)
	}
	return t
}

// hostileEXIFPayloads are EXIF payloads with loops, absurd counts and
// offsets. The first is an IFD loop, reused for the PNG case.
func hostileEXIFPayloads() []namedEXIF {
	le, be := binary.LittleEndian, binary.BigEndian
	return []namedEXIF{
		{"ifd-loop", newTIFFBuilder(64, le, 8).
			ifd(8, 2, 8, [4]uint32{0x8769, typeLong, 1, 8}, [4]uint32{0x8825, typeLong, 1, 8}).b},
		{"subifd-cycle", newTIFFBuilder(128, be, 8).
			ifd(8, 2, 0, [4]uint32{0x8769, typeLong, 1, 40}, [4]uint32{0x8825, typeLong, 1, 40}).
			ifd(40, 1, 8, [4]uint32{0x8825, typeLong, 1, 8}).b},
		{"next-ifd-loop", newTIFFBuilder(96, le, 8).
			ifd(8, 1, 26, [4]uint32{0x0112, typeShort, 1, 1}).
			ifd(26, 1, 8, [4]uint32{0x0112, typeShort, 1, 1}).b},
		{"entry-count-65535", newTIFFBuilder(64, le, 8).ifd(8, 65535, 0).b},
		{"entry-count-past-end", newTIFFBuilder(40, be, 8).ifd(8, 500, 0, [4]uint32{0x0112, typeShort, 1, 3}).b},
		{"ifd0-offset-past-end", newTIFFBuilder(16, le, 0xFFFFFFF0).b},
		{"ifd0-offset-in-header", newTIFFBuilder(16, le, 2).b},
		{"subifd-offset-past-end", newTIFFBuilder(64, le, 8).ifd(8, 1, 0, [4]uint32{0x8769, typeLong, 1, 0x7FFFFFFF}).b},
		{"string-offset-past-end", newTIFFBuilder(64, be, 8).ifd(8, 1, 0, [4]uint32{0x010F, typeASCII, 20, 0xFFFFFFF0}).b},
		{"huge-string-counts", newTIFFBuilder(64, le, 8).
			ifd(8, 2, 0, [4]uint32{0x010F, typeASCII, 0xFFFFFFFF, 26}, [4]uint32{0x0110, typeASCII, 0x7FFFFFFF, 26}).b},
		{"huge-rational-counts", newTIFFBuilder(96, le, 8).
			ifd(8, 1, 0, [4]uint32{0x8825, typeLong, 1, 26}).
			ifd(26, 4, 0, [4]uint32{1, typeASCII, 2, 'N'}, [4]uint32{2, typeRational, 0x20000000, 80},
				[4]uint32{3, typeASCII, 2, 'E'}, [4]uint32{4, typeRational, 0xFFFFFFFF, 80}).b},
		{"orientation-99", newTIFFBuilder(64, be, 8).ifd(8, 1, 0, [4]uint32{0x0112, typeShort, 1, 99}).b},
		{"truncated-tiff", []byte("II*\x00\x08")},
	}
}
