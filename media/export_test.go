package media

import (
	"image"

	"golang.org/x/image/draw"
)

// ParseEXIF exposes the TIFF/EXIF parser to the external tests and fuzz
// targets, which need package mediatest (and so cannot live in package media).
func ParseEXIF(b []byte) Info {
	info := Info{Orientation: 1}
	parseEXIF(b).apply(&info)
	return info
}

// MaxWarnings is the cap on Info.Warnings.
const MaxWarnings = maxWarnings

// Resize is the thumbnail resampler; ResizeDirect is the plain Catmull-Rom
// it approximates, for comparison.
var Resize = resize

func ResizeDirect(img image.Image, w, h int) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, img.Bounds(), draw.Src, nil)
	return dst
}
