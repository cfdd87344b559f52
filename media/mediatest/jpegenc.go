package mediatest

import (
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/bits"
)

// JPEGOptions chooses what EncodeJPEG writes. The zero value is a baseline
// 4:2:0 colour JPEG at quality 90, like the files cameras and phones write.
type JPEGOptions struct {
	// Quality is 1..100 and scales the example tables of ITU-T T.81 Annex K
	// the way the IJG library does; 0 means 90.
	Quality int
	// Subsampling is the chroma subsampling of a colour image: "444", "422",
	// "420" or "440"; empty means "420". Gray and CMYK images ignore it.
	Subsampling string
	// Gray writes one luminance component.
	Gray bool
	// CMYK writes four full-resolution components and an Adobe APP14 marker
	// with transform 0. The samples are stored inverted, as Photoshop writes
	// them and as decoders (image/jpeg among them) expect when they see that
	// marker.
	CMYK bool
	// Progressive writes SOF2: one interleaved DC scan, then AC scans by
	// spectral selection (bands 1-5 and 6-63) for each component.
	Progressive bool
	// SuccessiveApprox, with Progressive, sends the DC coefficients in two
	// passes: all but the lowest bit first (Al=1), then a refinement scan with
	// that bit. The AC scans stay at full precision.
	SuccessiveApprox bool
	// RestartInterval writes a DRI marker and an RSTn marker every that many
	// MCUs; 0 writes none.
	RestartInterval int
}

// EncodeJPEG encodes img as a JPEG with the given options. It exists so that
// tests can have the JPEG variants image/jpeg does not write (progressive,
// CMYK, restart markers, every chroma subsampling) and check that the code
// reading uploads copes with them.
//
// The encoder is deliberately plain: a floating-point DCT, the Annex K
// quantisation and Huffman tables, and a fixed progressive scan script. It
// panics on options it does not know and on images no JPEG can hold.
func EncodeJPEG(img image.Image, o JPEGOptions) []byte {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 || w > 0xFFFF || h > 0xFFFF {
		panic(fmt.Sprintf("mediatest: a JPEG cannot be %dx%d", w, h))
	}
	if o.Gray && o.CMYK {
		panic("mediatest: a JPEG cannot be both gray and CMYK")
	}
	if o.RestartInterval < 0 || o.RestartInterval > 0xFFFF {
		panic(fmt.Sprintf("mediatest: restart interval %d", o.RestartInterval))
	}
	q := o.Quality
	if q == 0 {
		q = 90
	}
	if q < 1 || q > 100 {
		panic(fmt.Sprintf("mediatest: JPEG quality %d is not in 1..100", q))
	}
	e := &jpegEncoder{w: w, h: h, opts: o}
	e.quant[0] = scaleQuant(&annexKLuminance, q)
	e.quant[1] = scaleQuant(&annexKChrominance, q)
	e.setupComponents()
	e.loadPlanes(img)
	for _, c := range e.comps {
		e.transform(c)
	}
	return e.write()
}

// jpegComponent is one colour component with its samples and, once
// transformed, its quantised coefficients.
type jpegComponent struct {
	id     byte
	h, v   int // sampling factors
	tq     int // quantisation table
	tdc    int // DC Huffman table
	tac    int // AC Huffman table
	plane  []uint8
	stride int // plane width: the MCU grid at this component's resolution
	bw, bh int // blocks in the MCU grid
	ownW   int // blocks covering the component's own extent (non-interleaved scans)
	ownH   int
	coef   []int16 // 64 per block, zig-zag order, block rows of bw
	dcPred int
}

type jpegEncoder struct {
	w, h             int
	opts             JPEGOptions
	quant            [2][64]uint8 // natural order
	comps            []*jpegComponent
	hmax, vmax       int
	mcuCols, mcuRows int
	out              []byte
	bw               bitWriter8
	declaredRI       int
}

func (e *jpegEncoder) setupComponents() {
	switch {
	case e.opts.Gray:
		e.comps = []*jpegComponent{{id: 1, h: 1, v: 1}}
	case e.opts.CMYK:
		for i := range 4 {
			e.comps = append(e.comps, &jpegComponent{id: byte(i + 1), h: 1, v: 1})
		}
	default:
		hy, vy := 2, 2
		switch e.opts.Subsampling {
		case "444":
			hy, vy = 1, 1
		case "422":
			hy, vy = 2, 1
		case "420", "":
		case "440":
			hy, vy = 1, 2
		default:
			panic(fmt.Sprintf("mediatest: unknown JPEG subsampling %q", e.opts.Subsampling))
		}
		e.comps = []*jpegComponent{
			{id: 1, h: hy, v: vy},
			{id: 2, h: 1, v: 1, tq: 1, tdc: 1, tac: 1},
			{id: 3, h: 1, v: 1, tq: 1, tdc: 1, tac: 1},
		}
	}
	e.hmax, e.vmax = 1, 1
	for _, c := range e.comps {
		e.hmax, e.vmax = max(e.hmax, c.h), max(e.vmax, c.v)
	}
	e.mcuCols = (e.w + 8*e.hmax - 1) / (8 * e.hmax)
	e.mcuRows = (e.h + 8*e.vmax - 1) / (8 * e.vmax)
	for _, c := range e.comps {
		c.bw, c.bh = e.mcuCols*c.h, e.mcuRows*c.v
		c.stride = 8 * c.bw
		// T.81 A.1.1: the component is ceil(X·h/hmax) samples wide.
		c.ownW = ((e.w*c.h+e.hmax-1)/e.hmax + 7) / 8
		c.ownH = ((e.h*c.v+e.vmax-1)/e.vmax + 7) / 8
	}
}

// loadPlanes converts img into full-resolution planes covering the whole MCU
// grid (edges replicated, so the padding costs few bits), then box-filters
// the subsampled components down to their own resolution.
func (e *jpegEncoder) loadPlanes(img image.Image) {
	fw, fh := e.mcuCols*8*e.hmax, e.mcuRows*8*e.vmax
	full := make([][]uint8, len(e.comps))
	for i := range full {
		full[i] = make([]uint8, fw*fh)
	}
	b := img.Bounds()
	row := make([]uint8, 4*e.w) // per pixel: up to four component samples
	for y := range fh {
		sy := b.Min.Y + min(y, e.h-1)
		if y < e.h {
			e.sampleRow(img, sy, row)
		}
		for i, p := range full {
			line := p[y*fw : (y+1)*fw]
			for x := range e.w {
				line[x] = row[4*x+i]
			}
			for x := e.w; x < fw; x++ {
				line[x] = line[e.w-1]
			}
		}
	}
	for i, c := range e.comps {
		fx, fy := e.hmax/c.h, e.vmax/c.v
		if fx == 1 && fy == 1 {
			c.plane = full[i]
			continue
		}
		pw, ph := fw/fx, fh/fy
		c.plane = make([]uint8, pw*ph)
		n := fx * fy
		for y := range ph {
			for x := range pw {
				sum := 0
				for dy := range fy {
					for dx := range fx {
						sum += int(full[i][(y*fy+dy)*fw+x*fx+dx])
					}
				}
				c.plane[y*pw+x] = uint8((sum + n/2) / n)
			}
		}
	}
}

// sampleRow fills row with the component samples of image row y, four slots a
// pixel. Colour goes through the JFIF (full-range BT.601) conversion that
// decoders invert.
func (e *jpegEncoder) sampleRow(img image.Image, y int, row []uint8) {
	b := img.Bounds()
	if e.opts.CMYK {
		if m, ok := img.(*image.CMYK); ok {
			copy(row, m.Pix[m.PixOffset(b.Min.X, y):][:4*e.w])
		} else {
			for x := range e.w {
				c := color.CMYKModel.Convert(img.At(b.Min.X+x, y)).(color.CMYK)
				row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = c.C, c.M, c.Y, c.K
			}
		}
		for i := range row {
			row[i] = 255 - row[i]
		}
		return
	}
	rgba, _ := img.(*image.RGBA)
	for x := range e.w {
		var r, g, bl float64
		if rgba != nil {
			p := rgba.Pix[rgba.PixOffset(b.Min.X+x, y):]
			r, g, bl = float64(p[0]), float64(p[1]), float64(p[2])
		} else {
			cr, cg, cb, _ := img.At(b.Min.X+x, y).RGBA()
			r, g, bl = float64(cr>>8), float64(cg>>8), float64(cb>>8)
		}
		row[4*x] = roundSample(0.299*r + 0.587*g + 0.114*bl)
		if e.opts.Gray {
			continue
		}
		row[4*x+1] = roundSample(-0.168736*r - 0.331264*g + 0.5*bl + 128)
		row[4*x+2] = roundSample(0.5*r - 0.418688*g - 0.081312*bl + 128)
	}
}

func roundSample(v float64) uint8 {
	return uint8(math.Max(0, math.Min(255, math.Round(v))))
}

// dctBasis[u][x] is C(u)/2·cos((2x+1)uπ/16), so that the 2-D forward DCT of
// T.81 A.3.3 is two passes of eight-term dot products.
var dctBasis = func() (t [8][8]float64) {
	for u := range 8 {
		cu := 1.0
		if u == 0 {
			cu = 1 / math.Sqrt2
		}
		for x := range 8 {
			t[u][x] = cu / 2 * math.Cos(float64(2*x+1)*float64(u)*math.Pi/16)
		}
	}
	return t
}()

// zigzag[k] is the natural (row-major) index of the k-th coefficient in
// zig-zag order, built by walking the anti-diagonals alternately up and down.
var zigzag = func() (z [64]int) {
	k := 0
	for d := range 15 {
		for i := range d + 1 {
			r := i
			if d%2 == 0 {
				r = d - i // even diagonals run from bottom-left to top-right
			}
			c := d - r
			if r < 8 && c < 8 {
				z[k] = r*8 + c
				k++
			}
		}
	}
	return z
}()

// transform runs the forward DCT and quantisation over every block of the
// component's MCU grid.
func (e *jpegEncoder) transform(c *jpegComponent) {
	c.coef = make([]int16, 64*c.bw*c.bh)
	qt := &e.quant[c.tq]
	var s, tmp [8][8]float64
	for by := range c.bh {
		for bx := range c.bw {
			for y := range 8 {
				line := c.plane[(8*by+y)*c.stride+8*bx:][:8]
				for x := range 8 {
					s[y][x] = float64(line[x]) - 128
				}
			}
			for y := range 8 {
				for u := range 8 {
					sum := 0.0
					for x := range 8 {
						sum += s[y][x] * dctBasis[u][x]
					}
					tmp[y][u] = sum
				}
			}
			out := c.coef[64*(by*c.bw+bx):][:64]
			for k, nat := range zigzag {
				v, u := nat/8, nat%8
				sum := 0.0
				for y := range 8 {
					sum += tmp[y][u] * dctBasis[v][y]
				}
				qv := math.Round(sum / float64(qt[nat]))
				// Keep within what baseline Huffman coding can express.
				lim := 1023.0
				if k == 0 {
					lim = 2047
				}
				out[k] = int16(math.Max(-lim, math.Min(lim, qv)))
			}
		}
	}
	c.plane = nil
}

// scaleQuant scales an Annex K table as the IJG library does for quality q.
func scaleQuant(base *[64]uint8, q int) (t [64]uint8) {
	scale := 200 - 2*q
	if q < 50 {
		scale = 5000 / q
	}
	for i, v := range base {
		t[i] = uint8(min(255, max(1, (int(v)*scale+50)/100)))
	}
	return t
}

// T.81 Annex K, tables K.1 and K.2, in natural order.
var annexKLuminance = [64]uint8{
	16, 11, 10, 16, 24, 40, 51, 61,
	12, 12, 14, 19, 26, 58, 60, 55,
	14, 13, 16, 24, 40, 57, 69, 56,
	14, 17, 22, 29, 51, 87, 80, 62,
	18, 22, 37, 56, 68, 109, 103, 77,
	24, 35, 55, 64, 81, 104, 113, 92,
	49, 64, 78, 87, 103, 121, 120, 101,
	72, 92, 95, 98, 112, 100, 103, 99,
}

var annexKChrominance = [64]uint8{
	17, 18, 24, 47, 99, 99, 99, 99,
	18, 21, 26, 66, 99, 99, 99, 99,
	24, 26, 56, 99, 99, 99, 99, 99,
	47, 66, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99,
}

// huffSpec is a Huffman table as DHT carries it: how many codes of each
// length 1..16, then the symbols in code order.
type huffSpec struct {
	counts [16]uint8
	values []uint8
}

// The typical tables of T.81 Annex K.3: luminance DC, chrominance DC,
// luminance AC, chrominance AC. The AC tables hold all 162 symbols (every
// run/size pair, EOB and ZRL), so any block can be coded with them.
var annexKHuffman = [4]huffSpec{
	{
		counts: [16]uint8{0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0},
		values: []uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
	},
	{
		counts: [16]uint8{0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0},
		values: []uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
	},
	{
		counts: [16]uint8{0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d},
		values: []uint8{
			0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
			0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
			0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
			0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
			0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
			0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
			0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
			0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
			0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
			0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
			0xf9, 0xfa,
		},
	},
	{
		counts: [16]uint8{0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77},
		values: []uint8{
			0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
			0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0,
			0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26,
			0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
			0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
			0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
			0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
			0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
			0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
			0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
			0xf9, 0xfa,
		},
	},
}

// huffCode is a symbol's code and length.
type huffCode struct {
	code uint16
	size uint8
}

// huffCodes assigns the canonical codes of T.81 Annex C.
func huffCodes(s *huffSpec) (t [256]huffCode) {
	code, k := 0, 0
	for l := 1; l <= 16; l++ {
		for range s.counts[l-1] {
			t[s.values[k]] = huffCode{uint16(code), uint8(l)}
			code++
			k++
		}
		code <<= 1
	}
	return t
}

var annexKCodes = func() (t [4][256]huffCode) {
	for i := range annexKHuffman {
		t[i] = huffCodes(&annexKHuffman[i])
	}
	return t
}()

// bitWriter8 packs bits most-significant first into entropy-coded data,
// stuffing a zero after every 0xFF so no marker appears by accident.
type bitWriter8 struct {
	acc uint32
	n   uint
}

func (e *jpegEncoder) putBits(v uint32, n uint) {
	w := &e.bw
	w.acc = w.acc<<n | v&(1<<n-1)
	w.n += n
	for w.n >= 8 {
		b := byte(w.acc >> (w.n - 8))
		e.out = append(e.out, b)
		if b == 0xFF {
			e.out = append(e.out, 0)
		}
		w.n -= 8
	}
	w.acc &= 1<<w.n - 1
}

// flushBits pads the last byte with ones, as T.81 F.1.2.3 asks before a marker.
func (e *jpegEncoder) flushBits() {
	if e.bw.n > 0 {
		e.putBits(0xFF, 8-e.bw.n)
	}
	e.bw = bitWriter8{}
}

func (e *jpegEncoder) putHuff(table int, sym uint8) {
	c := annexKCodes[table][sym]
	if c.size == 0 {
		panic(fmt.Sprintf("mediatest: Huffman table %d has no code for %#02x", table, sym))
	}
	e.putBits(uint32(c.code), uint(c.size))
}

// putValue codes v as a magnitude category with the Huffman symbol sym|size
// followed by the size low bits of v (v-1 for negatives, T.81 F.1.2.1).
func (e *jpegEncoder) putValue(table int, sym uint8, v int) {
	a := v
	if a < 0 {
		a = -a
		v--
	}
	size := bits.Len(uint(a))
	e.putHuff(table, sym|uint8(size))
	if size > 0 {
		e.putBits(uint32(v), uint(size))
	}
}

func (e *jpegEncoder) marker(m byte, payload []byte) {
	e.out = append(e.out, 0xFF, m)
	if payload == nil {
		return
	}
	e.out = binary.BigEndian.AppendUint16(e.out, uint16(2+len(payload)))
	e.out = append(e.out, payload...)
}

func (e *jpegEncoder) write() []byte {
	e.marker(0xD8, nil)
	if e.opts.CMYK {
		// Adobe APP14: version 100, no flags, transform 0 (no colour conversion).
		e.marker(0xEE, []byte{'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0})
	} else {
		e.marker(0xE0, []byte{'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0})
	}
	tables := 1
	if len(e.comps) == 3 {
		tables = 2
	}
	for t := range tables {
		p := []byte{byte(t)}
		for _, nat := range zigzag {
			p = append(p, e.quant[t][nat])
		}
		e.marker(0xDB, p)
	}
	sof := byte(0xC0)
	if e.opts.Progressive {
		sof = 0xC2
	}
	p := []byte{8, byte(e.h >> 8), byte(e.h), byte(e.w >> 8), byte(e.w), byte(len(e.comps))}
	for _, c := range e.comps {
		p = append(p, c.id, byte(c.h<<4|c.v), byte(c.tq))
	}
	e.marker(sof, p)
	// DC tables are classes 0, AC tables class 1; luminance id 0, chrominance 1.
	for t := range tables {
		for _, cls := range []int{0, 1} {
			spec := &annexKHuffman[2*cls+t]
			p := []byte{byte(cls<<4 | t)}
			p = append(p, spec.counts[:]...)
			p = append(p, spec.values...)
			e.marker(0xC4, p)
		}
	}
	switch {
	case !e.opts.Progressive:
		e.scan(e.comps, 0, 63, 0, 0)
	default:
		al := 0
		if e.opts.SuccessiveApprox {
			al = 1
		}
		e.scan(e.comps, 0, 0, 0, al)
		for _, c := range e.comps {
			e.scan([]*jpegComponent{c}, 1, 5, 0, 0)
			e.scan([]*jpegComponent{c}, 6, 63, 0, 0)
		}
		if al > 0 {
			e.scan(e.comps, 0, 0, al, 0)
		}
	}
	e.marker(0xD9, nil)
	return e.out
}

// scan writes one scan: its header, then the entropy-coded data of the
// coefficients in zig-zag band ss..se, with successive approximation
// bit positions ah (0 for a first pass) and al.
func (e *jpegEncoder) scan(comps []*jpegComponent, ss, se, ah, al int) {
	ri := e.opts.RestartInterval
	if len(comps) == 1 && comps[0].h*comps[0].v > 1 {
		// In a non-interleaved scan T.81 counts restart intervals in blocks,
		// but some decoders (image/jpeg among them) count them in the
		// component's share of an interleaved MCU. The two agree only when
		// the scan has no restarts, so it gets none.
		ri = 0
	}
	if ri != e.declaredRI {
		e.marker(0xDD, binary.BigEndian.AppendUint16(nil, uint16(ri)))
		e.declaredRI = ri
	}
	p := []byte{byte(len(comps))}
	for _, c := range comps {
		p = append(p, c.id, byte(c.tdc<<4|c.tac))
		c.dcPred = 0
	}
	p = append(p, byte(ss), byte(se), byte(ah<<4|al))
	e.marker(0xDA, p)

	type pos struct {
		c      *jpegComponent
		bx, by int
	}
	var mcus [][]pos
	if len(comps) == 1 {
		// A single-component scan is non-interleaved: its MCU is one block,
		// and only the blocks covering the component's own extent are coded.
		c := comps[0]
		for by := range c.ownH {
			for bx := range c.ownW {
				mcus = append(mcus, []pos{{c, bx, by}})
			}
		}
	} else {
		for my := range e.mcuRows {
			for mx := range e.mcuCols {
				var m []pos
				for _, c := range comps {
					for j := range c.v {
						for i := range c.h {
							m = append(m, pos{c, mx*c.h + i, my*c.v + j})
						}
					}
				}
				mcus = append(mcus, m)
			}
		}
	}
	rst := 0
	for n, m := range mcus {
		for _, b := range m {
			e.block(b.c, b.c.coef[64*(b.by*b.c.bw+b.bx):][:64], ss, se, ah, al)
		}
		if ri > 0 && (n+1)%ri == 0 && n+1 < len(mcus) {
			e.flushBits()
			e.marker(0xD0+byte(rst%8), nil)
			rst++
			for _, c := range comps {
				c.dcPred = 0
			}
		}
	}
	e.flushBits()
}

// block codes one block's part of a scan.
func (e *jpegEncoder) block(c *jpegComponent, zz []int16, ss, se, ah, al int) {
	if ss == 0 {
		if ah > 0 {
			// DC refinement: the next bit down, sent raw (T.81 G.1.2.1).
			e.putBits(uint32(zz[0]>>al)&1, 1)
			return
		}
		// The DC point transform is an arithmetic shift (T.81 A.4).
		dc := int(zz[0]) >> al
		e.putValue(c.tdc, 0, dc-c.dcPred)
		c.dcPred = dc
		if se == 0 {
			return
		}
		ss = 1
	}
	acTable := 2 + c.tac
	run := 0
	for k := ss; k <= se; k++ {
		v := int(zz[k])
		if v == 0 {
			run++
			continue
		}
		for run >= 16 {
			e.putHuff(acTable, 0xF0)
			run -= 16
		}
		e.putValue(acTable, uint8(run<<4), v)
		run = 0
	}
	if run > 0 {
		e.putHuff(acTable, 0x00) // EOB (EOB0 in a progressive scan: a run of one block)
	}
}
