package vision

import "math"

// sceneLabels computes the scene hints. Their ceilings stay at or under 90 because each
// is a guess from colour and layout alone; see the package documentation for the limits.
func sceneLabels(g *grid) map[string]float64 {
	text := textConfidence(g)
	out := map[string]float64{
		LabelSky:    skyConfidence(g),
		LabelPlant:  vegetationConfidence(g),
		LabelSunset: sunsetConfidence(g),
		// A page of text is mostly bright neutral cells too; it is not snow.
		LabelSnow: snowConfidence(g) * (1 - text/100),
		LabelText: text,
	}
	if text > 0 {
		out[LabelDocument] = text * ramp(pageShare(g), 0.45, 0.8, 0.8, 1)
	}
	return out
}

// meanY is the mean luma of rows [y0, y1).
func meanY(g *grid, y0, y1 int) float64 {
	var sum float64
	for i := y0 * g.w; i < y1*g.w; i++ {
		sum += g.cells[i].y
	}
	return sum / float64(max(1, (y1-y0)*g.w))
}

// smooth reports whether the cell differs little from its right and lower neighbours:
// sky is smooth at grid scale, foliage, fabric and text are not.
func smooth(g *grid, x, y int) bool {
	c := g.at(x, y)
	var d float64
	if x+1 < g.w {
		d += math.Abs(c.y - g.at(x+1, y).y)
	}
	if y+1 < g.h {
		d += math.Abs(c.y - g.at(x, y+1).y)
	}
	return d < 0.08
}

func skyConfidence(g *grid) float64 {
	top := max(1, g.h/3)
	var blue, grey int
	for y := range top {
		for x := range g.w {
			c := g.at(x, y)
			if !smooth(g, x, y) {
				continue
			}
			switch {
			case c.h >= 180 && c.h < 255 && c.s >= 0.1 && c.v >= 0.35 && !c.achromatic():
				blue++
			case c.achromatic() && c.v >= 0.7:
				grey++
			}
		}
	}
	n := float64(top * g.w)
	blueF, greyF := float64(blue)/n, float64(grey)/n
	conf := ramp(blueF+0.5*greyF, 0.25, 40, 0.85, 90)
	if blueF < 0.1 {
		// Smooth bright grey at the top is as often a wall or a page as an overcast sky.
		conf *= 0.6
	}
	if meanY(g, 0, top) <= meanY(g, g.h-top, g.h) {
		// Daylight skies are usually brighter than the ground below them.
		conf *= 0.8
	}
	return conf
}

func vegetationConfidence(g *grid) float64 {
	n := 0
	for i := range g.cells {
		c := &g.cells[i]
		if c.h >= 65 && c.h < 160 && c.s >= 0.2 && c.v >= 0.1 && c.v <= 0.9 && !c.achromatic() {
			n++
		}
	}
	return ramp(float64(n)/float64(len(g.cells)), 0.08, 40, 0.5, 90)
}

// warmShare is the share of saturated warm (red to orange) cells in rows [y0, y1).
func warmShare(g *grid, y0, y1 int) float64 {
	n := 0
	for i := y0 * g.w; i < y1*g.w; i++ {
		c := &g.cells[i]
		if (c.h < 50 || c.h >= 330) && c.s >= 0.45 && c.v >= 0.4 {
			n++
		}
	}
	return float64(n) / float64(max(1, (y1-y0)*g.w))
}

func sunsetConfidence(g *grid) float64 {
	half := max(1, g.h/2)
	upper := warmShare(g, 0, half)
	conf := ramp(upper, 0.2, 40, 0.7, 85)
	if warmShare(g, half, g.h) >= upper {
		// Warm everywhere is a warm object or light, not a warm sky over darker ground.
		conf *= 0.45
	}
	return conf
}

func snowConfidence(g *grid) float64 {
	n := 0
	for i := range g.cells {
		c := &g.cells[i]
		// Snow in shade is faintly blue, so allow a little blue saturation.
		if c.v >= 0.78 && (c.achromatic() || (c.h >= 180 && c.h < 250 && c.s < 0.2)) {
			n++
		}
	}
	return ramp(float64(n)/float64(len(g.cells)), 0.35, 40, 0.85, 85)
}

// paperLevel is the luma of the page: the 90th percentile, so dark print does not drag it.
func paperLevel(g *grid) float64 {
	var hist [256]int
	for i := range g.cells {
		hist[min(255, int(g.cells[i].y*255))]++
	}
	want := len(g.cells) / 10
	seen := 0
	for v := 255; v >= 0; v-- {
		seen += hist[v]
		if seen > want {
			return float64(v) / 255
		}
	}
	return 0
}

// pageShare is the share of near-neutral cells at the paper's brightness.
func pageShare(g *grid) float64 {
	paper := paperLevel(g)
	n := 0
	for i := range g.cells {
		c := &g.cells[i]
		if c.y >= paper-0.1 && c.chroma < 0.12 {
			n++
		}
	}
	return float64(n) / float64(len(g.cells))
}

// bands counts runs of consecutive "inked" lines (rows, or columns when byCols) separated
// by clean ones: lines of print on a page make many, a photo's dark object one or two.
func bands(g *grid, ink []bool, byCols bool) int {
	lines, span := g.h, g.w
	if byCols {
		lines, span = g.w, g.h
	}
	count, inBand := 0, false
	for l := range lines {
		n := 0
		for k := range span {
			i := l*g.w + k
			if byCols {
				i = k*g.w + l
			}
			if ink[i] {
				n++
			}
		}
		inked := float64(n) >= 0.05*float64(span)
		if inked && !inBand {
			count++
		}
		inBand = inked
	}
	return count
}

func textConfidence(g *grid) float64 {
	paper := paperLevel(g)
	if paper < 0.75 || g.h < 8 || g.w < 8 {
		return 0
	}
	share := pageShare(g)
	if share < 0.45 {
		return 0
	}
	ink := make([]bool, len(g.cells))
	inked := 0
	for i := range g.cells {
		c := &g.cells[i]
		if c.y <= paper-0.2 && c.chroma < 0.25 {
			ink[i] = true
			inked++
		}
	}
	if f := float64(inked) / float64(len(g.cells)); f < 0.01 || f > 0.4 {
		return 0
	}
	lines := max(bands(g, ink, false), bands(g, ink, true))
	if lines < 3 {
		return 0
	}
	return ramp(float64(lines), 3, 45, 8, 85)
}

// skinScore is the moderation measure: the share of skin-tone cells averaged with the
// share of the largest 4-connected skin region.
func skinScore(g *grid) float64 {
	skin := make([]bool, len(g.cells))
	total := 0
	for i := range g.cells {
		if isSkin(&g.cells[i]) {
			skin[i] = true
			total++
		}
	}
	if total == 0 {
		return 0
	}
	n := float64(len(g.cells))
	return 0.5*float64(total)/n + 0.5*float64(largestRegion(g, skin))/n
}

// isSkin applies the YCbCr rule of Chai and Ngan (1999) and an HSV sanity check that
// removes the greys and saturated reds the chroma box alone lets through.
func isSkin(c *cell) bool {
	if c.cb < 77 || c.cb > 127 || c.cr < 133 || c.cr > 173 {
		return false
	}
	return (c.h <= 50 || c.h >= 340) && c.s >= 0.1 && c.s <= 0.75 && c.v >= 0.2
}

// largestRegion returns the cell count of the largest 4-connected region of mask. It
// consumes mask.
func largestRegion(g *grid, mask []bool) int {
	best := 0
	var stack []int
	for start := range mask {
		if !mask[start] {
			continue
		}
		mask[start] = false
		stack = append(stack[:0], start)
		size := 0
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			size++
			x := i % g.w
			for _, j := range [4]int{i - 1, i + 1, i - g.w, i + g.w} {
				// Skip neighbours off the grid, including wrap-around to the next row.
				if j < 0 || j >= len(mask) || (j == i-1 && x == 0) || (j == i+1 && x == g.w-1) {
					continue
				}
				if mask[j] {
					mask[j] = false
					stack = append(stack, j)
				}
			}
		}
		best = max(best, size)
	}
	return best
}
