package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"photoflow/media"
)

// TestGenSamplesKinds identifies every file the way the pipeline does and checks that the
// mix is what the summary claims.
func TestGenSamplesKinds(t *testing.T) {
	dir := t.TempDir()
	st, err := genSamples(dir, 50, 7)
	require.NoError(t, err)
	assert.Equal(t, 50, st.Count)
	assert.Equal(t, map[string]int{sampleCamera: 40, samplePlain: 3, samplePNG: 5, sampleText: 1, sampleCorrupt: 1}, st.Kinds)

	seen := map[string]int{}
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
			seen[sampleText]++
			return nil
		case strings.HasSuffix(name, ".png"):
			require.NoError(t, idErr, name)
			assert.Equal(t, media.FormatPNG, info.Format, name)
			assert.Empty(t, info.Make, name)
			seen[samplePNG]++
		case strings.HasPrefix(name, "export_"):
			require.NoError(t, idErr, name)
			assert.Equal(t, media.FormatJPEG, info.Format, name)
			assert.Empty(t, info.Make+info.CreationTime, "%s: no EXIF expected", name)
			seen[samplePlain]++
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
				seen[sampleCorrupt]++
				return nil
			}
			assert.NoError(t, decErr, name)
			seen[sampleCamera]++
		}
		if w, h := media.OrientedSize(info.Width, info.Height, info.Orientation); h > w {
			portrait++
		}
		return nil
	}))
	assert.Equal(t, st.Kinds, seen, "files on disk differ from the summary")
	assert.Equal(t, 50, files)
	assert.Equal(t, st.Bytes, total)
	assert.GreaterOrEqual(t, len(makes), 4, "camera makes should vary")
	assert.GreaterOrEqual(t, len(years), 5, "dates should spread over years")
	assert.GreaterOrEqual(t, len(orients), 3, "orientations should vary: %v", orients)
	assert.Positive(t, gps)
	assert.Less(t, gps, st.Kinds[sampleCamera]+st.Kinds[sampleCorrupt], "some photos have no GPS")
	assert.Positive(t, portrait)
}

func TestGenSamplesDeterministic(t *testing.T) {
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
		_, err := genSamples(run.dir, 12, run.seed)
		require.NoError(t, err)
	}
	fa, fb, fc := read(a), read(b), read(c)
	assert.Equal(t, fa, fb, "the same seed must write the same files")
	assert.NotEqual(t, fa, fc, "another seed must write other files")
}

func TestGenSamplesCmd(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"gen-samples", "--count", "5", "--dir", dir, "--seed", "2"}, &out))
	assert.Contains(t, out.String(), "wrote 5 files")
	for _, args := range [][]string{
		{"gen-samples", "--count", "5"},
		{"gen-samples", "--dir", dir, "--count", "0"},
		{"gen-samples", "--dir", dir, "extra"},
	} {
		err := run(t.Context(), args, &out)
		var ue usageError
		assert.True(t, errors.As(err, &ue), "%v: want a usage error, got %v", args, err)
	}
}
