package vision

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

	"photoflow"
)

// Offline is the embedded Analyzer: pixel heuristics, no model and no network (see the
// package documentation for what each label measures and its limits). The zero value is
// ready to use and safe for concurrent use.
type Offline struct {
	// ModerationCeiling caps moderation confidences; zero means DefaultModerationCeiling.
	// Set it to 100 to let the offline score reach an automatic rejection.
	ModerationCeiling float64
}

// DefaultModerationCeiling sits just under the default reject threshold: a colour
// heuristic may send an image to a human, but should not reject it on its own.
var DefaultModerationCeiling = photoflow.DefaultSettings().RejectThreshold - 1

var _ Analyzer = (*Offline)(nil)

// MinSide implements Resolution: the analysis averages the image into at most
// maxGridSide cells a side, so pixels finer than that are never looked at.
func (o *Offline) MinSide() int { return maxGridSide }

var _ Resolution = (*Offline)(nil)

// NewOffline returns an Offline analyzer with default options.
func NewOffline() *Offline { return &Offline{} }

// Label names, spelled as Rekognition spells its labels.
const (
	LabelRed       = "Red"
	LabelOrange    = "Orange"
	LabelYellow    = "Yellow"
	LabelGreen     = "Green"
	LabelBlue      = "Blue"
	LabelPurple    = "Purple"
	LabelPink      = "Pink"
	LabelBrown     = "Brown"
	LabelBlack     = "Black"
	LabelWhite     = "White"
	LabelGray      = "Gray"
	LabelBright    = "Bright"
	LabelDark      = "Dark"
	LabelContrast  = "High Contrast"
	LabelMono      = "Monochrome"
	LabelPortrait  = "Portrait"
	LabelLandscape = "Landscape"
	LabelSquare    = "Square"
	LabelSky       = "Sky"
	LabelPlant     = "Vegetation"
	LabelSunset    = "Sunset"
	LabelSnow      = "Snow"
	LabelText      = "Text"
	LabelDocument  = "Document"

	LabelSuggestive = "Suggestive"
	LabelExplicit   = "Explicit Nudity"
)

// DetectLabels implements Analyzer. It reads only img.Pixels and img.Orientation.
func (o *Offline) DetectLabels(ctx context.Context, img Image, maxLabels int, minConfidence float64) ([]photoflow.Label, error) {
	g, err := o.prepare(ctx, img)
	if err != nil {
		return nil, err
	}
	var labels []photoflow.Label
	add := func(name string, conf float64) {
		if conf > 0 {
			labels = append(labels, photoflow.Label{Name: name, Confidence: conf})
		}
	}
	for name, conf := range colourLabels(g) {
		add(name, conf)
	}
	for name, conf := range toneLabels(g) {
		add(name, conf)
	}
	b := img.Pixels.Bounds()
	for name, conf := range layoutLabels(b.Dx(), b.Dy(), img.Orientation) {
		add(name, conf)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("vision: labels: %w", err)
	}
	for name, conf := range sceneLabels(g) {
		add(name, conf)
	}
	return finish(labels, maxLabels, minConfidence), nil
}

// DetectModeration implements Analyzer. It reads only img.Pixels and img.Orientation.
func (o *Offline) DetectModeration(ctx context.Context, img Image) ([]photoflow.Label, error) {
	g, err := o.prepare(ctx, img)
	if err != nil {
		return nil, err
	}
	ceiling := o.ModerationCeiling
	if ceiling <= 0 {
		ceiling = DefaultModerationCeiling
	}
	ceiling = min(ceiling, 100)
	score := skinScore(g)
	conf := min(100*score/0.65, ceiling)
	if conf < 10 {
		return nil, nil
	}
	labels := []photoflow.Label{{Name: LabelSuggestive, Confidence: conf}}
	if score >= 0.8 {
		// Scaled by the ceiling rather than clipped to it, so the stronger claim always
		// stays below the weaker one, as in Rekognition's hierarchy.
		labels = append(labels, photoflow.Label{Name: LabelExplicit, Confidence: ramp(score, 0.8, 55, 1, 95) * ceiling / 100})
	}
	return finish(labels, 0, 0), nil
}

func (o *Offline) prepare(ctx context.Context, img Image) (*grid, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("vision: %w", err)
	}
	g, err := buildGrid(ctx, img.Pixels, img.Orientation)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("vision: %w", err)
	}
	return g, nil
}

// finish rounds confidences (so output is stable to read and compare), filters, sorts and
// caps. Ties sort by name so the order never depends on map iteration.
func finish(labels []photoflow.Label, maxLabels int, minConfidence float64) []photoflow.Label {
	out := labels[:0]
	for _, l := range labels {
		l.Confidence = math.Round(min(max(l.Confidence, 0), 100)*100) / 100
		if l.Confidence > 0 && l.Confidence >= minConfidence {
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b photoflow.Label) int {
		if c := cmp.Compare(b.Confidence, a.Confidence); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	if maxLabels > 0 && len(out) > maxLabels {
		out = out[:maxLabels]
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// ramp maps x linearly from (x0, c0) to (x1, c1), holds c1 beyond x1, and returns 0 on
// the far side of x0, where the label is not suggested at all. x1 may be below x0 for
// measures where less means more (darkness).
func ramp(x, x0, c0, x1, c1 float64) float64 {
	t := (x - x0) / (x1 - x0)
	if t < 0 {
		return 0
	}
	return c0 + min(t, 1)*(c1-c0)
}

// achromatic is a cell a person would call white, grey or black: chroma and saturation
// both low (chroma alone would call every dark colour grey, saturation alone every
// near-black speck coloured).
func (c *cell) achromatic() bool { return c.chroma < 0.08 || c.s < 0.12 }

// colourName names a cell's colour. Hue bands follow the usual colour wheel; lightness
// and saturation split brown from orange, pink from red and purple.
func colourName(c *cell) string {
	if c.v < 0.2 {
		return LabelBlack
	}
	if c.achromatic() {
		switch {
		case c.v >= 0.8:
			return LabelWhite
		case c.v < 0.25:
			return LabelBlack
		}
		return LabelGray
	}
	switch h := c.h; {
	case h < 15 || h >= 345:
		if c.v >= 0.75 && c.s < 0.45 {
			return LabelPink
		}
		return LabelRed
	case h < 45:
		if c.v < 0.6 || (c.s < 0.5 && c.v < 0.7) {
			return LabelBrown
		}
		return LabelOrange
	case h < 70:
		if c.v < 0.5 {
			return LabelBrown
		}
		return LabelYellow
	case h < 165:
		return LabelGreen
	case h < 260:
		return LabelBlue
	case h < 290:
		return LabelPurple
	default:
		if c.v >= 0.6 {
			return LabelPink
		}
		return LabelPurple
	}
}

// shareConfidence turns the share of the picture covered by something into a confidence
// that rises quickly at first and saturates: 10% ≈ 39, 20% ≈ 63, 50% ≈ 92.
func shareConfidence(share float64) float64 {
	return min(99, 100*(1-math.Exp(-share/0.2)))
}

func colourLabels(g *grid) map[string]float64 {
	counts := map[string]int{}
	for i := range g.cells {
		counts[colourName(&g.cells[i])]++
	}
	out := map[string]float64{}
	for name, n := range counts {
		out[name] = shareConfidence(float64(n) / float64(len(g.cells)))
	}
	return out
}

func toneLabels(g *grid) map[string]float64 {
	n := float64(len(g.cells))
	var sum, sumSq float64
	grey := 0
	for i := range g.cells {
		c := &g.cells[i]
		sum += c.y
		sumSq += c.y * c.y
		if c.achromatic() {
			grey++
		}
	}
	mean := sum / n
	std := math.Sqrt(max(0, sumSq/n-mean*mean))
	return map[string]float64{
		LabelBright:   ramp(mean, 0.62, 50, 0.85, 95),
		LabelDark:     ramp(mean, 0.3, 50, 0.08, 95),
		LabelContrast: ramp(std, 0.25, 50, 0.42, 95),
		LabelMono:     ramp(float64(grey)/n, 0.85, 50, 1, 97),
	}
}

// layoutLabels uses the full pixel size, not the grid, whose rounding could turn a
// nearly square picture either way.
func layoutLabels(w, h, orientation int) map[string]float64 {
	if swapsAxes(orientation) {
		w, h = h, w
	}
	ratio := float64(max(w, h)) / float64(min(w, h))
	if ratio <= 1.05 {
		return map[string]float64{LabelSquare: ramp(ratio, 1.05, 55, 1, 99)}
	}
	conf := ramp(ratio, 1.05, 55, 1.3, 99)
	if w > h {
		return map[string]float64{LabelLandscape: conf}
	}
	return map[string]float64{LabelPortrait: conf}
}
