package objstore

import (
	"bytes"
	"io"
	"sync"

	"github.com/johannesboyne/gofakes3"
)

// safeBackend guards gofakes3's bolt backend, whose GetObject hands back bytes that alias
// bolt's pages after its read transaction has ended: a concurrent write may remap the file
// (a crash) or reuse those pages (a reader gets other bytes). Reads copy the object while
// writes are held off; writes take the lock only after their body has arrived, so a slow
// upload never blocks readers.
type safeBackend struct {
	gofakes3.Backend
	mu sync.RWMutex
}

// GetObject returns a private copy of the object's bytes.
func (b *safeBackend) GetObject(bucket, key string, rng *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	obj, err := b.Backend.GetObject(bucket, key, rng)
	if err != nil || obj == nil || obj.Contents == nil {
		return obj, err
	}
	data, err := io.ReadAll(obj.Contents)
	_ = obj.Contents.Close()
	if err != nil {
		return nil, err
	}
	obj.Contents = io.NopCloser(bytes.NewReader(data))
	obj.Hash = bytes.Clone(obj.Hash) // aliases bolt's pages too
	return obj, nil
}

// HeadObject reads under the same lock as GetObject.
func (b *safeBackend) HeadObject(bucket, key string) (*gofakes3.Object, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	obj, err := b.Backend.HeadObject(bucket, key)
	if obj != nil {
		obj.Hash = bytes.Clone(obj.Hash)
	}
	return obj, err
}

// ListBucket reads under the lock too: listings walk the same pages.
func (b *safeBackend) ListBucket(name string, prefix *gofakes3.Prefix, page gofakes3.ListBucketPage) (*gofakes3.ObjectList, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.Backend.ListBucket(name, prefix, page)
}

// PutObject reads the body first, then writes with readers held off.
func (b *safeBackend) PutObject(bucket, key string, meta map[string]string, input io.Reader, size int64, cond *gofakes3.PutConditions) (gofakes3.PutObjectResult, error) {
	data, err := gofakes3.ReadAll(input, size)
	if err != nil {
		return gofakes3.PutObjectResult{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Backend.PutObject(bucket, key, meta, bytes.NewReader(data), int64(len(data)), cond)
}

// CopyObject is a read of a private copy, then a write: never both under one lock.
func (b *safeBackend) CopyObject(srcBucket, srcKey, dstBucket, dstKey string, meta map[string]string) (gofakes3.CopyObjectResult, error) {
	return gofakes3.CopyObject(b, srcBucket, srcKey, dstBucket, dstKey, meta)
}

// DeleteObject writes.
func (b *safeBackend) DeleteObject(bucket, key string) (gofakes3.ObjectDeleteResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Backend.DeleteObject(bucket, key)
}

// DeleteMulti writes.
func (b *safeBackend) DeleteMulti(bucket string, keys ...string) (gofakes3.MultiDeleteResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Backend.DeleteMulti(bucket, keys...)
}

// CreateBucket writes.
func (b *safeBackend) CreateBucket(name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Backend.CreateBucket(name)
}

// DeleteBucket writes.
func (b *safeBackend) DeleteBucket(name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Backend.DeleteBucket(name)
}

// ForceDeleteBucket writes.
func (b *safeBackend) ForceDeleteBucket(name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Backend.ForceDeleteBucket(name)
}
