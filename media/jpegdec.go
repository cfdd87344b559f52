package media

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
)

// errFallback means the reduced decoder does not handle this JPEG (CMYK,
// arithmetic coding, 12-bit, unusual sampling, or progressive at a scale
// above 1/8); the caller decodes it fully with image/jpeg instead.
var errFallback = errors.New("media: JPEG needs the full decoder")

// jpegBufSize is the read buffer. Entropy data streams through it, so the
// file never has to be in memory at once.
const jpegBufSize = 64 << 10

// jpegComp is one frame component and its decoding state.
type jpegComp struct {
	id     byte
	h, v   int
	tq     byte
	td, ta byte
	// bw×bh are the blocks of the MCU-padded component; cbw×cbh the blocks
	// that hold image data, which is what a non-interleaved scan visits.
	bw, bh   int
	cbw, cbh int
	pred     int32
	// n is the side of a decoded block in samples. Subsampled chroma is
	// scaled less than luma where a reduced IDCT allows, so that it keeps
	// the output's resolution instead of being decimated twice.
	n int
	// plane holds the decoded samples, bw*n wide.
	plane []byte
	// dc holds progressive DC coefficients until the image is complete.
	dc   []int32
	done bool
}

type jpegDecoder struct {
	r      io.Reader
	buf    []byte
	pos    int
	end    int
	ioErr  error
	eof    bool
	record bool
	// recorded keeps every byte read before the frame header has been
	// judged, so that the full decoder can start over on a stream that
	// cannot be rewound.
	recorded []byte
	// overflow is set when more than maxRecorded bytes came before the frame
	// header: the recording is dropped, so a fallback can no longer replay.
	overflow bool
	// tables counts Huffman table definitions: each costs a table build, so
	// a file made of nothing else must not buy unbounded work.
	tables int
	// jfif and adobe (the APP14 transform, -1 when absent) decide, as for
	// image/jpeg, whether three components are YCbCr or RGB.
	jfif  bool
	adobe int

	// Entropy-coded data state.
	acc     uint64
	nbits   uint
	pad     uint
	dataEnd bool
	marker  byte

	qt     [4][64]int32
	qset   [4]bool
	dcTab  [4]huffTable
	acTab  [4]huffTable
	ri     int
	frame  bool
	prog   bool
	width  int
	height int
	comps  []jpegComp
	hmax   int
	vmax   int
	mcux   int
	mcuy   int
	scale  int
	n      int // samples per block side at the output scale: 8/scale
	blk    [64]int32
}

// jpegReduced is the result of a reduced decode.
type jpegReduced struct {
	img           image.Image
	width, height int // full size of the stored image
	scale         int
}

// decodeJPEGReduced decodes a JPEG at 1/scale, where pick chooses the scale
// (1, 2, 4 or 8) from the full size once the frame header is known. When it
// returns errFallback, replay yields the whole stream again from its start.
func decodeJPEGReduced(r io.Reader, maxPixels int64, pick func(w, h int) int) (res jpegReduced, replay io.Reader, err error) {
	d := &jpegDecoder{r: r, buf: make([]byte, jpegBufSize), record: true, adobe: -1}
	defer func() {
		if errors.Is(err, errFallback) && d.overflow {
			err = malformed("JPEG carries more than %d MiB before its frame header", maxRecorded>>20)
		}
		if errors.Is(err, errFallback) {
			replay = io.MultiReader(bytes.NewReader(d.recorded), r)
		}
		if d.ioErr != nil && !errors.Is(err, errFallback) {
			err = fmt.Errorf("media: reading JPEG: %w", d.ioErr)
		}
	}()
	img, err := d.decode(maxPixels, pick)
	if err != nil {
		return jpegReduced{}, nil, err
	}
	return jpegReduced{img: img, width: d.width, height: d.height, scale: d.scale}, nil, nil
}

// fill makes at least k bytes available at pos, reading as needed. It
// reports false when the input ends (or fails) first.
func (d *jpegDecoder) fill(k int) bool {
	if d.end-d.pos >= k {
		return true
	}
	if d.eof {
		return false
	}
	if d.pos > 0 {
		copy(d.buf, d.buf[d.pos:d.end])
		d.end -= d.pos
		d.pos = 0
	}
	empty := 0
	for d.end-d.pos < k {
		m, err := d.r.Read(d.buf[d.end:])
		if m > 0 && d.record {
			if len(d.recorded)+m > maxRecorded {
				d.record, d.recorded, d.overflow = false, nil, true
			} else {
				d.recorded = append(d.recorded, d.buf[d.end:d.end+m]...)
			}
		}
		d.end += m
		if err != nil {
			if err != io.EOF {
				d.ioErr = err
			}
			d.eof = true
			return d.end-d.pos >= k
		}
		if m == 0 {
			if empty++; empty > 100 {
				d.ioErr = io.ErrNoProgress
				d.eof = true
				return false
			}
		}
	}
	return true
}

var errJPEGCut = malformed("JPEG is truncated")

func (d *jpegDecoder) readByte() (byte, error) {
	if !d.fill(1) {
		return 0, errJPEGCut
	}
	b := d.buf[d.pos]
	d.pos++
	return b, nil
}

// readN returns the next n (<= len(buf)) bytes, valid until the next read.
func (d *jpegDecoder) readN(n int) ([]byte, error) {
	if !d.fill(n) {
		return nil, errJPEGCut
	}
	b := d.buf[d.pos : d.pos+n]
	d.pos += n
	return b, nil
}

func (d *jpegDecoder) skip(n int) error {
	for n > 0 {
		if !d.fill(1) {
			return errJPEGCut
		}
		k := min(n, d.end-d.pos)
		d.pos += k
		n -= k
	}
	return nil
}

// nextMarker returns the next marker, skipping fill bytes and, within a
// budget, garbage that some writers leave between segments.
func (d *jpegDecoder) nextMarker() (byte, error) {
	if m := d.marker; m != 0 {
		d.marker = 0
		return m, nil
	}
	junk := 0
	for {
		b, err := d.readByte()
		if err != nil {
			return 0, err
		}
		if b != 0xFF {
			if junk++; junk > maxJPEGJunk {
				return 0, malformed("JPEG has too much data between markers")
			}
			continue
		}
		for b == 0xFF {
			if b, err = d.readByte(); err != nil {
				return 0, err
			}
		}
		if b != 0 {
			return b, nil
		}
		if junk++; junk > maxJPEGJunk {
			return 0, malformed("JPEG has too much data between markers")
		}
	}
}

func (d *jpegDecoder) segmentLength() (int, error) {
	b, err := d.readN(2)
	if err != nil {
		return 0, err
	}
	n := int(b[0])<<8 | int(b[1])
	if n < 2 {
		return 0, malformed("JPEG segment length %d", n)
	}
	return n - 2, nil
}

func (d *jpegDecoder) decode(maxPixels int64, pick func(w, h int) int) (image.Image, error) {
	if b, err := d.readN(2); err != nil || b[0] != 0xFF || b[1] != 0xD8 {
		if err == nil {
			err = malformed("JPEG does not start with SOI")
		}
		return nil, err
	}
	for {
		m, err := d.nextMarker()
		if err != nil {
			return nil, err
		}
		switch {
		case m == 0xD9: // EOI
			return d.finish()
		case m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7):
			// Stand-alone markers outside a scan carry nothing.
		case m == 0xC4:
			err = d.readDHT()
		case m == 0xDB:
			err = d.readDQT()
		case m == 0xDD:
			err = d.readDRI()
		case m == 0xDA:
			if !d.frame {
				return nil, malformed("JPEG has scan data before its frame header")
			}
			err = d.readScan()
		case isSOF(m):
			if d.frame {
				return nil, malformed("JPEG has a second frame header")
			}
			err = d.readSOF(m, maxPixels, pick)
		case m == 0xE0 || m == 0xEE:
			err = d.readAPP(m)
		default:
			var n int
			if n, err = d.segmentLength(); err == nil {
				err = d.skip(n)
			}
		}
		if err != nil {
			return nil, err
		}
	}
}

// Bounds on what a file may make the decoder keep or redo.
const (
	// maxRecorded is how much may precede the frame header (metadata
	// segments): it is kept for a fallback's replay.
	maxRecorded = 16 << 20
	// maxHuffmanTables is far above the few dozen a progressive file with
	// per-scan tables defines.
	maxHuffmanTables = 1024
)

// readAPP reads an APP0 or APP14 segment for the colour-space hints in it
// (JFIF means YCbCr; Adobe's transform 0 means RGB) and skips the rest.
func (d *jpegDecoder) readAPP(m byte) error {
	n, err := d.segmentLength()
	if err != nil {
		return err
	}
	k := min(n, 12)
	b, err := d.readN(k)
	if err != nil {
		return err
	}
	switch {
	case m == 0xE0 && k >= 5 && string(b[:5]) == "JFIF\x00":
		d.jfif = true
	case m == 0xEE && k >= 12 && string(b[:5]) == "Adobe":
		d.adobe = int(b[11])
	}
	return d.skip(n - k)
}

func (d *jpegDecoder) readDHT() error {
	n, err := d.segmentLength()
	if err != nil {
		return err
	}
	for n > 0 {
		if n < 17 {
			return malformed("JPEG DHT segment is too short")
		}
		if d.tables++; d.tables > maxHuffmanTables {
			return malformed("JPEG defines more than %d Huffman tables", maxHuffmanTables)
		}
		b, err := d.readN(17)
		if err != nil {
			return err
		}
		class, id := b[0]>>4, b[0]&15
		if class > 1 || id > 3 {
			return malformed("JPEG DHT table %#02x", b[0])
		}
		var counts [16]byte
		copy(counts[:], b[1:17])
		total := 0
		for _, c := range counts {
			total += int(c)
		}
		n -= 17
		if total > 256 || total > n {
			return malformed("JPEG DHT table of %d codes", total)
		}
		syms, err := d.readN(total)
		if err != nil {
			return err
		}
		n -= total
		t := &d.dcTab[id]
		if class == 1 {
			t = &d.acTab[id]
		}
		if err := t.build(&counts, syms, class == 1); err != nil {
			return err
		}
	}
	return nil
}

func (d *jpegDecoder) readDQT() error {
	n, err := d.segmentLength()
	if err != nil {
		return err
	}
	for n > 0 {
		b, err := d.readByte()
		if err != nil {
			return err
		}
		n--
		prec, id := b>>4, b&15
		if prec > 1 || id > 3 {
			return malformed("JPEG DQT table %#02x", b)
		}
		size := 64 << prec
		if n < size {
			return malformed("JPEG DQT segment is too short")
		}
		q, err := d.readN(size)
		if err != nil {
			return err
		}
		n -= size
		for k := range 64 {
			if prec == 0 {
				d.qt[id][k] = int32(q[k])
			} else {
				d.qt[id][k] = int32(q[2*k])<<8 | int32(q[2*k+1])
			}
		}
		d.qset[id] = true
	}
	return nil
}

func (d *jpegDecoder) readDRI() error {
	n, err := d.segmentLength()
	if err != nil {
		return err
	}
	if n != 2 {
		return malformed("JPEG DRI segment of length %d", n+2)
	}
	b, err := d.readN(2)
	if err != nil {
		return err
	}
	d.ri = int(b[0])<<8 | int(b[1])
	return nil
}

func (d *jpegDecoder) readSOF(m byte, maxPixels int64, pick func(w, h int) int) error {
	n, err := d.segmentLength()
	if err != nil {
		return err
	}
	if n < 6 {
		return malformed("JPEG frame header of length %d", n+2)
	}
	b, err := d.readN(6)
	if err != nil {
		return err
	}
	prec := b[0]
	d.height = int(b[1])<<8 | int(b[2])
	d.width = int(b[3])<<8 | int(b[4])
	nc := int(b[5])
	if d.width == 0 || d.height == 0 {
		return malformed("JPEG frame is %dx%d", d.width, d.height)
	}
	if px := int64(d.width) * int64(d.height); px > maxPixels {
		return fmt.Errorf("%w: %dx%d is %d pixels, limit %d", ErrTooLarge, d.width, d.height, px, maxPixels)
	}
	if n != 6+3*nc {
		return malformed("JPEG frame header of length %d for %d components", n+2, nc)
	}
	switch {
	case m == 0xC0 || m == 0xC1:
	case m == 0xC2:
		d.prog = true
	default:
		return errFallback // lossless, hierarchical, arithmetic
	}
	if prec != 8 || (nc != 1 && nc != 3) {
		return errFallback
	}
	cb, err := d.readN(3 * nc)
	if err != nil {
		return err
	}
	d.comps = make([]jpegComp, nc)
	for i := range d.comps {
		c := &d.comps[i]
		c.id, c.h, c.v, c.tq = cb[3*i], int(cb[3*i+1]>>4), int(cb[3*i+1]&15), cb[3*i+2]
		if c.h < 1 || c.h > 2 || c.v < 1 || c.v > 2 || c.tq > 3 {
			return errFallback
		}
		for j := range i {
			if d.comps[j].id == c.id {
				return malformed("JPEG frame repeats component %d", c.id)
			}
		}
		d.hmax, d.vmax = max(d.hmax, c.h), max(d.vmax, c.v)
	}
	if nc == 3 && !d.jfif && (d.adobe == 0 || string([]byte{d.comps[0].id, d.comps[1].id, d.comps[2].id}) == "RGB") {
		// Stored as RGB, not YCbCr: rare enough to leave to image/jpeg.
		return errFallback
	}
	if nc == 1 {
		// A lone component is never interleaved; its sampling factors say
		// nothing about the block layout.
		d.comps[0].h, d.comps[0].v, d.hmax, d.vmax = 1, 1, 1, 1
	}
	d.scale = pick(d.width, d.height)
	if d.scale != 2 && d.scale != 4 && d.scale != 8 || d.prog && d.scale != 8 {
		return errFallback
	}
	d.n = 8 / d.scale
	d.frame = true
	d.record = false
	d.recorded = nil

	d.mcux = (d.width + 8*d.hmax - 1) / (8 * d.hmax)
	d.mcuy = (d.height + 8*d.vmax - 1) / (8 * d.vmax)
	for i := range d.comps {
		c := &d.comps[i]
		c.n = d.n
		if f := min(d.hmax/c.h, d.vmax/c.v); !d.prog && d.n*f <= 4 {
			c.n = d.n * f
		}
		c.bw, c.bh = d.mcux*c.h, d.mcuy*c.v
		cw := (d.width*c.h + d.hmax - 1) / d.hmax
		ch := (d.height*c.v + d.vmax - 1) / d.vmax
		c.cbw, c.cbh = (cw+7)/8, (ch+7)/8
		c.plane = make([]byte, c.bw*c.n*c.bh*c.n)
		if d.prog {
			c.dc = make([]int32, c.bw*c.bh)
		}
	}
	return nil
}

// readScan reads a scan header and its entropy-coded data.
func (d *jpegDecoder) readScan() error {
	n, err := d.segmentLength()
	if err != nil {
		return err
	}
	if n < 1 {
		return malformed("JPEG scan header is too short")
	}
	b, err := d.readN(n)
	if err != nil {
		return err
	}
	ns := int(b[0])
	if ns < 1 || ns > len(d.comps) || n != 4+2*ns {
		return malformed("JPEG scan header for %d components", ns)
	}
	var sc [3]*jpegComp
	for i := range ns {
		id, tabs := b[1+2*i], b[2+2*i]
		var c *jpegComp
		for j := range d.comps {
			if d.comps[j].id == id {
				c = &d.comps[j]
			}
		}
		if c == nil {
			return malformed("JPEG scan names unknown component %d", id)
		}
		for j := range i {
			if sc[j] == c {
				return malformed("JPEG scan repeats component %d", id)
			}
		}
		c.td, c.ta = tabs>>4, tabs&15
		if c.td > 3 || c.ta > 3 {
			return malformed("JPEG scan uses Huffman table %#02x", tabs)
		}
		sc[i] = c
	}
	ss, se := int(b[1+2*ns]), int(b[2+2*ns])
	ah, al := uint(b[3+2*ns]>>4), uint(b[3+2*ns]&15)
	comps := sc[:ns]
	if d.prog {
		if ss > 0 {
			if ns != 1 || se < ss || se > 63 {
				return malformed("JPEG progressive AC scan %d..%d over %d components", ss, se, ns)
			}
			return d.skipEntropy()
		}
		if se != 0 || al > 13 {
			return malformed("JPEG progressive DC scan %d..%d, Al %d", ss, se, al)
		}
		for _, c := range comps {
			if ah == 0 && !d.dcTab[c.td].defined {
				return malformed("JPEG scan uses an undefined Huffman table")
			}
		}
		err := d.scanMCUs(comps, func(c *jpegComp, bx, by int) error {
			i := by*c.bw + bx
			if ah != 0 {
				if d.nbits < 32 {
					d.refill()
				}
				if d.acc>>63 != 0 {
					c.dc[i] |= 1 << al
				}
				d.acc <<= 1
				d.nbits--
				return nil
			}
			if err := d.decodeDC(c); err != nil {
				return err
			}
			c.dc[i] = c.pred << al
			return nil
		})
		if err == nil && ah == 0 {
			markDone(comps)
		}
		return err
	}
	// A sequential scan's Ss, Se, Ah and Al carry nothing; libjpeg warns about
	// odd values and decodes the scan anyway, and so do we.
	for _, c := range comps {
		if c.done {
			// Each component is coded in exactly one sequential scan; a repeat
			// would only buy another pass over the whole image.
			return malformed("JPEG repeats component %d in a second sequential scan", c.id)
		}
		if !d.dcTab[c.td].defined || !d.acTab[c.ta].defined {
			return malformed("JPEG scan uses an undefined Huffman table")
		}
		if !d.qset[c.tq] {
			return malformed("JPEG component uses an undefined quantization table")
		}
	}
	defer markDone(comps)
	return d.scanMCUs(comps, func(c *jpegComp, bx, by int) error {
		if err := d.decodeDC(c); err != nil {
			return err
		}
		if c.n == 1 {
			c.plane[by*c.bw+bx] = dcSample(c.pred, d.qt[c.tq][0])
			return d.skipAC(&d.acTab[c.ta], 1)
		}
		kmax := 4 // the last zig-zag index inside the top-left 2×2
		if c.n == 4 {
			kmax = 24 // and inside 4×4
		}
		q := &d.qt[c.tq]
		d.blk[0] = c.pred * q[0]
		if err := d.decodeAC(&d.acTab[c.ta], q, &d.blk, kmax); err != nil {
			return err
		}
		stride := c.bw * c.n
		out := c.plane[by*c.n*stride+bx*c.n:]
		if c.n == 4 {
			idct4(&d.blk, out, stride)
		} else {
			idct2(&d.blk, out, stride)
		}
		d.blk = [64]int32{}
		return nil
	})
}

// dcSample is the mean of a block from its DC coefficient: DC*q/8, rounded,
// level-shifted and clamped.
func dcSample(dc, q int32) byte {
	v := (int64(dc)*int64(q)+4)>>3 + 128
	return clamp8(v)
}

func clamp8(v int64) byte {
	if uint64(v) > 255 {
		if v < 0 {
			return 0
		}
		return 255
	}
	return byte(v)
}

// scanMCUs walks the MCUs of a scan, calling block for every block in
// order, and handles restart markers and the end of the data.
func (d *jpegDecoder) scanMCUs(comps []*jpegComp, block func(c *jpegComp, bx, by int) error) error {
	d.resetBits()
	for _, c := range comps {
		c.pred = 0
	}
	mx, my := d.mcux, d.mcuy
	if len(comps) == 1 {
		mx, my = comps[0].cbw, comps[0].cbh
	}
	total := mx * my
	count := 0
	rst := 0
	for y := range my {
		for x := range mx {
			if len(comps) == 1 {
				if err := block(comps[0], x, y); err != nil {
					return err
				}
			} else {
				for _, c := range comps {
					for j := range c.v {
						for i := range c.h {
							if err := block(c, x*c.h+i, y*c.v+j); err != nil {
								return err
							}
						}
					}
				}
			}
			count++
			if d.ri > 0 && count%d.ri == 0 && count < total {
				if d.overrun() {
					return errJPEGCut
				}
				d.resetBits()
				m, err := d.nextMarker()
				if err != nil {
					return err
				}
				if m != 0xD0+byte(rst) {
					return malformed("JPEG expected RST%d, found marker %#02x", rst, m)
				}
				rst = (rst + 1) & 7
				for _, c := range comps {
					c.pred = 0
				}
			}
		}
		if d.overrun() {
			return errJPEGCut
		}
	}
	d.resetBits()
	return nil
}

func markDone(comps []*jpegComp) {
	for _, c := range comps {
		c.done = true
	}
}

// skipEntropy passes over entropy-coded data that is not needed, up to the
// next marker other than RSTn.
func (d *jpegDecoder) skipEntropy() error {
	for {
		if !d.fill(2) {
			return errJPEGCut
		}
		i := bytes.IndexByte(d.buf[d.pos:d.end-1], 0xFF)
		if i < 0 {
			d.pos = d.end - 1
			continue
		}
		d.pos += i
		nb := d.buf[d.pos+1]
		switch {
		case nb == 0 || (nb >= 0xD0 && nb <= 0xD7):
			d.pos += 2
		case nb == 0xFF:
			d.pos++
		default:
			d.pos += 2
			d.marker = nb
			return nil
		}
	}
}

// finish checks that every component was decoded and builds the image.
func (d *jpegDecoder) finish() (image.Image, error) {
	if !d.frame {
		return nil, malformed("JPEG has no frame header")
	}
	for i := range d.comps {
		c := &d.comps[i]
		if !c.done {
			return nil, malformed("JPEG has no scan for component %d", c.id)
		}
		if d.prog {
			if !d.qset[c.tq] {
				return nil, malformed("JPEG component uses an undefined quantization table")
			}
			q := d.qt[c.tq][0]
			for j, v := range c.dc {
				c.plane[j] = dcSample(v, q)
			}
			c.dc = nil
		}
	}
	ow := (d.width + d.scale - 1) / d.scale
	oh := (d.height + d.scale - 1) / d.scale
	rect := image.Rect(0, 0, ow, oh)
	y := &d.comps[0]
	ys := y.bw * y.n
	if len(d.comps) == 1 {
		return &image.Gray{Pix: y.plane, Stride: ys, Rect: rect}, nil
	}
	cb, cr := &d.comps[1], &d.comps[2]
	// Luma samples per chroma sample, per MCU, across and down.
	if cb.h == cr.h && cb.v == cr.v && cb.n == cr.n && y.h == d.hmax && y.v == d.vmax &&
		y.h*y.n%(cb.h*cb.n) == 0 && y.v*y.n%(cb.v*cb.n) == 0 {
		var ratio image.YCbCrSubsampleRatio = -1
		switch [2]int{y.h * y.n / (cb.h * cb.n), y.v * y.n / (cb.v * cb.n)} {
		case [2]int{1, 1}:
			ratio = image.YCbCrSubsampleRatio444
		case [2]int{2, 1}:
			ratio = image.YCbCrSubsampleRatio422
		case [2]int{2, 2}:
			ratio = image.YCbCrSubsampleRatio420
		case [2]int{1, 2}:
			ratio = image.YCbCrSubsampleRatio440
		}
		if ratio >= 0 {
			return &image.YCbCr{
				Y: y.plane, Cb: cb.plane, Cr: cr.plane,
				YStride: ys, CStride: cb.bw * cb.n,
				SubsampleRatio: ratio, Rect: rect,
			}, nil
		}
	}
	// Sampling that image.YCbCr cannot describe: convert, taking each
	// component's sample at its own resolution.
	out := image.NewRGBA(rect)
	for py := range oh {
		row := out.Pix[py*out.Stride:]
		for px := range ow {
			var s [3]byte
			for i := range 3 {
				c := &d.comps[i]
				sx, sy := px*c.h*c.n/(d.hmax*d.n), py*c.v*c.n/(d.vmax*d.n)
				s[i] = c.plane[sy*c.bw*c.n+sx]
			}
			r, g, b := color.YCbCrToRGB(s[0], s[1], s[2])
			row[4*px], row[4*px+1], row[4*px+2], row[4*px+3] = r, g, b, 255
		}
	}
	return out, nil
}
