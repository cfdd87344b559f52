package media

import "math"

// Reduced inverse DCTs: an 8×8 block of coefficients becomes n×n samples by
// evaluating only the n×n lowest frequencies at the centres of n×n groups of
// pixels, the way libjpeg scales while decoding. It costs a fraction of a
// full IDCT and filters better than decimating one.

// idctBits is the fixed-point precision of each of the two passes.
const idctBits = 12

// idctM2 and idctM4 hold C(u)/2·cos((2x+1)uπ/2n) for n = 2 and 4, so that a
// pass is out[x] = Σ in[u]·m[x][u]. Two passes give the 1/4 normalisation of
// the 2-D transform, and a DC coefficient alone yields DC/8 as in 8×8.
var idctM2, idctM4 = idctMatrix(2), idctMatrix(4)

func idctMatrix(n int) [4][4]int64 {
	var m [4][4]int64
	for x := range n {
		for u := range n {
			c := 1.0
			if u == 0 {
				c = 1 / math.Sqrt2
			}
			v := c / 2 * math.Cos(float64((2*x+1)*u)*math.Pi/float64(2*n))
			m[x][u] = int64(math.Round(v * (1 << idctBits)))
		}
	}
	return m
}

// idct4 writes the 4×4 samples of blk (dequantized, natural order) to out.
func idct4(blk *[64]int32, out []byte, stride int) {
	_ = out[3*stride+3]
	var tmp [4][4]int64
	for v := range 4 {
		r := blk[8*v : 8*v+4 : 8*v+4]
		a, b, c, e := int64(r[0]), int64(r[1]), int64(r[2]), int64(r[3])
		for x := range 4 {
			m := &idctM4[x]
			tmp[v][x] = a*m[0] + b*m[1] + c*m[2] + e*m[3]
		}
	}
	const round = 1 << (2*idctBits - 1)
	for y := range 4 {
		m := &idctM4[y]
		o := out[y*stride : y*stride+4 : y*stride+4]
		for x := range 4 {
			s := tmp[0][x]*m[0] + tmp[1][x]*m[1] + tmp[2][x]*m[2] + tmp[3][x]*m[3]
			o[x] = clamp8((s+round)>>(2*idctBits) + 128)
		}
	}
}

// idct2 writes the 2×2 samples of blk to out.
func idct2(blk *[64]int32, out []byte, stride int) {
	_ = out[stride+1]
	m := &idctM2
	var tmp [2][2]int64
	for v := range 2 {
		a, b := int64(blk[8*v]), int64(blk[8*v+1])
		tmp[v][0] = a*m[0][0] + b*m[0][1]
		tmp[v][1] = a*m[1][0] + b*m[1][1]
	}
	const round = 1 << (2*idctBits - 1)
	for y := range 2 {
		for x := range 2 {
			s := tmp[0][x]*m[y][0] + tmp[1][x]*m[y][1]
			out[y*stride+x] = clamp8((s+round)>>(2*idctBits) + 128)
		}
	}
}
