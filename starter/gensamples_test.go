package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGenSamplesCmd(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"gen-samples", "--count", "5", "--dir", dir, "--seed", "2"}, &out))
	assert.Contains(t, out.String(), "wrote 5 files")
	// The summary is the generator's: five files round to one PNG and four camera JPEGs.
	assert.Contains(t, out.String(), "    4  camera JPEGs with EXIF")
	assert.Contains(t, out.String(), "    1  PNGs → SUCCEEDED")
	files := 0
	require.NoError(t, filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files++
		}
		return err
	}))
	assert.Equal(t, 5, files)
	for _, args := range [][]string{
		{"gen-samples", "--count", "5"},
		{"gen-samples", "--dir", dir, "--count", "0"},
		{"gen-samples", "--dir", dir, "extra"},
		{"gen-samples", "--bench"},
		{"gen-samples", "--bench", "--dir", dir, "--count", "5"},
		{"gen-samples", "--bench", "--dir", dir, "--seed", "3"},
	} {
		err := run(t.Context(), args, &out)
		var ue usageError
		assert.True(t, errors.As(err, &ue), "%v: want a usage error, got %v", args, err)
	}
}

func TestGenSamplesBench(t *testing.T) {
	if testing.Short() {
		t.Skip("writes about 60 MP of images")
	}
	dir := t.TempDir()
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"gen-samples", "--bench", "--dir", dir}, &out))
	assert.Contains(t, out.String(), "wrote 4 benchmark files")
	for _, name := range []string{"bench-12mp.jpg", "bench-24mp.jpg", "bench-12mp-progressive.jpg", "bench-12mp.png"} {
		assert.Contains(t, out.String(), name)
		fi, err := os.Stat(filepath.Join(dir, name))
		if assert.NoError(t, err) {
			assert.Greater(t, fi.Size(), int64(1<<20), name)
		}
	}
}
