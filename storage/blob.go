package storage

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"strings"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // azblob://
	_ "gocloud.dev/blob/fileblob"  // file:// buckets (tests)
	_ "gocloud.dev/blob/gcsblob"   // gs://
	_ "gocloud.dev/blob/memblob"   // mem://
	_ "gocloud.dev/blob/s3blob"    // s3://
	"gocloud.dev/gcerrors"
)

// Resolve maps a location onto a store and the path to use with it:
//
//   - a local path, file:///path, /Volumes/... (Unity Catalog volumes)
//     and dbfs:/path (as /dbfs/path, the FUSE mount) are local;
//   - s3://bucket/prefix, gs://bucket/prefix, azblob://container/prefix and
//     mem://bucket/prefix go through gocloud.dev/blob, with credentials from
//     each provider's standard environment and chains;
//   - abfss://container@account.dfs.core.windows.net/prefix (Azure
//     Databricks' form) is the same container on the blob endpoint.
func Resolve(ctx context.Context, location string) (Store, string, error) {
	switch {
	case strings.HasPrefix(location, "dbfs:/"):
		return Local{}, "/dbfs/" + strings.TrimLeft(strings.TrimPrefix(location, "dbfs:"), "/"), nil
	case strings.HasPrefix(location, "file://"):
		u, err := url.Parse(location)
		if err != nil {
			return nil, "", fmt.Errorf("location %q: %w", location, err)
		}
		return Local{}, u.Path, nil
	case !strings.Contains(location, "://"):
		return Local{}, location, nil
	}
	u, err := url.Parse(location)
	if err != nil {
		return nil, "", fmt.Errorf("location %q: %w", location, err)
	}
	bucketURL := url.URL{Scheme: u.Scheme, Host: u.Host, RawQuery: u.RawQuery}
	switch u.Scheme {
	case "s3":
	case "gs", "azblob", "mem":
	case "abfss", "abfs":
		container := ""
		if u.User != nil {
			container = u.User.Username()
		}
		account, _, _ := strings.Cut(u.Host, ".")
		if container == "" || account == "" {
			return nil, "", fmt.Errorf("location %q: expected abfss://container@account.dfs.core.windows.net/path", location)
		}
		q := u.Query()
		q.Set("storage_account", account)
		bucketURL = url.URL{Scheme: "azblob", Host: container, RawQuery: q.Encode()}
	default:
		return nil, "", fmt.Errorf("location %q: unsupported scheme %q (expected a local path, file://, dbfs:/, s3://, gs://, azblob:// or abfss://)", location, u.Scheme)
	}
	var b *blob.Bucket
	if u.Scheme == "s3" {
		b, err = openS3(ctx, &bucketURL)
	} else {
		b, err = blob.OpenBucket(ctx, bucketURL.String())
	}
	if err != nil {
		return nil, "", fmt.Errorf("open %s: %w", bucketURL.Redacted(), err)
	}
	host := u.Host
	if u.User != nil {
		host = u.User.Username() + "@" + host
	}
	prefix := u.Scheme + "://" + host + "/"
	return &Blob{Bucket: b, prefix: prefix}, prefix + strings.TrimPrefix(u.Path, "/"), nil
}

// Blob is a store on a gocloud.dev bucket. Its paths are full URLs
// (s3://bucket/key), so that rows name objects unambiguously.
type Blob struct {
	Bucket *blob.Bucket
	prefix string // scheme://host/
	// Retries of transient errors; 0 means 4.
	Retries int
}

func (b *Blob) key(path string) string {
	return strings.TrimPrefix(strings.TrimPrefix(path, b.prefix), "/")
}

func (b *Blob) retry(ctx context.Context, op func() error) error {
	n := b.Retries
	if n <= 0 {
		n = 4
	}
	var err error
	for i := 0; i < n; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(1<<i) * 100 * time.Millisecond):
			}
		}
		if err = op(); err == nil || !transient(err) {
			return err
		}
	}
	return fmt.Errorf("%w after %d attempts: %w", ErrUnavailable, n, err)
}

// transient errors are worth retrying: throttling, timeouts, 5xx, dropped
// connections and bodies cut short. The end of a listing, a missing
// object, a file over the limit and a stop are not.
func transient(err error) bool {
	// A bare io.EOF ends a listing or a body; an EOF inside a transport
	// error ("request send failed: EOF", a kept-alive connection the
	// server or a proxy closed under the request) is worth retrying.
	if err == io.EOF || errors.Is(err, ErrTooLarge) || errors.Is(err, context.Canceled) || errors.Is(err, fs.ErrNotExist) {
		return false
	}
	switch gcerrors.Code(err) {
	case gcerrors.DeadlineExceeded, gcerrors.ResourceExhausted, gcerrors.Internal, gcerrors.Unknown:
		return true
	}
	return false
}

func (b *Blob) ReadFile(ctx context.Context, path string, limit int64) ([]byte, error) {
	key := b.key(path)
	var data []byte
	err := b.retry(ctx, func() error {
		r, err := b.Bucket.NewReader(ctx, key, nil)
		if err != nil {
			return err
		}
		defer r.Close()
		if limit > 0 && r.Size() > limit {
			return fmt.Errorf("%w: %d bytes, over the limit of %d (--max-bytes)", ErrTooLarge, r.Size(), limit)
		}
		var buf bytes.Buffer
		buf.Grow(int(r.Size()))
		if _, err := io.Copy(&buf, r); err != nil {
			return err
		}
		data = buf.Bytes()
		return nil
	})
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, fmt.Errorf("%s: no such object", path)
	}
	return data, err
}

// Walk lists every object under root page by page, in key order: work
// starts on the first page while the listing goes on.
func (b *Blob) Walk(ctx context.Context, root string, fn func(Entry) error) error {
	prefix := b.key(root)
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	it := b.Bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		var obj *blob.ListObject
		err := b.retry(ctx, func() error {
			var err error
			obj, err = it.Next(ctx)
			return err
		})
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", root, err)
		}
		if obj.IsDir {
			continue
		}
		e := Entry{Path: b.prefix + obj.Key, Rel: strings.TrimPrefix(obj.Key, prefix), Size: obj.Size}
		if len(obj.MD5) > 0 {
			e.Version = "md5:" + hex.EncodeToString(obj.MD5)
		} else if !obj.ModTime.IsZero() {
			e.Version = obj.ModTime.UTC().Format(time.RFC3339Nano)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

// Open streams an object; a connection that breaks mid-body is reopened
// at the offset reached, with the same retries as the other calls.
func (b *Blob) Open(ctx context.Context, path string) (io.ReadCloser, error) {
	r := &resumingReader{ctx: ctx, b: b, key: b.key(path)}
	if err := b.retry(ctx, r.open); err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil, fmt.Errorf("%s: no such object", path)
		}
		return nil, err
	}
	return r, nil
}

type resumingReader struct {
	ctx context.Context
	b   *Blob
	key string
	r   *blob.Reader
	off int64
}

func (r *resumingReader) open() error {
	nr, err := r.b.Bucket.NewRangeReader(r.ctx, r.key, r.off, -1, nil)
	if err != nil {
		return err
	}
	r.r = nr
	return nil
}

func (r *resumingReader) Read(p []byte) (int, error) {
	for attempt := 0; ; attempt++ {
		n, err := r.r.Read(p)
		r.off += int64(n)
		if err == nil || err == io.EOF || !transient(err) || attempt == 4 {
			return n, err
		}
		// Broken mid-body: reopen at the offset reached.
		r.r.Close()
		if rerr := r.b.retry(r.ctx, r.open); rerr != nil {
			return n, rerr
		}
		if n > 0 {
			return n, nil
		}
	}
}

func (r *resumingReader) Close() error { return r.r.Close() }

func (b *Blob) IsDir(ctx context.Context, path string) (bool, error) {
	key := b.key(path)
	if key != "" {
		var ok bool
		if err := b.retry(ctx, func() (err error) { ok, err = b.Bucket.Exists(ctx, key); return err }); err != nil {
			return false, err
		} else if ok {
			return false, nil
		}
	}
	prefix := key
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	var found bool
	err := b.retry(ctx, func() error {
		it := b.Bucket.List(&blob.ListOptions{Prefix: prefix})
		_, err := it.Next(ctx)
		if err == io.EOF {
			return nil
		}
		found = err == nil
		return err
	})
	if err != nil {
		return false, err
	}
	if !found {
		return false, fmt.Errorf("%s: no such object or prefix", path)
	}
	return true, nil
}

func (b *Blob) ListDirs(ctx context.Context, path string) ([]string, error) {
	prefix := b.key(path)
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	var dirs []string
	err := b.retry(ctx, func() error {
		dirs = dirs[:0]
		it := b.Bucket.List(&blob.ListOptions{Prefix: prefix, Delimiter: "/"})
		for {
			obj, err := it.Next(ctx)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if obj.IsDir {
				dirs = append(dirs, strings.TrimSuffix(strings.TrimPrefix(obj.Key, prefix), "/"))
			}
		}
	})
	return dirs, err
}

// Close releases the bucket.
func (b *Blob) Close() error { return b.Bucket.Close() }
