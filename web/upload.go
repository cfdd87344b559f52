package web

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"
	"unicode"

	"photoflow"
	"photoflow/media"
	"photoflow/pipeline"
)

// Upload policy. What is refused here never reaches the bucket:
//
//   - Over the per-file limit (API.MaxUpload): 413, naming the limit.
//   - Not an image at all (text, HTML, SVG, PDF, executables, archives, empty files): 415.
//     "An image" is a file that starts with a signature the pipeline's identification
//     (media.Identify) recognises.
//   - JPEG and PNG go through. So do GIF, TIFF, BMP, WebP, HEIC and AVIF: the pipeline
//     identifies them and records FileNotSupported, which the user then sees on the photo,
//     and a later version that processes them needs no change here. A JPEG or PNG whose
//     header is damaged also goes through, to be recorded as what it is.
//   - A file name whose extension names a type that is not a raster image (.svg, .html,
//     .js, .txt, …): 415. The bucket labels each object by its extension, and an image
//     signature in front of markup must not land there as image/svg+xml or text/html.

// slashLike are characters drawn like '/' or '\': in a file name they would let it pose as
// a path to whoever reads it, and a tool that folds compatibility characters would turn
// the fullwidth ones into real separators.
var slashLike = map[rune]bool{
	'\u2044': true, // fraction slash
	'\u2215': true, // division slash
	'\u2216': true, // set minus
	'\u2571': true, // box drawings light diagonal
	'\u2572': true,
	'\u29F5': true, // reverse solidus operator
	'\u29F8': true, // big solidus
	'\u29F9': true, // big reverse solidus
	'\uFE68': true, // small reverse solidus
	'\uFF0F': true, // fullwidth solidus
	'\uFF3C': true, // fullwidth reverse solidus
}

// uploadFileName is the name an upload is stored under: the pipeline's base-name rules
// (no directories, no "..", valid UTF-8, no control characters, at most 200 bytes), and
// none of the characters that make a name look like something it is not: slash
// look-alikes, and invisible format characters such as the right-to-left override that
// shows "photo\u202Egpj.exe" as "photoexe.jpg".
func uploadFileName(raw string) (string, error) {
	name, err := pipeline.CleanFileName(raw)
	if err != nil {
		return "", err
	}
	for _, r := range name {
		switch {
		case slashLike[r]:
			return "", fmt.Errorf("file name %q: %U looks like a path separator", name, r)
		case unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp):
			return "", fmt.Errorf("file name %q has an invisible formatting character %U", name, r)
		}
	}
	return name, nil
}

// checkUploadType refuses, with 415, a file that is not an image, or whose name would
// label it as something other than one. Other errors (reading the upload) are 400.
func checkUploadType(f io.ReaderAt, size int64, name string) (int, error) {
	if ext := strings.ToLower(path.Ext(name)); ext != "" {
		if ct := mime.TypeByExtension(ext); ct != "" && !rasterType(ct) {
			return http.StatusUnsupportedMediaType, fmt.Errorf("%s: the extension %s is for %s, not a photo; rename the file", name, ext, ct)
		}
	}
	if size == 0 {
		return http.StatusUnsupportedMediaType, fmt.Errorf("%s is empty, not an image", name)
	}
	// The pipeline's own identification decides, so the two can never disagree; it reads
	// only headers. A recognised signature with a broken header goes through: the run
	// records why it cannot be processed.
	if _, err := media.Identify(f, size); errors.Is(err, media.ErrUnknownFormat) {
		return http.StatusUnsupportedMediaType, fmt.Errorf("%s is not an image: photoflow takes JPEG and PNG photos "+
			"(GIF, TIFF, BMP, WebP, HEIC and AVIF are accepted and recorded as %s)", name, photoflow.ErrFileNotSupported)
	} else if err != nil && !errors.Is(err, media.ErrMalformed) {
		return http.StatusBadRequest, fmt.Errorf("read %s: %w", name, err)
	}
	return 0, nil
}

// rasterType reports whether a MIME type (as the extension table gives it) is safe to
// label a photo with: a raster image, or no claim at all. SVG is an image type, but a
// document that can run script.
func rasterType(ct string) bool {
	t, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return t == "application/octet-stream" || strings.HasPrefix(t, "image/") && t != "image/svg+xml"
}

// mediaContentType is the Content-Type a stored object is served with, from its first
// bytes: only the raster image types the browser's own sniffer recognises, never the type
// the object was stored with, which came from a user's file name.
func mediaContentType(head []byte) string {
	if ct := http.DetectContentType(head); strings.HasPrefix(ct, "image/") && !strings.Contains(ct, "svg") {
		return ct
	}
	return "application/octet-stream"
}

// mediaDisposition shows images inline and offers anything else as a download, under the
// image's own file name either way.
func mediaDisposition(ctype, imageID string) string {
	kind := "inline"
	if !strings.HasPrefix(ctype, "image/") {
		kind = "attachment"
	}
	// FormatMediaType encodes non-ASCII names (RFC 2231) and gives "" for what it cannot.
	if d := mime.FormatMediaType(kind, map[string]string{"filename": path.Base(imageID)}); d != "" {
		return d
	}
	return kind
}
