// Package media knows about image files: it identifies them from their
// headers and EXIF metadata without decoding pixels, and it makes thumbnails.
//
// Every input is treated as hostile. The parsers read through bounded windows,
// cap every length taken from the file, and never loop without making
// progress, so no input can make them panic, allocate without limit or hang.
package media

import (
	"errors"
	"fmt"
	"io"
)

// Format names as stored in records and compared by the type check; they are
// part of the persisted data, so they must never change.
const (
	FormatJPEG = "JPEG"
	FormatPNG  = "PNG"
	FormatGIF  = "GIF"
	FormatTIFF = "TIFF"
	FormatBMP  = "BMP"
	FormatWebP = "WEBP"
	FormatHEIC = "HEIC"
	FormatAVIF = "AVIF"
)

// GeoPoint is a position in decimal degrees (WGS 84, as EXIF records it);
// southern latitudes and western longitudes are negative.
type GeoPoint struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

// Info is what an image's header and EXIF metadata say about it.
type Info struct {
	// Format is one of the Format constants.
	Format string `json:"format"`
	// Width and Height are the stored pixel size, before any EXIF rotation;
	// use OrientedSize for the size as displayed. They are zero for formats
	// whose size is not cheap to learn from the header.
	Width  int `json:"width"`
	Height int `json:"height"`
	// Orientation is the EXIF orientation 1..8; 1 when absent or invalid, so
	// callers can always pass it on without checking.
	Orientation int `json:"orientation"`
	// Make and Model name the camera, trimmed of NULs and padding.
	Make  string `json:"make,omitempty"`
	Model string `json:"model,omitempty"`
	// CreationTime is when the picture was taken, as "2006-01-02T15:04:05",
	// followed by a "-07:00" style offset when the file records one. Without
	// an offset it is a local time of unknown zone, which is why it is kept
	// as text rather than a time.Time.
	CreationTime string `json:"creationTime,omitempty"`
	// GPS is where the picture was taken; nil when absent or implausible.
	GPS *GeoPoint `json:"gps,omitempty"`
	// Warnings describe metadata that was present but could not be read
	// (for example "exif: IFD loop"). The image itself is still usable; the
	// affected fields are left empty.
	Warnings []string `json:"warnings,omitempty"`
}

var (
	// ErrUnknownFormat means the data is not an image format we recognise:
	// text, random bytes, an empty file.
	ErrUnknownFormat = errors.New("media: unknown format")
	// ErrMalformed means the data carries a known signature but its header or
	// pixel data cannot be read. Errors wrap it with the detail.
	ErrMalformed = errors.New("media: malformed image")
	// ErrTooLarge means the header claims more pixels than the caller allows;
	// it is returned before any pixel memory is allocated.
	ErrTooLarge = errors.New("media: image too large")
	// ErrUnsupportedFormat means an operation such as Thumbnail was asked to
	// work on a format it does not handle (only JPEG and PNG are decoded).
	ErrUnsupportedFormat = errors.New("media: unsupported format")
)

// malformed wraps ErrMalformed with detail.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Sizes that bound the reader. The window is what one miss fetches, chosen so
// that a typical JPEG or PNG header costs one or two ranged reads.
const (
	readWindow   = 16 << 10
	maxExifBytes = 1 << 20
)

// errShort is returned by source.at when the requested range lies (partly)
// beyond the end of the data; format parsers turn it into their own verdict.
var errShort = errors.New("media: short data")

// source reads an io.ReaderAt through a single cached window. Readers backed
// by ranged HTTP requests make every ReadAt expensive, so small header reads
// are served from the window, and skips over large regions never touch them.
type source struct {
	r    io.ReaderAt
	size int64
	// readahead is how much a miss fetches beyond what was asked for; parsers
	// lower it when they start hopping over bulk data such as PNG IDAT chunks.
	readahead int
	buf       []byte
	off       int64
}

func newSource(r io.ReaderAt, size int64) *source {
	if size < 0 {
		size = 0
	}
	return &source{r: r, size: size, readahead: readWindow}
}

// at returns the n bytes at off. The slice is only valid until the next call.
// It returns errShort when the range is not inside the data and the reader's
// own error for real I/O failures, so a flaky network is never mistaken for
// a broken file.
func (s *source) at(off int64, n int) ([]byte, error) {
	if off < 0 || n < 0 || off > s.size || int64(n) > s.size-off {
		return nil, errShort
	}
	if off >= s.off && off+int64(n) <= s.off+int64(len(s.buf)) {
		i := off - s.off
		return s.buf[i : i+int64(n)], nil
	}
	want := max(n, s.readahead)
	if rest := s.size - off; int64(want) > rest {
		want = int(rest)
	}
	if cap(s.buf) < want {
		s.buf = make([]byte, want)
	}
	s.buf = s.buf[:want]
	m, err := s.r.ReadAt(s.buf, off)
	s.buf = s.buf[:m]
	s.off = off
	if m < n {
		if err == nil || errors.Is(err, io.EOF) {
			// The caller's size was larger than the data: treat as truncated.
			return nil, errShort
		}
		return nil, err
	}
	return s.buf[:n], nil
}

// fresh returns a newly allocated copy of n bytes at off, for data that must
// outlive the window (EXIF payloads). n must already be capped by the caller.
func (s *source) fresh(off int64, n int) ([]byte, error) {
	if off < 0 || n < 0 || off > s.size || int64(n) > s.size-off {
		return nil, errShort
	}
	b := make([]byte, n)
	m, err := s.r.ReadAt(b, off)
	if m < n {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, errShort
		}
		return nil, err
	}
	return b, nil
}

// Identify reports the format, stored size and metadata of the image in r,
// whose length is size. It reads only headers and metadata through r, in a
// few modest pieces, so r may be backed by ranged requests to remote storage.
//
// It returns ErrUnknownFormat when no known signature matches, and an error
// wrapping ErrMalformed when a JPEG or PNG header cannot be read. Broken EXIF
// metadata is not an error: it becomes a Warning and the fields stay empty.
// Other errors come from r itself.
func Identify(r io.ReaderAt, size int64) (Info, error) {
	s := newSource(r, size)
	n := min(s.size, 32)
	head, err := s.at(0, int(n))
	if err != nil {
		return Info{}, err
	}
	// Copy the head: it is tiny and the window is reused by the parsers.
	var h [32]byte
	copy(h[:], head)
	hl := len(head)
	info := Info{Orientation: 1}
	switch {
	case hl >= 3 && h[0] == 0xFF && h[1] == 0xD8 && h[2] == 0xFF:
		info.Format = FormatJPEG
		err = identifyJPEG(s, &info)
	case hl >= 8 && string(h[:8]) == pngSignature:
		info.Format = FormatPNG
		err = identifyPNG(s, &info)
	case hl >= 6 && (string(h[:6]) == "GIF87a" || string(h[:6]) == "GIF89a"):
		info.Format = FormatGIF
		if hl >= 10 {
			info.Width = int(uint16(h[6]) | uint16(h[7])<<8)
			info.Height = int(uint16(h[8]) | uint16(h[9])<<8)
		}
	case hl >= 4 && (string(h[:4]) == "II*\x00" || string(h[:4]) == "MM\x00*"):
		info.Format = FormatTIFF
		err = identifyTIFF(s, &info, h[0] == 'I')
	case hl >= 4 && (string(h[:4]) == "II+\x00" || string(h[:4]) == "MM\x00+"):
		// BigTIFF: recognised so the upload is rejected as unsupported
		// rather than unknown; its 64-bit IFDs are not worth parsing here.
		info.Format = FormatTIFF
	case hl >= 12 && string(h[:4]) == "RIFF" && string(h[8:12]) == "WEBP":
		info.Format = FormatWebP
		identifyWebP(s, &info)
	case hl >= 18 && h[0] == 'B' && h[1] == 'M' && bmpHeaderSize(h[14:18]):
		info.Format = FormatBMP
		identifyBMP(h[:hl], &info)
	case hl >= 12 && string(h[4:8]) == "ftyp":
		info.Format, err = identifyFtyp(s)
	default:
		return Info{}, ErrUnknownFormat
	}
	if err != nil {
		return Info{}, err
	}
	return info, nil
}
