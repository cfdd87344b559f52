package media

import "encoding/binary"

// lookBits is the width of the Huffman lookahead. Almost every code in a
// photographic JPEG is resolved by one table access at this width; the
// combined skip table also needs room for the magnitude bits, which is why it
// is wider than the usual eight or nine.
const lookBits = 11

// huffTable is one decoded DHT table. look maps the next lookBits bits to
// code length<<8 | symbol (0 when the code is longer, or invalid). skip is
// for AC tables whose coefficients are only counted, not kept: it maps the
// next bits to the total bits to drop (code plus magnitude) and how far the
// coefficient index moves, so a whole run/size symbol costs one lookup.
type huffTable struct {
	defined bool
	look    [1 << lookBits]uint16
	skip    [1 << lookBits]uint16
	// Canonical-code bounds for codes longer than lookBits.
	maxcode [18]int32
	valptr  [17]int32
	mincode [17]int32
	vals    [256]byte
}

// skipEOB marks an end-of-block in huffTable.skip: it moves the coefficient
// index past the end of the block.
const skipEOB = 64

// build fills t from the 16 code-length counts and the symbols of a DHT
// table. It rejects sets of lengths that overflow the code space, which
// would otherwise produce overlapping codes.
func (t *huffTable) build(counts *[16]byte, syms []byte, ac bool) error {
	*t = huffTable{}
	copy(t.vals[:], syms)
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		t.valptr[l] = k
		t.mincode[l] = code
		if n == 0 {
			t.maxcode[l] = -1
		} else {
			if code+n > 1<<l {
				return malformed("JPEG Huffman table overflows its code space")
			}
			for i := range n {
				c := code + i
				if l <= lookBits {
					sym := t.vals[k+i]
					shift := lookBits - l
					lo, hi := c<<shift, (c+1)<<shift
					for j := lo; j < hi; j++ {
						t.look[j] = uint16(l)<<8 | uint16(sym)
					}
				}
			}
			t.maxcode[l] = code + n - 1
		}
		code = (code + n) << 1
		k += n
	}
	t.maxcode[17] = 1 << 30 // sentinel: past 16 bits nothing matches
	if ac {
		for j, e := range t.look {
			l := int(e >> 8)
			if l == 0 {
				continue
			}
			sym := byte(e)
			r, s := int(sym>>4), int(sym&15)
			switch {
			case s == 0 && r == 15:
				t.skip[j] = uint16(l) | 16<<8
			case s == 0:
				// End of block; a run of 1..14 without a size means nothing in
				// a sequential scan, and libjpeg ends the block there too.
				t.skip[j] = uint16(l) | skipEOB<<8
			case l+s <= lookBits:
				t.skip[j] = uint16(l+s) | uint16(r+1)<<8
			}
		}
	}
	t.defined = true
	return nil
}

// hasFF reports whether any byte of w is 0xFF, by looking for a zero byte
// in its complement.
func hasFF(w uint64) bool {
	x := ^w
	return (x-0x0101010101010101)&^x&0x8080808080808080 != 0
}

// refill tops the bit buffer up to at least 57 bits. Entropy data ends at a
// marker or at the end of the input; past that, zero bits are supplied and
// counted in pad, so that decoding can tell afterwards whether it consumed
// data that was not there (a truncated or damaged scan).
func (d *jpegDecoder) refill() {
	for d.nbits <= 56 {
		if d.marker == 0 && !d.dataEnd {
			if d.pos+8 <= d.end {
				w := binary.BigEndian.Uint64(d.buf[d.pos:])
				if !hasFF(w) {
					k := (64 - d.nbits) / 8
					d.acc |= (w >> (64 - 8*k)) << (64 - d.nbits - 8*k)
					d.nbits += 8 * k
					d.pos += int(k)
					continue
				}
			}
			if d.pos >= d.end && !d.fill(1) {
				d.dataEnd = true
				continue
			}
			b := d.buf[d.pos]
			if b != 0xFF {
				d.pos++
				d.acc |= uint64(b) << (56 - d.nbits)
				d.nbits += 8
				continue
			}
			if d.pos+1 >= d.end && !d.fill(2) {
				d.dataEnd = true
				continue
			}
			switch nb := d.buf[d.pos+1]; {
			case nb == 0x00:
				d.pos += 2
				d.acc |= uint64(0xFF) << (56 - d.nbits)
				d.nbits += 8
			case nb == 0xFF:
				d.pos++ // fill byte: the next 0xFF is looked at again
			default:
				d.marker = nb
				d.pos += 2
			}
			continue
		}
		d.nbits += 8
		d.pad += 8
	}
}

// overrun reports whether decoding has used bits that were only padding.
func (d *jpegDecoder) overrun() bool {
	return d.nbits < d.pad
}

// resetBits drops what is left of the bit buffer at the end of a scan or
// restart interval, where the encoder padded to a byte boundary.
func (d *jpegDecoder) resetBits() {
	d.acc, d.nbits, d.pad = 0, 0, 0
	d.dataEnd = false
}

// slowSymbol decodes a code longer than the lookahead, or reports an
// invalid one with ok false.
func (t *huffTable) slowSymbol(acc uint64) (sym byte, length uint, ok bool) {
	for l := lookBits + 1; l <= 16; l++ {
		c := int32(acc >> (64 - l))
		if c <= t.maxcode[l] {
			i := t.valptr[l] + c - t.mincode[l]
			if i < 0 || i >= 256 {
				return 0, 0, false
			}
			return t.vals[i], uint(l), true
		}
	}
	return 0, 0, false
}

var errBadCode = malformed("JPEG has an invalid Huffman code")

// decodeSym reads one Huffman symbol. The caller guarantees 32 bits in the
// buffer.
func (d *jpegDecoder) decodeSym(t *huffTable) (byte, error) {
	e := t.look[d.acc>>(64-lookBits)]
	if e != 0 {
		l := uint(e >> 8)
		d.acc <<= l
		d.nbits -= l
		return byte(e), nil
	}
	sym, l, ok := t.slowSymbol(d.acc)
	if !ok {
		return 0, errBadCode
	}
	d.acc <<= l
	d.nbits -= l
	return sym, nil
}

// receive reads s magnitude bits and extends them to a signed value, as
// in the standard's EXTEND procedure.
func (d *jpegDecoder) receive(s uint) int32 {
	if s == 0 {
		return 0
	}
	v := int32(d.acc >> (64 - s))
	d.acc <<= s
	d.nbits -= s
	if v < 1<<(s-1) {
		v -= 1<<s - 1
	}
	return v
}

// decodeDC reads a DC difference into the component's predictor.
func (d *jpegDecoder) decodeDC(c *jpegComp) error {
	if d.nbits < 32 {
		d.refill()
	}
	s, err := d.decodeSym(&d.dcTab[c.td])
	if err != nil {
		return err
	}
	if s > 16 {
		return malformed("JPEG DC magnitude of %d bits", s)
	}
	c.pred += d.receive(uint(s))
	return nil
}

// skipAC walks the AC coefficients from index k to the end of the block
// without keeping them.
func (d *jpegDecoder) skipAC(t *huffTable, k int) error {
	acc, nbits := d.acc, d.nbits
	for k < 64 {
		if nbits < 32 {
			d.acc, d.nbits = acc, nbits
			d.refill()
			acc, nbits = d.acc, d.nbits
		}
		if e := t.skip[acc>>(64-lookBits)]; e != 0 {
			l := uint(e & 0xFF)
			acc <<= l
			nbits -= l
			k += int(e >> 8)
			continue
		}
		var sym byte
		var l uint
		if e := t.look[acc>>(64-lookBits)]; e != 0 {
			sym, l = byte(e), uint(e>>8)
		} else {
			var ok bool
			if sym, l, ok = t.slowSymbol(acc); !ok {
				d.acc, d.nbits = acc, nbits
				return errBadCode
			}
		}
		acc <<= l
		nbits -= l
		r, s := int(sym>>4), uint(sym&15)
		if s == 0 {
			if r == 15 {
				k += 16
				continue
			}
			// Run 1..14 with no size is meaningless in a sequential scan;
			// libjpeg takes it for end of block, as does this.
			break
		}
		acc <<= s
		nbits -= s
		k += r + 1
	}
	d.acc, d.nbits = acc, nbits
	return nil
}

// decodeAC reads the AC coefficients of a block, keeping (dequantized, in
// natural order) only those with a zig-zag index up to kmax, which are all
// a reduced IDCT looks at; the rest are skipped.
func (d *jpegDecoder) decodeAC(t *huffTable, q *[64]int32, blk *[64]int32, kmax int) error {
	k := 1
	for k <= kmax {
		if d.nbits < 32 {
			d.refill()
		}
		sym, err := d.decodeSym(t)
		if err != nil {
			return err
		}
		r, s := int(sym>>4), uint(sym&15)
		if s == 0 {
			if r == 15 {
				k += 16
				continue
			}
			return nil // end of block (run 1..14 without a size counts as one too)
		}
		k += r
		v := d.receive(s)
		if k < 64 {
			blk[unzig[k]] = v * q[k]
		}
		k++
	}
	if k < 64 {
		return d.skipAC(t, k)
	}
	return nil
}

// unzig maps zig-zag order to natural (row-major) order.
var unzig = [64]int{
	0, 1, 8, 16, 9, 2, 3, 10,
	17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34,
	27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36,
	29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46,
	53, 60, 61, 54, 47, 55, 62, 63,
}
