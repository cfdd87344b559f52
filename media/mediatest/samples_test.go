package mediatest_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"photoflow/media"
	"photoflow/media/mediatest"
)

// TestGenerateSamplesKinds identifies every file the way the pipeline does and checks that the
// mix is what the summary claims.
func TestGenerateSamplesKinds(t *testing.T) {
	dir := t.TempDir()
	st, err := mediatest.GenerateSamples(dir, 50, 7)
	require.NoError(t, err)
	assert.Equal(t, 50, st.Count)
	assert.Equal(t, map[string]int{mediatest.SampleCamera: 40, mediatest.SamplePlain: 3, mediatest.SamplePNG: 5, mediatest.SampleText: 1, mediatest.SampleCorrupt: 1}, st.Kinds)

	seen := map[string]int{}
	kindOf := map[string]string{}
	see := func(name, kind string) { seen[kind]++; kindOf[name] = kind }
	makes, years, orients := map[string]bool{}, map[string]bool{}, map[int]bool{}
	gps, portrait, files := 0, 0, 0
	var total int64
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		total += int64(len(data))
		name := filepath.ToSlash(strings.TrimPrefix(p, dir+string(filepath.Separator)))
		info, idErr := media.Identify(bytes.NewReader(data), int64(len(data)))
		switch {
		case strings.HasPrefix(name, "notes_"):
			assert.ErrorIs(t, idErr, media.ErrUnknownFormat, name)
			see(name, mediatest.SampleText)
			return nil
		case strings.HasSuffix(name, ".png"):
			require.NoError(t, idErr, name)
			assert.Equal(t, media.FormatPNG, info.Format, name)
			assert.Empty(t, info.Make, name)
			see(name, mediatest.SamplePNG)
		case strings.HasPrefix(name, "export_"):
			require.NoError(t, idErr, name)
			assert.Equal(t, media.FormatJPEG, info.Format, name)
			assert.Empty(t, info.Make+info.CreationTime, "%s: no EXIF expected", name)
			see(name, mediatest.SamplePlain)
		default:
			require.NoError(t, idErr, name)
			assert.Equal(t, media.FormatJPEG, info.Format, name)
			assert.NotEmpty(t, info.Make, name)
			assert.NotEmpty(t, info.Model, name)
			require.NotEmpty(t, info.CreationTime, name)
			assert.Equal(t, info.CreationTime[:4], strings.Split(name, "/")[0], "%s: folder is the year taken", name)
			assert.Empty(t, info.Warnings, name)
			makes[info.Make], years[info.CreationTime[:4]], orients[info.Orientation] = true, true, true
			if info.GPS != nil {
				gps++
			}
			_, decErr := media.Decode(bytes.NewReader(data), info.Format, 100_000_000)
			if strings.HasSuffix(name, "_broken.jpg") {
				assert.Error(t, decErr, "%s must not decode", name)
				see(name, mediatest.SampleCorrupt)
				return nil
			}
			assert.NoError(t, decErr, name)
			see(name, mediatest.SampleCamera)
		}
		if w, h := media.OrientedSize(info.Width, info.Height, info.Orientation); h > w {
			portrait++
		}
		return nil
	}))
	assert.Equal(t, st.Kinds, seen, "files on disk differ from the summary")
	// Files is what callers check each result against: it must name every file and its kind.
	require.Len(t, st.Files, 50)
	for _, f := range st.Files {
		assert.Equal(t, kindOf[f.Name], f.Kind, f.Name)
		fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f.Name)))
		if assert.NoError(t, err) {
			assert.Equal(t, fi.Size(), f.Size, f.Name)
		}
	}
	assert.Equal(t, 50, files)
	assert.Equal(t, st.Bytes, total)
	assert.GreaterOrEqual(t, len(makes), 4, "camera makes should vary")
	assert.GreaterOrEqual(t, len(years), 5, "dates should spread over years")
	assert.GreaterOrEqual(t, len(orients), 3, "orientations should vary: %v", orients)
	assert.Positive(t, gps)
	assert.Less(t, gps, st.Kinds[mediatest.SampleCamera]+st.Kinds[mediatest.SampleCorrupt], "some photos have no GPS")
	assert.Positive(t, portrait)
}

func TestGenerateSamplesDeterministic(t *testing.T) {
	read := func(dir string) map[string][]byte {
		out := map[string][]byte{}
		require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			out[rel] = b
			return err
		}))
		return out
	}
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	for _, run := range []struct {
		dir  string
		seed uint64
	}{{a, 3}, {b, 3}, {c, 4}} {
		_, err := mediatest.GenerateSamples(run.dir, 12, run.seed)
		require.NoError(t, err)
	}
	fa, fb, fc := read(a), read(b), read(c)
	assert.Equal(t, fa, fb, "the same seed must write the same files")
	assert.NotEqual(t, fa, fc, "another seed must write other files")
}
