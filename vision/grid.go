package vision

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"math"
)

// maxGridSide bounds the analysis grid: enough cells for thirds, lines of text and
// connected regions, few enough that every image costs about the same.
const maxGridSide = 256

// maxSamplesPerAxis bounds the source pixels read per cell and axis. Averaging 4×4 evenly
// spread samples tracks the true area average closely for photos while keeping a
// 12-megapixel image under a million reads.
const maxSamplesPerAxis = 4

// cell is the average colour of one grid cell, channels in [0,1], plus the measures the
// heuristics share, computed once.
type cell struct {
	r, g, b float64
	h, s, v float64 // hue in degrees [0,360), saturation and value in [0,1]
	chroma  float64 // max−min channel: unlike s, stable for dark colours
	y       float64 // luma in [0,1]
	cb, cr  float64 // JPEG (full range) chroma, 0–255
}

// grid is the upright, downsampled picture, cells in row-major order.
type grid struct {
	w, h  int
	cells []cell
}

func (g *grid) at(x, y int) *cell { return &g.cells[y*g.w+x] }

// sampler returns a function reading one source pixel as non-premultiplied RGB in [0,1]
// composited over white. The concrete-type paths avoid At's interface allocation, which
// dominates the cost on large images.
func sampler(src image.Image) func(x, y int) (r, g, b float64) {
	const k = 1.0 / 255
	switch m := src.(type) {
	case *image.YCbCr:
		return func(x, y int) (float64, float64, float64) {
			yi, ci := m.YOffset(x, y), m.COffset(x, y)
			r, g, b := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			return float64(r) * k, float64(g) * k, float64(b) * k
		}
	case *image.RGBA:
		return func(x, y int) (float64, float64, float64) {
			i := m.PixOffset(x, y)
			p := m.Pix[i : i+4 : i+4]
			// Premultiplied: adding the uncovered share of white composites over white.
			w := float64(255-p[3]) * k
			return float64(p[0])*k + w, float64(p[1])*k + w, float64(p[2])*k + w
		}
	case *image.NRGBA:
		return func(x, y int) (float64, float64, float64) {
			i := m.PixOffset(x, y)
			p := m.Pix[i : i+4 : i+4]
			a := float64(p[3]) * k
			w := 1 - a
			return float64(p[0])*k*a + w, float64(p[1])*k*a + w, float64(p[2])*k*a + w
		}
	case *image.Gray:
		return func(x, y int) (float64, float64, float64) {
			v := float64(m.Pix[m.PixOffset(x, y)]) * k
			return v, v, v
		}
	}
	return func(x, y int) (float64, float64, float64) {
		r, g, b, a := src.At(x, y).RGBA() // premultiplied, 16-bit
		const k16 = 1.0 / 0xffff
		w := float64(0xffff-a) * k16
		return float64(r)*k16 + w, float64(g)*k16 + w, float64(b)*k16 + w
	}
}

// samplePositions splits [lo, lo+n) into cells spans and returns, for each, the source
// coordinates to read: at most maxSamplesPerAxis, centred in equal sub-spans.
func samplePositions(lo, n, cells int) [][]int {
	out := make([][]int, cells)
	for i := range cells {
		a, b := i*n/cells, (i+1)*n/cells
		if b <= a {
			b = a + 1
		}
		span := b - a
		k := min(span, maxSamplesPerAxis)
		ps := make([]int, k)
		for j := range k {
			ps[j] = lo + a + (2*j+1)*span/(2*k)
		}
		out[i] = ps
	}
	return out
}

// buildGrid downsamples src to at most maxGridSide cells on its longest side and turns
// the result upright according to the EXIF orientation.
func buildGrid(ctx context.Context, src image.Image, orientation int) (*grid, error) {
	if src == nil {
		return nil, ErrNoPixels
	}
	bounds := src.Bounds()
	sw, sh := bounds.Dx(), bounds.Dy()
	if sw <= 0 || sh <= 0 {
		return nil, ErrNoPixels
	}
	w, h := sw, sh
	if longest := max(sw, sh); longest > maxGridSide {
		w = max(1, int(math.Round(float64(sw)*maxGridSide/float64(longest))))
		h = max(1, int(math.Round(float64(sh)*maxGridSide/float64(longest))))
	}
	xs := samplePositions(bounds.Min.X, sw, w)
	ys := samplePositions(bounds.Min.Y, sh, h)
	read := sampler(src)

	stored := make([]cell, w*h)
	for gy := range h {
		if gy%32 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("vision: downsample: %w", err)
			}
		}
		for gx := range w {
			var r, g, b float64
			for _, y := range ys[gy] {
				for _, x := range xs[gx] {
					pr, pg, pb := read(x, y)
					r, g, b = r+pr, g+pg, b+pb
				}
			}
			n := float64(len(ys[gy]) * len(xs[gx]))
			stored[gy*w+gx] = measure(r/n, g/n, b/n)
		}
	}
	return upright(stored, w, h, orientation), nil
}

// swapsAxes reports whether the EXIF orientation turns the picture a quarter turn.
func swapsAxes(orientation int) bool { return orientation >= 5 && orientation <= 8 }

// upright reorders stored-orientation cells so that row 0 is the visual top. The mapping
// follows the EXIF definitions of where the stored row 0 and column 0 appear; mirroring
// does not change any measure but is applied anyway, so the grid is the true picture.
func upright(stored []cell, w, h, orientation int) *grid {
	if orientation < 2 || orientation > 8 {
		return &grid{w: w, h: h, cells: stored}
	}
	uw, uh := w, h
	if swapsAxes(orientation) {
		uw, uh = h, w
	}
	out := make([]cell, len(stored))
	for y := range uh {
		for x := range uw {
			var sx, sy int
			switch orientation {
			case 2:
				sx, sy = w-1-x, y
			case 3:
				sx, sy = w-1-x, h-1-y
			case 4:
				sx, sy = x, h-1-y
			case 5:
				sx, sy = y, x
			case 6:
				sx, sy = y, h-1-x
			case 7:
				sx, sy = w-1-y, h-1-x
			case 8:
				sx, sy = w-1-y, x
			}
			out[y*uw+x] = stored[sy*w+sx]
		}
	}
	return &grid{w: uw, h: uh, cells: out}
}

// measure derives the shared colour measures of one average colour.
func measure(r, g, b float64) cell {
	c := cell{r: r, g: g, b: b}
	hi, lo := max(r, g, b), min(r, g, b)
	c.v = hi
	c.chroma = hi - lo
	if hi > 0 {
		c.s = c.chroma / hi
	}
	if c.chroma > 0 {
		var h float64
		switch hi {
		case r:
			h = math.Mod((g-b)/c.chroma, 6)
		case g:
			h = (b-r)/c.chroma + 2
		default:
			h = (r-g)/c.chroma + 4
		}
		h *= 60
		if h < 0 {
			h += 360
		}
		c.h = h
	}
	// ITU-R BT.601 full range, as in JPEG, so the published skin rule applies unchanged.
	R, G, B := 255*r, 255*g, 255*b
	c.y = 0.299*r + 0.587*g + 0.114*b
	c.cb = 128 - 0.168736*R - 0.331264*G + 0.5*B
	c.cr = 128 + 0.5*R - 0.418688*G - 0.081312*B
	return c
}
