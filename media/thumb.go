package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/draw"
)

// DefaultMaxPixels is the pixel limit Decode and Thumbnail apply when the
// caller passes maxPixels <= 0. It admits the largest camera sensors (about
// 100 MP) while refusing headers forged to exhaust memory.
const DefaultMaxPixels = 120_000_000

// thumbJPEGQuality balances size against visible artefacts at thumbnail size.
const thumbJPEGQuality = 85

// Thumb is an encoded thumbnail.
type Thumb struct {
	// Data is the encoded image, in Format.
	Data []byte
	// Width and Height are the upright (already oriented) size.
	Width, Height int
	// Format is the encoding of Data, the same as the source's.
	Format string
}

// errReader remembers the first real I/O error of the underlying reader, so
// that a failing network read is reported as such instead of being blamed on
// the file as "malformed" (which would stop retries).
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

func decodeError(er *errReader, format string, err error) error {
	if er.err != nil {
		return fmt.Errorf("media: reading %s: %w", format, er.err)
	}
	return fmt.Errorf("%w: %s: %v", ErrMalformed, format, err)
}

// Decode decodes a JPEG or PNG. It first reads the header and refuses images
// of more than maxPixels pixels (DefaultMaxPixels when maxPixels <= 0) with
// ErrTooLarge, so a small file claiming enormous dimensions is refused before
// the decoder allocates for it. Undecodable or truncated data yields an error
// wrapping ErrMalformed; other formats yield ErrUnsupportedFormat.
func Decode(r io.Reader, format string, maxPixels int64) (image.Image, error) {
	var config func(io.Reader) (image.Config, error)
	var decode func(io.Reader) (image.Image, error)
	switch format {
	case FormatJPEG:
		config, decode = jpeg.DecodeConfig, jpeg.Decode
	case FormatPNG:
		config, decode = png.DecodeConfig, png.Decode
	default:
		return nil, fmt.Errorf("%w: cannot decode %q", ErrUnsupportedFormat, format)
	}
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	er := &errReader{r: r}
	// The header bytes the config pass consumes are kept and replayed, since
	// r may be a stream that cannot be rewound.
	var head bytes.Buffer
	var pre [24]byte
	n := 0
	if format == FormatPNG {
		// image/png refuses sizes whose byte count overflows as "unsupported",
		// before we could call them too large; read the IHDR size ourselves.
		n, _ = io.ReadFull(er, pre[:])
		head.Write(pre[:n])
		if n == len(pre) && string(pre[:8]) == pngSignature && string(pre[12:16]) == "IHDR" {
			w, h := binary.BigEndian.Uint32(pre[16:20]), binary.BigEndian.Uint32(pre[20:24])
			if uint64(w)*uint64(h) > uint64(maxPixels) {
				return nil, fmt.Errorf("%w: %dx%d is more than %d pixels", ErrTooLarge, w, h, maxPixels)
			}
		}
	}
	cfg, err := config(io.MultiReader(bytes.NewReader(pre[:n]), io.TeeReader(er, &head)))
	if err != nil {
		return nil, decodeError(er, format, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, malformed("%s: size %dx%d", format, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > maxPixels {
		return nil, fmt.Errorf("%w: %dx%d is %d pixels, limit %d", ErrTooLarge, cfg.Width, cfg.Height, px, maxPixels)
	}
	img, err := decode(io.MultiReader(&head, er))
	if err != nil {
		// image/jpeg reports a cut file as io.ErrUnexpectedEOF; it must not
		// pass for an I/O failure or, worse, a half-grey success.
		return nil, decodeError(er, format, err)
	}
	return img, nil
}

// Thumbnail decodes a JPEG or PNG, scales it to fit inside maxSide×maxSide
// keeping its aspect ratio (never upscaling), turns it upright according to
// the EXIF orientation, and encodes it in the source's format.
//
// Scaling happens before orienting so that the pixel shuffle runs on the
// small image. maxPixels is passed to Decode.
func Thumbnail(r io.Reader, format string, orientation int, maxSide int, maxPixels int64) (Thumb, error) {
	if maxSide <= 0 {
		return Thumb{}, errors.New("media: thumbnail size must be positive")
	}
	img, err := Decode(r, format, maxPixels)
	if err != nil {
		return Thumb{}, err
	}
	b := img.Bounds()
	w, h := fitInside(b.Dx(), b.Dy(), maxSide)
	small := resize(img, w, h)
	up := Orient(small, orientation)

	var buf bytes.Buffer
	switch format {
	case FormatJPEG:
		err = jpeg.Encode(&buf, up, &jpeg.Options{Quality: thumbJPEGQuality})
	case FormatPNG:
		err = png.Encode(&buf, up)
	}
	if err != nil {
		return Thumb{}, fmt.Errorf("media: encoding thumbnail: %w", err)
	}
	ub := up.Bounds()
	return Thumb{Data: buf.Bytes(), Width: ub.Dx(), Height: ub.Dy(), Format: format}, nil
}

// resize scales img to w×h. Large reductions first average k×k blocks (a box
// filter, one cheap pass over the source), then let Catmull-Rom do the last
// factor of two or more: the result matches a direct Catmull-Rom closely at
// a fraction of the cost, whose kernel would otherwise span k source pixels.
func resize(img image.Image, w, h int) *image.RGBA {
	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	if w == b.Dx() && h == b.Dy() {
		draw.Draw(dst, dst.Bounds(), img, b.Min, draw.Src)
		return dst
	}
	src := img
	if k := min(b.Dx()/(2*w), b.Dy()/(2*h), maxBoxFactor); k >= 2 {
		src = boxShrink(img, k)
	}
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
	return dst
}

// maxBoxFactor keeps the box sums (k*k*255) far from overflowing uint32.
const maxBoxFactor = 256

// boxShrink averages k×k blocks of img (premultiplied, so transparent pixels
// do not bleed colour); the blocks at the right and bottom edges may be
// partial and are averaged over the pixels they have. Source rows are
// converted to RGBA one at a time, so any image type takes image/draw's fast
// paths and the extra memory is one row plus one output row of sums.
func boxShrink(img image.Image, k int) *image.RGBA {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	ow, oh := (sw+k-1)/k, (sh+k-1)/k
	out := image.NewRGBA(image.Rect(0, 0, ow, oh))
	row := image.NewRGBA(image.Rect(0, 0, sw, 1))
	sums := make([]uint32, 4*ow)
	for oy := range oh {
		clear(sums)
		rows := min(k, sh-oy*k)
		for r := range rows {
			draw.Draw(row, row.Bounds(), img, image.Pt(b.Min.X, b.Min.Y+oy*k+r), draw.Src)
			px := row.Pix
			for ox := range ow {
				s := sums[4*ox : 4*ox+4 : 4*ox+4]
				end := min((ox+1)*k, sw)
				for x := ox * k; x < end; x++ {
					p := px[4*x : 4*x+4 : 4*x+4]
					s[0] += uint32(p[0])
					s[1] += uint32(p[1])
					s[2] += uint32(p[2])
					s[3] += uint32(p[3])
				}
			}
		}
		dst := out.Pix[oy*out.Stride : oy*out.Stride+4*ow]
		for ox := range ow {
			n := uint32(rows * (min((ox+1)*k, sw) - ox*k))
			for c := range 4 {
				dst[4*ox+c] = uint8((sums[4*ox+c] + n/2) / n)
			}
		}
	}
	return out
}

// fitInside scales w×h down to fit a maxSide square, rounding to the nearest
// pixel and never below one pixel.
func fitInside(w, h, maxSide int) (int, int) {
	if w <= maxSide && h <= maxSide {
		return w, h
	}
	scale := func(a, b int) int { // a*maxSide/b, rounded
		return max(1, int((int64(a)*int64(maxSide)+int64(b)/2)/int64(b)))
	}
	if w >= h {
		return maxSide, scale(h, w)
	}
	return scale(w, h), maxSide
}

// OrientedSize returns the displayed width and height of an image stored as
// w×h with EXIF orientation o: orientations 5 to 8 swap the axes.
func OrientedSize(w, h, o int) (int, int) {
	if o >= 5 && o <= 8 {
		return h, w
	}
	return w, h
}

// Orient returns img transformed for EXIF orientation o so that it displays
// upright. Orientation 1 and values outside 1..8 return img itself; other
// orientations return a new *image.RGBA with its origin at 0,0.
//
// For a stored image S of size W×H, the displayed image D is:
//
//	1 D(x,y) = S(x, y)
//	2 D(x,y) = S(W-1-x, y)          mirror horizontal
//	3 D(x,y) = S(W-1-x, H-1-y)      rotate 180
//	4 D(x,y) = S(x, H-1-y)          mirror vertical
//	5 D(x,y) = S(y, x)              transpose
//	6 D(x,y) = S(y, H-1-x)          rotate 90 clockwise
//	7 D(x,y) = S(W-1-y, H-1-x)      transverse
//	8 D(x,y) = S(W-1-y, x)          rotate 90 counter-clockwise
func Orient(img image.Image, o int) image.Image {
	if o < 2 || o > 8 {
		return img
	}
	src, ok := img.(*image.RGBA)
	if !ok {
		src = image.NewRGBA(image.Rect(0, 0, img.Bounds().Dx(), img.Bounds().Dy()))
		draw.Draw(src, src.Bounds(), img, img.Bounds().Min, draw.Src)
	}
	sb := src.Bounds()
	W, H := sb.Dx(), sb.Dy()
	dw, dh := OrientedSize(W, H, o)
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := range dh {
		row := dst.Pix[y*dst.Stride : y*dst.Stride+4*dw]
		for x := range dw {
			var sx, sy int
			switch o {
			case 2:
				sx, sy = W-1-x, y
			case 3:
				sx, sy = W-1-x, H-1-y
			case 4:
				sx, sy = x, H-1-y
			case 5:
				sx, sy = y, x
			case 6:
				sx, sy = y, H-1-x
			case 7:
				sx, sy = W-1-y, H-1-x
			case 8:
				sx, sy = W-1-y, x
			}
			si := src.PixOffset(sb.Min.X+sx, sb.Min.Y+sy)
			copy(row[4*x:4*x+4], src.Pix[si:si+4])
		}
	}
	return dst
}
