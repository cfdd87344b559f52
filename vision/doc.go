// Package vision detects labels and moderation labels for images, behind the Analyzer
// interface shared by the embedded offline analyzer (Offline, here) and a cloud backend
// (Amazon Rekognition's DetectLabels and DetectModerationLabels, in rekognition.go).
//
// # What the offline analyzer is
//
// Offline measures simple, real properties of the pixels and names them the way
// Rekognition names labels. It is NOT object recognition: it has no model, knows nothing
// of objects, people or places, and never sees more than colours, brightness and their
// layout on a coarse grid. Every label is a heuristic with a confidence derived from a
// measured proportion, and every heuristic has known failure modes, listed below, so that
// nobody mistakes its output for Rekognition's.
//
// The image is first reduced to a grid whose longest side is at most 256 cells, each cell
// the average colour of up to 4×4 source pixels spread evenly over the cell's area
// (every pixel when the cell is that small). Transparent pixels are composited over
// white. The grid is then turned upright using the EXIF Orientation (Pixels are expected
// as decoded, in stored orientation, which is what Go's image decoders return), so that
// "upper third" means the top of the picture as a person sees it.
//
// # Labels
//
//   - Colours (Red, Orange, Yellow, Green, Blue, Purple, Pink, Brown, Black, White, Gray):
//     each cell is named from its hue, saturation and value; confidence is
//     100·(1−e^(−share/0.2)), capped at 99, so a colour covering 10% of the picture scores
//     about 39, 20% about 63 and half the picture about 92.
//   - Tone: Bright and Dark from the mean luminance, High Contrast from the luminance
//     standard deviation between cells (fine texture inside a cell is averaged away),
//     Monochrome when nearly every cell is achromatic.
//   - Layout: Portrait, Landscape or Square from the upright pixel size (Orientation 5–8
//     swap width and height). This one is exact; its confidence only reflects how far the
//     aspect ratio is from square.
//
// Scene hints are deliberately conservative (never above 90), each with the mistakes it is
// known to make:
//
//   - Sky: smooth blue cells (or, at reduced confidence, smooth bright grey ones) in the
//     upper third, discounted unless the top is brighter than the bottom. Any smooth blue
//     surface at the top (a wall, a shirt, a blank blue picture) reads as sky; overcast
//     skies score low.
//   - Vegetation: share of mid-brightness green cells. A green wall or car counts; autumn
//     foliage and dry grass do not.
//   - Sunset: saturated warm cells in the upper half, discounted when the lower half is
//     just as warm. A red or orange wall, or a warm indoor light, can read as a sunset.
//   - Snow: a large share of very bright, near-neutral cells, suppressed when the page
//     looks like text. Overexposed photos, white walls and clouds read as snow.
//   - Text and Document: a bright, near-neutral background crossed by three or more
//     separate bands of darker cells (lines of print, horizontal or vertical). Only
//     reasonably large print on a light page is found; handwriting, text on photos,
//     dark-mode screens and small print (whose strokes vanish in the grid) are missed, and
//     striped fabrics or blinds can be mistaken for text.
//
// # Moderation
//
// DetectModeration computes a skin-exposure score: the share of cells whose colour falls in
// a skin-tone region (the YCbCr rule of Chai and Ngan, Cb∈[77,127] and Cr∈[133,173], with an
// HSV sanity check on hue, saturation and value), averaged with the share of the largest
// 4-connected skin region, so one large patch scores higher than scattered specks. The
// score maps linearly to a confidence (a score of 0.65 or more is 100), returned as
// "Suggestive" and, only when the score reaches 0.8 (roughly four fifths of the picture
// skin-coloured in one region), also as "Explicit Nudity". Below a confidence of 10 it returns no labels.
//
// This measures colour, not nudity. Skin tones vary widely and the rule favours light to
// medium tones, so very dark or very pale skin, and skin under coloured light, can be
// missed; wood, sand, cardboard, bread, warm-lit walls and face close-ups are expected
// false positives. Treat it as a routing signal that sends images to human review, never
// as a verdict. For that reason Offline caps moderation confidences at
// Offline.ModerationCeiling, by default just under the default reject threshold, so that
// with the default settings the offline analyzer can send an image to review but cannot
// reject it on its own.
//
// # Determinism and cost
//
// The same pixels and options always give the same labels and confidences. Work is
// bounded by the grid, not the source: a 12-megapixel photo costs under a million pixel
// reads. Context cancellation is checked between phases and while reducing the image.
package vision
