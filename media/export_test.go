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

// Resize is the thumbnail resampler; ResizeDirect is the plain Lanczos3 it
// approximates, for comparison.
func Resize(img image.Image, w, h int) *image.RGBA { return toRGBA(resize(img, w, h)) }

func ResizeDirect(img image.Image, w, h int) *image.RGBA {
	b := img.Bounds()
	return toRGBA(resample(img, w, h, float64(b.Dx()), float64(b.Dy())))
}

func toRGBA(img image.Image) *image.RGBA {
	if m, ok := img.(*image.RGBA); ok {
		return m
	}
	dst := image.NewRGBA(image.Rect(0, 0, img.Bounds().Dx(), img.Bounds().Dy()))
	draw.Draw(dst, dst.Bounds(), img, img.Bounds().Min, draw.Src)
	return dst
}

// ThumbImage is Thumbnail before encoding.
var ThumbImage = thumbImage

// PickScale exposes the choice of JPEG reduction.
var PickScale = pickScale
