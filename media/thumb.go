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

// DecodeAtLeast decodes a JPEG or PNG at the smallest size that is still at
// least w×h pixels (or the full size, when that is smaller), which for a
// JPEG can be 1/2, 1/4 or 1/8 of it: the reduced sizes skip most of the
// decoding work and memory. The result has the image's stored orientation.
// PNGs, and JPEGs the reduced decoder does not handle (CMYK, arithmetic
// coding, progressive at 1/2 or 1/4), are decoded in full.
//
// Limits and errors are those of Decode: ErrTooLarge before any pixel
// memory is allocated, ErrMalformed for undecodable or truncated data,
// ErrUnsupportedFormat for other formats, and the reader's own errors.
func DecodeAtLeast(r io.Reader, format string, w, h int, maxPixels int64) (image.Image, error) {
	img, _, _, err := decodeAtLeast(r, format, maxPixels, func(int, int) (int, int) { return w, h })
	return img, err
}

// decodeAtLeast decodes at the largest reduction whose result still covers
// the size want asks for, given the full size. It also returns the extent
// of the full image in decoded pixels, which is fractional when a reduced
// decode's last row or column stands for a partial block.
func decodeAtLeast(r io.Reader, format string, maxPixels int64, want func(w, h int) (int, int)) (img image.Image, extX, extY float64, err error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	if format == FormatJPEG {
		res, replay, err := decodeJPEGReduced(r, maxPixels, func(w, h int) int {
			tw, th := want(w, h)
			return pickScale(w, h, tw, th)
		})
		if err == nil {
			s := float64(res.scale)
			return res.img, float64(res.width) / s, float64(res.height) / s, nil
		}
		if !errors.Is(err, errFallback) {
			return nil, 0, 0, err
		}
		r = replay
	}
	img, err = Decode(r, format, maxPixels)
	if err != nil {
		return nil, 0, 0, err
	}
	b := img.Bounds()
	return img, float64(b.Dx()), float64(b.Dy()), nil
}

// pickScale returns the largest JPEG reduction (8, 4, 2 or 1) at which a
// w×h image still decodes to at least tw×th, so that what follows is always
// a downscale.
func pickScale(w, h, tw, th int) int {
	for _, s := range []int{8, 4, 2} {
		if (w+s-1)/s >= tw && (h+s-1)/s >= th {
			return s
		}
	}
	return 1
}

// Thumbnail decodes a JPEG or PNG, scales it to fit inside maxSide×maxSide
// keeping its aspect ratio (never upscaling), turns it upright according to
// the EXIF orientation, and encodes it in the source's format.
//
// A large JPEG is decoded at a reduced scale (see DecodeAtLeast) that still
// leaves the resampler at least the thumbnail's size to work from; the
// resampler is Lanczos3. Scaling happens before orienting so that the pixel
// shuffle runs on the small image. maxPixels is applied as by Decode.
func Thumbnail(r io.Reader, format string, orientation int, maxSide int, maxPixels int64) (Thumb, error) {
	up, err := thumbImage(r, format, orientation, maxSide, maxPixels)
	if err != nil {
		return Thumb{}, err
	}
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

// thumbImage is Thumbnail without the encoding step.
func thumbImage(r io.Reader, format string, orientation int, maxSide int, maxPixels int64) (image.Image, error) {
	if maxSide <= 0 {
		return nil, errors.New("media: thumbnail size must be positive")
	}
	if format != FormatJPEG && format != FormatPNG {
		return nil, fmt.Errorf("%w: cannot decode %q", ErrUnsupportedFormat, format)
	}
	var w, h int
	img, extX, extY, err := decodeAtLeast(r, format, maxPixels, func(fw, fh int) (int, int) {
		w, h = fitInside(fw, fh, maxSide)
		return w, h
	})
	if err != nil {
		return nil, err
	}
	if w == 0 {
		// The full decoder ran without asking: its size is the full size.
		w, h = fitInside(img.Bounds().Dx(), img.Bounds().Dy(), maxSide)
	}
	return Orient(resizeExt(img, w, h, extX, extY), orientation), nil
}

// resize scales img to w×h with Lanczos3.
func resize(img image.Image, w, h int) image.Image {
	b := img.Bounds()
	return resizeExt(img, w, h, float64(b.Dx()), float64(b.Dy()))
}

// resizeExt scales img, whose extent is extX×extY of its pixels, to w×h.
// Large reductions first average k×k blocks (a box filter, one cheap pass
// over the source) down to at least twice the target, then Lanczos3 does
// the rest: close to a direct Lanczos3 at a fraction of the cost, whose
// kernel would otherwise span 6k source pixels.
func resizeExt(img image.Image, w, h int, extX, extY float64) image.Image {
	b := img.Bounds()
	if w == b.Dx() && h == b.Dy() {
		dst := image.NewRGBA(image.Rect(0, 0, w, h))
		draw.Draw(dst, dst.Bounds(), img, b.Min, draw.Src)
		return dst
	}
	if k := min(b.Dx()/(2*w), b.Dy()/(2*h), maxBoxFactor); k >= 2 {
		img = boxShrink(img, k)
		extX, extY = extX/float64(k), extY/float64(k)
	}
	return resample(img, w, h, extX, extY)
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
