package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
)

const pngSignature = "\x89PNG\r\n\x1a\n"

// Caps on header walks. Real files stay far below them; they exist so that a
// file made of millions of empty segments costs a bounded amount of work.
const (
	maxJPEGSegments = 4096
	maxJPEGJunk     = 1 << 16
	maxPNGChunks    = 1 << 14
	// maxPNGHops bounds the chunk headers fetched once pixel data starts.
	// Each costs a read (a request, for remote storage), and browsers ignore
	// an eXIf after IDAT anyway, so a very long IDAT run ends the search.
	maxPNGHops   = 1 << 10
	maxDimension = 1<<31 - 1
)

// shortAs turns errShort into a format verdict and passes I/O errors through.
func shortAs(err error, verdict error) error {
	if errors.Is(err, errShort) {
		return verdict
	}
	return err
}

// isSOF reports whether m starts a frame. C4 (DHT), C8 (JPG) and CC (DAC)
// share the range but are tables, not frames.
func isSOF(m byte) bool {
	return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC
}

// identifyJPEG walks the marker segments from SOI to the first frame header,
// reading the first Exif APP1 on the way. It never looks at entropy-coded
// data: a JPEG that reaches SOS or EOI without a frame header is malformed.
func identifyJPEG(s *source, info *Info) error {
	cut := malformed("JPEG ends before its frame header")
	off := int64(2)
	junk, segments := 0, 0
	exifSeen := false
	for {
		b, err := s.at(off, 2)
		if err != nil {
			return shortAs(err, cut)
		}
		if b[0] != 0xFF {
			// Some writers leave garbage between segments; decoders skip to the
			// next 0xFF, so do we, within a budget.
			junk++
			if junk > maxJPEGJunk {
				return malformed("JPEG has too much data between markers")
			}
			off++
			continue
		}
		m := b[1]
		switch {
		case m == 0xFF:
			// Fill byte before a marker.
			junk++
			if junk > maxJPEGJunk {
				return malformed("JPEG has too many fill bytes")
			}
			off++
			continue
		case m == 0x00:
			// A stuffed zero outside entropy data is garbage; skip it.
			junk++
			if junk > maxJPEGJunk {
				return malformed("JPEG has too much data between markers")
			}
			off += 2
			continue
		case m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7):
			// TEM, a stray SOI and RSTn stand alone without a length.
			off += 2
		case m == 0xD9 || m == 0xDA:
			return malformed("JPEG has no frame header before its scan data")
		default:
			lb, err := s.at(off+2, 2)
			if err != nil {
				return shortAs(err, cut)
			}
			length := int(binary.BigEndian.Uint16(lb))
			if length < 2 {
				return malformed("JPEG segment %#02x has length %d", m, length)
			}
			if isSOF(m) {
				if length < 8 {
					return malformed("JPEG frame header has length %d", length)
				}
				fb, err := s.at(off+4, 5)
				if err != nil {
					return shortAs(err, cut)
				}
				info.Height = int(binary.BigEndian.Uint16(fb[1:3]))
				info.Width = int(binary.BigEndian.Uint16(fb[3:5]))
				if info.Width == 0 || info.Height == 0 {
					// Height 0 defers to a DNL marker, which nothing we
					// hand the file to supports.
					return malformed("JPEG frame is %dx%d", info.Width, info.Height)
				}
				return nil
			}
			if m == 0xE1 && !exifSeen && length >= 2+6 {
				data, err := s.fresh(off+4, length-2)
				if err != nil {
					return shortAs(err, cut)
				}
				if string(data[:5]) == "Exif\x00" {
					// The sixth byte should be NUL, but some writers put
					// 0xFF there; the TIFF header that follows is what counts.
					exifSeen = true
					parseEXIF(data[6:]).apply(info)
				}
			}
			off += 2 + int64(length)
		}
		segments++
		if segments > maxJPEGSegments {
			return malformed("JPEG has too many segments before its frame header")
		}
	}
}

// identifyPNG reads IHDR and then hops from chunk header to chunk header,
// reading only an eXIf chunk's data. eXIf may legally follow IDAT; rather
// than hop over every pixel-data chunk (a read, or a remote request, each),
// the search then reads the file's tail once and looks there (see
// pngTailEXIF). A file that ends early still identifies, because its header
// is intact and the decode step will report the damage.
func identifyPNG(s *source, info *Info) error {
	b, err := s.at(8, 8+13)
	if err != nil {
		return shortAs(err, malformed("PNG ends before its IHDR chunk"))
	}
	if string(b[4:8]) != "IHDR" || binary.BigEndian.Uint32(b[0:4]) != 13 {
		return malformed("PNG does not start with a valid IHDR chunk")
	}
	w, h := binary.BigEndian.Uint32(b[8:12]), binary.BigEndian.Uint32(b[12:16])
	if w == 0 || h == 0 || w > maxDimension || h > maxDimension {
		return malformed("PNG size %dx%d", w, h)
	}
	info.Width, info.Height = int(w), int(h)

	off := int64(8 + 8 + 13 + 4)
	exifSeen := false
	hops := -1 // counts chunk headers read after the first IDAT
	for range maxPNGChunks {
		if hops >= 0 {
			if hops++; hops > maxPNGHops {
				return nil
			}
		}
		b, err := s.at(off, 8)
		if err != nil {
			if errors.Is(err, errShort) {
				return nil
			}
			return err
		}
		length := binary.BigEndian.Uint32(b[0:4])
		if length > maxDimension {
			// Not a chunk boundary any more; nothing after it can be trusted.
			return nil
		}
		switch string(b[4:8]) {
		case "IEND":
			return nil
		case "IDAT":
			if exifSeen {
				return nil // nothing else after the pixels is read
			}
			if s.size-off > pngTailWindow {
				return pngTailEXIF(s, info)
			}
			// A short rest: fetch only the 8-byte headers instead of windows
			// that would mostly be skipped.
			s.readahead = 0
			hops = max(hops, 0)
		case "eXIf":
			if exifSeen {
				break
			}
			exifSeen = true
			if length > maxExifBytes {
				info.Warnings = addWarning(info.Warnings, "exif: eXIf chunk is too large")
				break
			}
			data, err := s.fresh(off+8, int(length))
			if err != nil {
				if !errors.Is(err, errShort) {
					return err
				}
				info.Warnings = addWarning(info.Warnings, "exif: eXIf chunk is truncated")
				break
			}
			applyPNGEXIF(data, info)
		}
		off += 12 + int64(length)
	}
	return nil
}

// pngTailWindow is how much of a PNG's end is searched for an eXIf chunk
// that follows the pixel data: writers that add metadata afterwards append
// it just before IEND.
const pngTailWindow = 64 << 10

// pngTailEXIF reads the last pngTailWindow bytes of the file in one piece and
// parses the first eXIf chunk found there. Pixel data can contain the bytes
// "eXIf" by chance, so a candidate counts only when its length fits and its
// CRC matches.
func pngTailEXIF(s *source, info *Info) error {
	start := s.size - pngTailWindow
	tail, err := s.fresh(start, pngTailWindow)
	if err != nil {
		if errors.Is(err, errShort) {
			return nil
		}
		return err
	}
	for i := 4; i+8 <= len(tail); {
		j := bytes.Index(tail[i:], []byte("eXIf"))
		if j < 0 {
			return nil
		}
		p := i + j
		i = p + 1
		length := int64(binary.BigEndian.Uint32(tail[p-4 : p]))
		end := int64(p) + 4 + length + 4
		if end > int64(len(tail)) {
			continue
		}
		body := tail[p : int64(p)+4+length]
		if crc32.ChecksumIEEE(body) != binary.BigEndian.Uint32(tail[end-4:end]) {
			continue
		}
		applyPNGEXIF(body[4:], info)
		return nil
	}
	return nil
}

// applyPNGEXIF parses an eXIf chunk's data into info. The PNG extension says
// the chunk starts with the TIFF header, but some writers copy the JPEG APP1
// prefix along with it.
func applyPNGEXIF(data []byte, info *Info) {
	if len(data) >= 6 && string(data[:6]) == "Exif\x00\x00" {
		data = data[6:]
	}
	parseEXIF(data).apply(info)
}

// identifyTIFF reads the image size from the first IFD. TIFF is identified
// only to be rejected as unsupported, so a damaged IFD leaves the size at
// zero instead of failing.
func identifyTIFF(s *source, info *Info, little bool) error {
	var order binary.ByteOrder = binary.BigEndian
	if little {
		order = binary.LittleEndian
	}
	b, err := s.at(4, 4)
	if err != nil {
		return shortAs(err, nil)
	}
	ifd := int64(order.Uint32(b))
	b, err = s.at(ifd, 2)
	if err != nil {
		return shortAs(err, nil)
	}
	n := min(int(order.Uint16(b)), maxIFDEntries)
	b, err = s.at(ifd+2, 12*n)
	if err != nil {
		return shortAs(err, nil)
	}
	var w, h int
	for i := range n {
		e := b[12*i : 12*i+12]
		tag, typ, count := order.Uint16(e[0:2]), order.Uint16(e[2:4]), order.Uint32(e[4:8])
		if tag != 0x0100 && tag != 0x0101 || count != 1 {
			continue
		}
		var v int
		switch typ {
		case typeShort:
			v = int(order.Uint16(e[8:10]))
		case typeLong:
			v = int(order.Uint32(e[8:12]) & maxDimension)
		default:
			continue
		}
		if tag == 0x0100 {
			w = v
		} else {
			h = v
		}
	}
	if w > 0 && h > 0 {
		info.Width, info.Height = w, h
	}
	return nil
}

// identifyWebP reads the canvas size from the first chunk: VP8 (lossy), VP8L
// (lossless) or VP8X (extended). Anything unreadable leaves the size at zero.
func identifyWebP(s *source, info *Info) {
	b, err := s.at(12, 8+10)
	if err != nil {
		b, err = s.at(12, 8+5) // a tiny VP8L needs only five bytes
		if err != nil {
			return
		}
	}
	d := b[8:]
	var w, h int
	switch string(b[0:4]) {
	case "VP8 ":
		if len(d) >= 10 && d[3] == 0x9D && d[4] == 0x01 && d[5] == 0x2A {
			w = int(binary.LittleEndian.Uint16(d[6:8]) & 0x3FFF)
			h = int(binary.LittleEndian.Uint16(d[8:10]) & 0x3FFF)
		}
	case "VP8L":
		if d[0] == 0x2F {
			bits := binary.LittleEndian.Uint32(d[1:5])
			w = int(bits&0x3FFF) + 1
			h = int(bits>>14&0x3FFF) + 1
		}
	case "VP8X":
		if len(d) >= 10 {
			w = int(uint32(d[4])|uint32(d[5])<<8|uint32(d[6])<<16) + 1
			h = int(uint32(d[7])|uint32(d[8])<<8|uint32(d[9])<<16) + 1
		}
	}
	info.Width, info.Height = w, h
}

// bmpHeaderSize reports whether b (the DIB header size field) is one of the
// known header sizes. "BM" alone is too weak a signature: plenty of text
// starts with it.
func bmpHeaderSize(b []byte) bool {
	switch binary.LittleEndian.Uint32(b) {
	case 12, 16, 40, 52, 56, 64, 108, 124:
		return true
	}
	return false
}

// identifyBMP reads the size from the DIB header in the first bytes h.
func identifyBMP(h []byte, info *Info) {
	if binary.LittleEndian.Uint32(h[14:18]) == 12 {
		if len(h) >= 22 {
			info.Width = int(binary.LittleEndian.Uint16(h[18:20]))
			info.Height = int(binary.LittleEndian.Uint16(h[20:22]))
		}
		return
	}
	if len(h) < 26 {
		return
	}
	w := int64(int32(binary.LittleEndian.Uint32(h[18:22])))
	ht := int64(int32(binary.LittleEndian.Uint32(h[22:26])))
	if ht < 0 {
		ht = -ht // negative height means rows are stored top-down
	}
	if w > 0 && ht > 0 {
		info.Width, info.Height = int(w), int(ht)
	}
}

// identifyFtyp classifies an ISO base media file by the brands in its ftyp
// box. The same container carries MP4 video and camera raw files, so only the
// image brands count; everything else is unknown.
func identifyFtyp(s *source) (string, error) {
	b, err := s.at(0, 4)
	if err != nil {
		return "", shortAs(err, ErrUnknownFormat)
	}
	boxSize := int64(binary.BigEndian.Uint32(b))
	if boxSize < 12 {
		return "", ErrUnknownFormat
	}
	n := min(boxSize, 4096, s.size)
	b, err = s.at(0, int(n))
	if err != nil {
		return "", shortAs(err, ErrUnknownFormat)
	}
	brands := [][]byte{b[8:12]}
	for i := 16; i+4 <= len(b); i += 4 {
		brands = append(brands, b[i:i+4])
	}
	kind := func(brand []byte) string {
		switch string(brand) {
		case "avif", "avis":
			return FormatAVIF
		case "heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs":
			return FormatHEIC
		case "mif1", "msf1", "miaf":
			return "HEIF"
		}
		return ""
	}
	if k := kind(brands[0]); k == FormatAVIF || k == FormatHEIC {
		return k, nil
	}
	generic := false
	for _, br := range brands {
		switch kind(br) {
		case FormatAVIF:
			return FormatAVIF, nil
		case FormatHEIC:
			return FormatHEIC, nil
		case "HEIF":
			generic = true
		}
	}
	if generic {
		// A HEIF image that names no codec brand: HEIC is by far the most
		// common, and either way the pipeline rejects it as unsupported.
		return FormatHEIC, nil
	}
	return "", ErrUnknownFormat
}
