package media

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// TIFF field types used by the tags we read.
const (
	typeByte      = 1
	typeASCII     = 2
	typeShort     = 3
	typeLong      = 4
	typeRational  = 5
	typeSByte     = 6
	typeUndefined = 7
	typeSShort    = 8
	typeSLong     = 9
	typeSRational = 10
	typeFloat     = 11
	typeDouble    = 12
	typeIFD       = 13
)

// Tags we read; everything else is skipped.
const (
	tagMake                = 0x010F
	tagModel               = 0x0110
	tagOrientation         = 0x0112
	tagExifIFD             = 0x8769
	tagGPSIFD              = 0x8825
	tagDateTimeOriginal    = 0x9003
	tagDateTimeDigitized   = 0x9004
	tagOffsetTimeOriginal  = 0x9011
	tagOffsetTimeDigitized = 0x9012
	tagGPSLatitudeRef      = 1
	tagGPSLatitude         = 2
	tagGPSLongitudeRef     = 3
	tagGPSLongitude        = 4
)

// Bounds on the metadata parser. Cameras write a few dozen entries per IFD
// and short strings; the caps only matter for forged input.
const (
	maxIFDEntries = 512
	maxStringLen  = 256
	maxIFDs       = 4
	maxWarnings   = 8
)

// exifResult is what parseEXIF found. Zero values mean "absent".
type exifResult struct {
	orientation int
	make, model string
	created     string
	gps         *GeoPoint
	warnings    []string
}

// apply copies the result into info, keeping info's defaults for absent fields.
func (r exifResult) apply(info *Info) {
	if r.orientation >= 1 && r.orientation <= 8 {
		info.Orientation = r.orientation
	}
	info.Make, info.Model = r.make, r.model
	info.CreationTime = r.created
	info.GPS = r.gps
	for _, w := range r.warnings {
		info.Warnings = addWarning(info.Warnings, w)
	}
}

// addWarning appends w unless it is already there or the list is full, so a
// file repeating the same fault thousands of times yields one line.
func addWarning(ws []string, w string) []string {
	if len(ws) >= maxWarnings {
		return ws
	}
	for _, x := range ws {
		if x == w {
			return ws
		}
	}
	return append(ws, w)
}

// tiffParser reads IFDs from an in-memory TIFF-structured payload. All
// offsets are checked against the payload, so the payload size (capped by the
// caller) bounds every read.
type tiffParser struct {
	b        []byte
	order    binary.ByteOrder
	ifds     [][2]int // byte ranges of the IFDs already read, to refuse loops
	warnings []string
}

type ifdEntry struct {
	tag, typ uint16
	count    uint32
	field    []byte // the 4-byte value-or-offset field
}

func (p *tiffParser) warn(format string, args ...any) {
	p.warnings = addWarning(p.warnings, "exif: "+fmt.Sprintf(format, args...))
}

// ifd validates the IFD at off and returns where its entries start and how
// many can be read.
func (p *tiffParser) ifd(off uint32, name string) (start, n int, ok bool) {
	o := int64(off)
	if o < 8 || o+2 > int64(len(p.b)) {
		p.warn("%s offset %d is outside the EXIF data", name, off)
		return 0, 0, false
	}
	for _, r := range p.ifds {
		if int(o) >= r[0] && int(o) < r[1] {
			p.warn("%s points into an IFD already read", name)
			return 0, 0, false
		}
	}
	if len(p.ifds) >= maxIFDs {
		p.warn("too many IFDs")
		return 0, 0, false
	}
	start = int(o) + 2
	n = int(p.order.Uint16(p.b[o:]))
	if n > maxIFDEntries {
		p.warn("%s claims %d entries", name, n)
		return 0, 0, false
	}
	if avail := (len(p.b) - start) / 12; n > avail {
		p.warn("%s is truncated", name)
		n = avail
	}
	p.ifds = append(p.ifds, [2]int{int(o), min(start+12*n+4, len(p.b))})
	return start, n, true
}

func (p *tiffParser) entry(start, i int) ifdEntry {
	e := p.b[start+12*i : start+12*i+12]
	return ifdEntry{
		tag:   p.order.Uint16(e[0:2]),
		typ:   p.order.Uint16(e[2:4]),
		count: p.order.Uint32(e[4:8]),
		field: e[8:12],
	}
}

func typeSize(t uint16) uint64 {
	switch t {
	case typeByte, typeASCII, typeSByte, typeUndefined:
		return 1
	case typeShort, typeSShort:
		return 2
	case typeLong, typeSLong, typeFloat, typeIFD:
		return 4
	case typeRational, typeSRational, typeDouble:
		return 8
	}
	return 0
}

// value returns the entry's data, inline or at its offset; counts are
// multiplied in 64 bits so a forged count cannot wrap around.
func (p *tiffParser) value(e ifdEntry, name string) ([]byte, bool) {
	total := uint64(e.count) * typeSize(e.typ)
	if total <= 4 {
		return e.field[:total], true
	}
	off := uint64(p.order.Uint32(e.field))
	if off+total > uint64(len(p.b)) {
		p.warn("%s lies outside the EXIF data", name)
		return nil, false
	}
	return p.b[off : off+total], true
}

// str reads an ASCII entry, cut at the first NUL, limited to maxStringLen
// bytes and stripped of control characters and invalid UTF-8, because these
// strings end up in JSON records and logs.
func (p *tiffParser) str(e ifdEntry, name string) string {
	if e.typ != typeASCII {
		p.warn("%s has type %d, want ASCII", name, e.typ)
		return ""
	}
	v, ok := p.value(e, name)
	if !ok {
		return ""
	}
	v = v[:min(len(v), maxStringLen)]
	for i, c := range v {
		if c == 0 {
			v = v[:i]
			break
		}
	}
	var sb strings.Builder
	for len(v) > 0 {
		r, size := utf8.DecodeRune(v)
		v = v[size:]
		if r == utf8.RuneError && size <= 1 {
			continue
		}
		if unicode.IsPrint(r) || r == ' ' {
			sb.WriteRune(r)
		}
	}
	return strings.TrimSpace(sb.String())
}

// long reads a single SHORT or LONG, the types writers use for pointers and
// small enumerations.
func (p *tiffParser) long(e ifdEntry, name string, allowed ...uint16) (uint32, bool) {
	if e.count != 1 {
		p.warn("%s has count %d, want 1", name, e.count)
		return 0, false
	}
	for _, t := range allowed {
		if e.typ != t {
			continue
		}
		if t == typeShort {
			return uint32(p.order.Uint16(e.field)), true
		}
		return p.order.Uint32(e.field), true
	}
	p.warn("%s has type %d", name, e.typ)
	return 0, false
}

// parseEXIF reads the fields we keep from a TIFF-structured EXIF payload. It
// never fails: whatever cannot be read is left empty and explained in the
// warnings, and fields read before the fault are kept (a broken GPS block
// should not cost a photo its orientation).
func parseEXIF(b []byte) (res exifResult) {
	p := &tiffParser{b: b}
	defer func() { res.warnings = p.warnings }()
	if len(b) < 8 {
		p.warn("data too short for a TIFF header")
		return res
	}
	switch string(b[:4]) {
	case "II*\x00":
		p.order = binary.LittleEndian
	case "MM\x00*":
		p.order = binary.BigEndian
	default:
		p.warn("bad TIFF header")
		return res
	}

	start, n, ok := p.ifd(p.order.Uint32(b[4:8]), "IFD0")
	if !ok {
		return res
	}
	var exifPtr, gpsPtr uint32
	var hasExif, hasGPS bool
	for i := range n {
		e := p.entry(start, i)
		switch e.tag {
		case tagMake:
			res.make = p.str(e, "Make")
		case tagModel:
			res.model = p.str(e, "Model")
		case tagOrientation:
			if v, ok := p.long(e, "Orientation", typeShort); ok {
				switch {
				case v >= 1 && v <= 8:
					res.orientation = int(v)
				case v != 0: // 0 is a common "unknown", not a fault
					p.warn("invalid Orientation %d", v)
				}
			}
		case tagExifIFD:
			exifPtr, hasExif = p.long(e, "ExifIFD pointer", typeLong, typeIFD)
		case tagGPSIFD:
			gpsPtr, hasGPS = p.long(e, "GPS pointer", typeLong, typeIFD)
		}
	}
	if hasExif {
		res.created = p.exifIFD(exifPtr)
	}
	if hasGPS {
		res.gps = p.gpsIFD(gpsPtr)
	}
	return res
}

// exifIFD returns the creation time: DateTimeOriginal with its offset, or
// failing that DateTimeDigitized with its own offset. Each offset belongs to
// its timestamp; pairing them crosswise would shift the time.
func (p *tiffParser) exifIFD(off uint32) string {
	start, n, ok := p.ifd(off, "Exif IFD")
	if !ok {
		return ""
	}
	var orig, origOff, dig, digOff string
	for i := range n {
		e := p.entry(start, i)
		switch e.tag {
		case tagDateTimeOriginal:
			orig = p.dateTime(e, "DateTimeOriginal")
		case tagDateTimeDigitized:
			dig = p.dateTime(e, "DateTimeDigitized")
		case tagOffsetTimeOriginal:
			origOff = p.offset(e, "OffsetTimeOriginal")
		case tagOffsetTimeDigitized:
			digOff = p.offset(e, "OffsetTimeDigitized")
		}
	}
	switch {
	case orig != "":
		return orig + origOff
	case dig != "":
		return dig + digOff
	}
	return ""
}

// dateTime converts an EXIF "2006:01:02 15:04:05" into "2006-01-02T15:04:05".
func (p *tiffParser) dateTime(e ifdEntry, name string) string {
	s := p.str(e, name)
	if strings.Trim(s, "0: ") == "" {
		// Cameras without a clock write zeros or blanks: absent, not broken.
		return ""
	}
	t, err := time.Parse("2006:01:02 15:04:05", s)
	if err != nil {
		p.warn("invalid %s %q", name, s)
		return ""
	}
	return t.Format("2006-01-02T15:04:05")
}

// offset validates an EXIF time offset such as "+02:00".
func (p *tiffParser) offset(e ifdEntry, name string) string {
	s := p.str(e, name)
	if strings.Trim(s, ": ") == "" {
		return ""
	}
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	if len(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' ||
		!digit(s[1]) || !digit(s[2]) || !digit(s[4]) || !digit(s[5]) {
		p.warn("invalid %s %q", name, s)
		return ""
	}
	h := int(s[1]-'0')*10 + int(s[2]-'0')
	m := int(s[4]-'0')*10 + int(s[5]-'0')
	if h > 14 || m > 59 {
		p.warn("invalid %s %q", name, s)
		return ""
	}
	return s
}

// gpsIFD returns the position, or nil when any part is missing or implausible.
// 0,0 is what many devices write without a fix, so it counts as missing.
func (p *tiffParser) gpsIFD(off uint32) *GeoPoint {
	start, n, ok := p.ifd(off, "GPS IFD")
	if !ok {
		return nil
	}
	var latRef, lonRef string
	var lat, lon float64
	var hasLat, hasLon bool
	for i := range n {
		e := p.entry(start, i)
		switch e.tag {
		case tagGPSLatitudeRef:
			latRef = p.str(e, "GPSLatitudeRef")
		case tagGPSLongitudeRef:
			lonRef = p.str(e, "GPSLongitudeRef")
		case tagGPSLatitude:
			lat, hasLat = p.degrees(e, "GPSLatitude")
		case tagGPSLongitude:
			lon, hasLon = p.degrees(e, "GPSLongitude")
		}
	}
	if !hasLat || !hasLon {
		return nil
	}
	switch latRef {
	case "N":
	case "S":
		lat = -lat
	default:
		p.warn("invalid GPSLatitudeRef %q", latRef)
		return nil
	}
	switch lonRef {
	case "E":
	case "W":
		lon = -lon
	default:
		p.warn("invalid GPSLongitudeRef %q", lonRef)
		return nil
	}
	if lat < -90 || lat > 90 || lon < -180 || lon > 180 {
		p.warn("GPS position %g,%g out of range", lat, lon)
		return nil
	}
	if lat == 0 && lon == 0 {
		return nil
	}
	return &GeoPoint{Latitude: lat, Longitude: lon}
}

// degrees reads three RATIONALs (degrees, minutes, seconds).
func (p *tiffParser) degrees(e ifdEntry, name string) (float64, bool) {
	if e.typ != typeRational || e.count != 3 {
		p.warn("%s has type %d count %d, want 3 RATIONAL", name, e.typ, e.count)
		return 0, false
	}
	v, ok := p.value(e, name)
	if !ok {
		return 0, false
	}
	var deg float64
	for i, scale := range [3]float64{1, 60, 3600} {
		num, den := p.order.Uint32(v[8*i:]), p.order.Uint32(v[8*i+4:])
		if den == 0 {
			p.warn("%s has a zero denominator", name)
			return 0, false
		}
		deg += float64(num) / float64(den) / scale
	}
	return deg, true
}
