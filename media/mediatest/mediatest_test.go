package mediatest_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"

	"photoflow/media/mediatest"
)

// StoredFor checked against a hand-drawn 3×2 upright picture (a b c / d e f),
// independently of media.Orient.
func TestStoredForByHand(t *testing.T) {
	up := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for i, c := range "abcdef" {
		up.Pix[4*i] = uint8(c)
		up.Pix[4*i+3] = 255
	}
	// What a camera stores so that the viewer, applying orientation o, shows
	// "abc/def". For 6 the camera was turned so that the scene's right side
	// is the stored top row.
	want := map[int][]string{
		1: {"abc", "def"},
		2: {"cba", "fed"},
		3: {"fed", "cba"},
		4: {"def", "abc"},
		5: {"ad", "be", "cf"},
		6: {"cf", "be", "ad"},
		7: {"fc", "eb", "da"},
		8: {"da", "eb", "fc"},
	}
	for o, rows := range want {
		got := mediatest.StoredFor(up, o)
		b := got.Bounds()
		var gotRows []string
		for y := b.Min.Y; y < b.Max.Y; y++ {
			var row []byte
			for x := b.Min.X; x < b.Max.X; x++ {
				r, _, _, _ := got.At(x, y).RGBA()
				row = append(row, byte(r>>8))
			}
			gotRows = append(gotRows, string(row))
		}
		if fmt.Sprint(gotRows) != fmt.Sprint(rows) {
			t.Errorf("orientation %d: got %v, want %v", o, gotRows, rows)
		}
	}
}

func TestEncodersProduceValidFiles(t *testing.T) {
	decoders := map[string]func([]byte) (image.Image, error){
		"GIF":  func(b []byte) (image.Image, error) { return gif.Decode(bytes.NewReader(b)) },
		"TIFF": func(b []byte) (image.Image, error) { return tiff.Decode(bytes.NewReader(b)) },
		"BMP":  func(b []byte) (image.Image, error) { return bmp.Decode(bytes.NewReader(b)) },
		"JPEG": func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) },
		"PNG":  func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) },
		"WEBP": func(b []byte) (image.Image, error) { return webp.Decode(bytes.NewReader(b)) },
	}
	exif := mediatest.EncodeEXIF(mediatest.EXIF{Orientation: 6, Make: "x"}, binary.BigEndian)
	files := map[string][]byte{
		"GIF":  mediatest.GIF(40, 30),
		"TIFF": mediatest.TIFF(40, 30),
		"BMP":  mediatest.BMP(40, 30),
		"JPEG": mediatest.JPEG(mediatest.Quadrants(40, 30), exif),
		"PNG":  mediatest.PNG(mediatest.Quadrants(40, 30), exif),
	}
	for name, data := range files {
		img, err := decoders[name](data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() != 40 || b.Dy() != 30 {
			t.Errorf("%s: bounds %v", name, b)
		}
	}
	img, err := decoders["WEBP"](mediatest.WebP())
	if err != nil {
		t.Fatalf("WebP: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1 || b.Dy() != 1 {
		t.Errorf("WebP bounds %v", b)
	}
	if got := color.NRGBAModel.Convert(img.At(0, 0)); got != (color.NRGBA{0xFF, 0x80, 0x00, 0xFF}) {
		t.Errorf("WebP pixel %v", got)
	}
}

func TestDeterministic(t *testing.T) {
	if !bytes.Equal(mediatest.CameraJPEG(64, 48, 6), mediatest.CameraJPEG(64, 48, 6)) {
		t.Error("CameraJPEG differs between calls")
	}
	if !bytes.Equal(mediatest.Photo(30, 20, 1).Pix, mediatest.Photo(30, 20, 1).Pix) {
		t.Error("Photo differs between calls")
	}
	if bytes.Equal(mediatest.Photo(30, 20, 1).Pix, mediatest.Photo(30, 20, 2).Pix) {
		t.Error("Photo ignores its seed")
	}
	if got := mediatest.CameraJPEG(64, 48, 6); len(got) < 100 {
		t.Errorf("CameraJPEG is %d bytes", len(got))
	}
}

// The photo has its sky on top once displayed, for every orientation.
func TestCameraJPEGIsUprightScene(t *testing.T) {
	for o := 1; o <= 8; o++ {
		img, err := jpeg.Decode(bytes.NewReader(mediatest.CameraJPEG(80, 60, o)))
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != 80 || b.Dy() != 60 {
			t.Fatalf("orientation %d: stored bounds %v", o, b)
		}
		up := mediatest.StoredFor(img, inverse(o))
		ub := up.Bounds()
		_, _, skyB, _ := up.At(ub.Dx()/4, 1).RGBA()
		_, _, groundB, _ := up.At(ub.Dx()/4, ub.Dy()-2).RGBA()
		if skyB>>8 < 150 || groundB>>8 > 120 {
			t.Errorf("orientation %d: top blue %d, bottom blue %d", o, skyB>>8, groundB>>8)
		}
	}
}

// inverse is the orientation whose StoredFor undoes StoredFor(o).
func inverse(o int) int {
	switch o {
	case 6:
		return 8
	case 8:
		return 6
	}
	return o
}
