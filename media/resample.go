package media

import (
	"image"
	"image/color"
	"math"

	"golang.org/x/image/draw"
)

// lanczos3 is the Lanczos kernel with three lobes: sharp without the
// ringing of wider windows, the usual choice for photographic downscaling.
func lanczos3(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x >= 3 {
		return 0
	}
	if x < 1e-9 {
		return 1
	}
	px := math.Pi * x
	return 3 * math.Sin(px) * math.Sin(px/3) / (px * px)
}

// filterWeights are the precomputed taps of a 1-D resampling: output i reads
// source samples first[i] .. first[i]+count[i]-1 with weights
// w[i*taps : i*taps+count[i]].
type filterWeights struct {
	first, count []int
	w            []float32
	taps         int
}

// lanczosWeights maps srcN samples that span extent source units (extent
// can be a little less than srcN when the last sample is a partial block)
// onto dstN samples. Taps that fall outside the source are folded onto the
// edge sample, and every set of weights sums to one, so flat areas stay
// flat up to the border.
func lanczosWeights(dstN, srcN int, extent float64) filterWeights {
	scale := extent / float64(dstN)
	support := 3 * max(scale, 1)
	fs := max(scale, 1)
	taps := int(math.Ceil(2*support)) + 2
	fw := filterWeights{
		first: make([]int, dstN),
		count: make([]int, dstN),
		w:     make([]float32, dstN*taps),
		taps:  taps,
	}
	tmp := make([]float64, taps)
	for i := range dstN {
		c := (float64(i) + 0.5) * scale
		lo := int(math.Ceil(c - 0.5 - support))
		hi := int(math.Floor(c - 0.5 + support))
		a := min(max(lo, 0), srcN-1)
		b := min(max(hi, 0), srcN-1)
		if b-a+1 > taps {
			b = a + taps - 1
		}
		clear(tmp)
		sum := 0.0
		for j := lo; j <= hi; j++ {
			wt := lanczos3((float64(j) + 0.5 - c) / fs)
			k := min(max(j, a), b) - a
			tmp[k] += wt
			sum += wt
		}
		if sum == 0 {
			clear(tmp)
			tmp[0], sum = 1, 1
		}
		fw.first[i], fw.count[i] = a, b-a+1
		for k := range b - a + 1 {
			fw.w[i*taps+k] = float32(tmp[k] / sum)
		}
	}
	return fw
}

// plane is an 8-bit image channel set: ch interleaved channels per pixel.
type plane struct {
	pix       []byte
	stride    int
	w, h, ch  int
	extX, ext float64 // extent in source samples (width, height)
}

// resamplePlane scales src to dst (whose w, h, ch and stride are set) with
// Lanczos3, first along rows, then along columns through a float buffer of
// src.h rows, so each source sample is read once per output column it
// feeds.
func resamplePlane(dst, src plane) {
	ch := src.ch
	hw := lanczosWeights(dst.w, src.w, src.extX)
	vw := lanczosWeights(dst.h, src.h, src.ext)
	rowLen := dst.w * ch
	tmp := make([]float32, src.h*rowLen)
	for y := range src.h {
		s := src.pix[y*src.stride : y*src.stride+src.w*ch]
		t := tmp[y*rowLen : (y+1)*rowLen]
		for i := range dst.w {
			f, n := hw.first[i], hw.count[i]
			w := hw.w[i*hw.taps : i*hw.taps+n]
			if ch == 1 {
				ss := s[f : f+n]
				var a float32
				for k, wt := range w {
					a += float32(ss[k]) * wt
				}
				t[i] = a
				continue
			}
			ss := s[f*4 : (f+n)*4]
			var a0, a1, a2, a3 float32
			for k, wt := range w {
				p := ss[4*k : 4*k+4 : 4*k+4]
				a0 += float32(p[0]) * wt
				a1 += float32(p[1]) * wt
				a2 += float32(p[2]) * wt
				a3 += float32(p[3]) * wt
			}
			t[4*i], t[4*i+1], t[4*i+2], t[4*i+3] = a0, a1, a2, a3
		}
	}
	acc := make([]float32, rowLen)
	for j := range dst.h {
		clear(acc)
		f, n := vw.first[j], vw.count[j]
		for k, wt := range vw.w[j*vw.taps : j*vw.taps+n] {
			row := tmp[(f+k)*rowLen : (f+k+1)*rowLen]
			for x, v := range row {
				acc[x] += v * wt
			}
		}
		out := dst.pix[j*dst.stride : j*dst.stride+rowLen]
		for x, v := range acc {
			out[x] = round8(v)
		}
		if ch == 4 {
			// Ringing can push a premultiplied colour above its alpha,
			// which is not a colour at all.
			for x := 0; x < rowLen; x += 4 {
				a := out[x+3]
				out[x] = min(out[x], a)
				out[x+1] = min(out[x+1], a)
				out[x+2] = min(out[x+2], a)
			}
		}
	}
}

func round8(v float32) byte {
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return byte(v + 0.5)
}

// resample scales img to w×h with Lanczos3. extX×extY is the extent of img
// in its own pixels, which is a little less than its size when the last
// column or row of a reduced JPEG decode stands for a partial block.
// Gray and YCbCr images are resampled plane by plane (chroma at its own
// resolution) and only the small result is converted; anything else goes
// through premultiplied RGBA, so transparent pixels do not bleed colour.
func resample(img image.Image, w, h int, extX, extY float64) image.Image {
	b := img.Bounds()
	switch m := img.(type) {
	case *image.Gray:
		dst := image.NewGray(image.Rect(0, 0, w, h))
		resamplePlane(plane{pix: dst.Pix, stride: dst.Stride, w: w, h: h, ch: 1},
			plane{pix: m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], stride: m.Stride, w: b.Dx(), h: b.Dy(), ch: 1, extX: extX, ext: extY})
		return dst
	case *image.YCbCr:
		if b.Min != (image.Point{}) {
			break
		}
		dst := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio444)
		resamplePlane(plane{pix: dst.Y, stride: dst.YStride, w: w, h: h, ch: 1},
			plane{pix: m.Y, stride: m.YStride, w: b.Dx(), h: b.Dy(), ch: 1, extX: extX, ext: extY})
		cw, chh := 1, 1 // chroma subsampling factors
		switch m.SubsampleRatio {
		case image.YCbCrSubsampleRatio422:
			cw = 2
		case image.YCbCrSubsampleRatio420:
			cw, chh = 2, 2
		case image.YCbCrSubsampleRatio440:
			chh = 2
		case image.YCbCrSubsampleRatio411:
			cw = 4
		case image.YCbCrSubsampleRatio410:
			cw, chh = 4, 2
		}
		csw, csh := (b.Dx()+cw-1)/cw, (b.Dy()+chh-1)/chh
		for _, p := range [][2][]byte{{dst.Cb, m.Cb}, {dst.Cr, m.Cr}} {
			resamplePlane(plane{pix: p[0], stride: dst.CStride, w: w, h: h, ch: 1},
				plane{pix: p[1], stride: m.CStride, w: csw, h: csh, ch: 1, extX: extX / float64(cw), ext: extY / float64(chh)})
		}
		return ycbcrToRGBA(dst)
	}
	src, ok := img.(*image.RGBA)
	if !ok || b.Min != (image.Point{}) {
		src = image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(src, src.Bounds(), img, b.Min, draw.Src)
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	resamplePlane(plane{pix: dst.Pix, stride: dst.Stride, w: w, h: h, ch: 4},
		plane{pix: src.Pix, stride: src.Stride, w: b.Dx(), h: b.Dy(), ch: 4, extX: extX, ext: extY})
	return dst
}

// ycbcrToRGBA converts a 4:4:4 image whose origin is 0,0.
func ycbcrToRGBA(m *image.YCbCr) *image.RGBA {
	b := m.Bounds()
	out := image.NewRGBA(b)
	for y := range b.Dy() {
		yr := m.Y[y*m.YStride : y*m.YStride+b.Dx()]
		cb := m.Cb[y*m.CStride : y*m.CStride+b.Dx()]
		cr := m.Cr[y*m.CStride : y*m.CStride+b.Dx()]
		o := out.Pix[y*out.Stride : y*out.Stride+4*b.Dx()]
		for x := range yr {
			r, g, bl := color.YCbCrToRGB(yr[x], cb[x], cr[x])
			o[4*x], o[4*x+1], o[4*x+2], o[4*x+3] = r, g, bl, 255
		}
	}
	return out
}
