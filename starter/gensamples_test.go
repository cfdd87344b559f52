package main

import (
	"bytes"
	"errors"
	"io/fs"
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
	} {
		err := run(t.Context(), args, &out)
		var ue usageError
		assert.True(t, errors.As(err, &ue), "%v: want a usage error, got %v", args, err)
	}
}
