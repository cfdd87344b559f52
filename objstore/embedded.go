package objstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3bolt"
	bolt "go.etcd.io/bbolt"
)

// Embedded is an S3-compatible server on loopback with its objects in one bolt file. It
// exists so `go run ./worker` needs nothing else; the code talks to it exactly as to AWS.
// It checks no signatures, which is why it binds to loopback only by default.
type Embedded struct {
	db       *bolt.DB
	server   *http.Server
	listener net.Listener
	done     chan error
}

// StartEmbedded serves the bolt file at path on addr (host:port; port 0 picks one).
func StartEmbedded(path, addr string) (*Embedded, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("objstore: data dir: %w", err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	// The timeout turns "another process holds the file" into an error instead of a hang.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		_ = l.Close()
		if errors.Is(err, bolt.ErrTimeout) {
			// bolt's bare "timeout" does not tell the operator that a second worker (or a
			// stale one) is the cause.
			return nil, fmt.Errorf("objstore: open %s: file in use by another server: %w", path, err)
		}
		return nil, fmt.Errorf("objstore: open %s: %w", path, err)
	}
	faker := gofakes3.New(&safeBackend{Backend: s3bolt.New(db)}, gofakes3.WithTimeSkewLimit(0))
	e := &Embedded{db: db, listener: l, done: make(chan error, 1),
		server: &http.Server{Handler: faker.Server(), ReadHeaderTimeout: 10 * time.Second}}
	go func() { e.done <- e.server.Serve(l) }()
	return e, nil
}

// Endpoint is the base URL to give the S3 client.
func (e *Embedded) Endpoint() string { return "http://" + e.listener.Addr().String() }

// Addr is the listening address.
func (e *Embedded) Addr() string { return e.listener.Addr().String() }

// Close stops serving, waits for requests in flight, and closes the file.
func (e *Embedded) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := e.server.Shutdown(ctx)
	if serr := <-e.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if cerr := e.db.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}
