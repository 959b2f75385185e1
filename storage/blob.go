package storage

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"sort"
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

// openBucket opens the bucket of a location that is not local, and returns
// its URL prefix (scheme://host/, abfss:// kept as the user wrote it, so
// that rows name objects as the user does).
func openBucket(ctx context.Context, location string) (*blob.Bucket, string, error) {
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
	return b, u.Scheme + "://" + host + "/", nil
}

// blobStore is a prefix of a gocloud.dev bucket. Objects are uploaded under
// a temporary key and then copied to their name, so that a reader never
// sees a part of one, whatever the store's upload semantics.
type blobStore struct {
	bucket *blob.Bucket
	prefix string // scheme://host/
	root   string // key prefix, no trailing slash
	loc    string
}

// key is the object key of name: relative to the root, or a full URL.
func (b *blobStore) key(name string) string {
	if strings.HasPrefix(name, b.prefix) {
		return strings.TrimPrefix(strings.TrimPrefix(name, b.prefix), "/")
	}
	name = strings.TrimPrefix(name, "/")
	if b.root == "" {
		return name
	}
	if name == "" {
		return b.root
	}
	return b.root + "/" + name
}

// dirPrefix is the listing prefix of the "directory" name.
func (b *blobStore) dirPrefix(name string) string {
	p := b.key(name)
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

func (b *blobStore) Location() string        { return b.loc }
func (b *blobStore) Path(name string) string { return b.prefix + b.key(name) }
func (b *blobStore) Close() error            { return b.bucket.Close() }

// notFound is a missing object: it matches fs.ErrNotExist.
type notFound struct{ path string }

func (e *notFound) Error() string        { return e.path + ": no such object" }
func (e *notFound) Is(target error) bool { return target == fs.ErrNotExist }

func (b *blobStore) notExist(err error, name string) error {
	if gcerrors.Code(err) == gcerrors.NotFound {
		return &notFound{b.Path(name)}
	}
	return err
}

func (b *blobStore) ReadFile(ctx context.Context, name string) ([]byte, error) {
	return b.ReadFileLimit(ctx, name, 0)
}

func (b *blobStore) ReadFileLimit(ctx context.Context, name string, limit int64) ([]byte, error) {
	key := b.key(name)
	var data []byte
	err := request(ctx, func() error {
		r, err := b.bucket.NewReader(ctx, key, nil)
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
	if err != nil {
		return nil, b.notExist(err, name)
	}
	return data, nil
}

// Walk lists every object under sub page by page, in key order: work
// starts on the first page while the listing goes on.
func (b *blobStore) Walk(ctx context.Context, sub string, fn func(Entry) error) error {
	prefix := b.dirPrefix(sub)
	it := b.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		var obj *blob.ListObject
		err := request(ctx, func() error {
			var err error
			obj, err = it.Next(ctx)
			return err
		})
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", b.Path(sub), err)
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

// NewReader streams an object; under WithRetry a connection that breaks
// mid-body is reopened at the offset reached.
func (b *blobStore) NewReader(ctx context.Context, name string) (io.ReadCloser, error) {
	r := &resumingReader{ctx: ctx, b: b, key: b.key(name)}
	if err := request(ctx, r.open); err != nil {
		return nil, b.notExist(err, name)
	}
	return r, nil
}

type resumingReader struct {
	ctx context.Context
	b   *blobStore
	key string
	r   *blob.Reader
	off int64
}

func (r *resumingReader) open() error {
	nr, err := r.b.bucket.NewRangeReader(r.ctx, r.key, r.off, -1, nil)
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
		if err == nil || err == io.EOF || !transient(err) || attempt >= reopens(r.ctx) {
			return n, err
		}
		// Broken mid-body: reopen at the offset reached.
		r.r.Close()
		if rerr := request(r.ctx, r.open); rerr != nil {
			return n, rerr
		}
		if n > 0 {
			return n, nil
		}
	}
}

func (r *resumingReader) Close() error { return r.r.Close() }

func (b *blobStore) IsDir(ctx context.Context, name string) (bool, error) {
	key := b.key(name)
	if key != "" {
		var ok bool
		if err := request(ctx, func() (err error) { ok, err = b.bucket.Exists(ctx, key); return err }); err != nil {
			return false, err
		} else if ok {
			return false, nil
		}
	}
	prefix := b.dirPrefix(name)
	var found bool
	err := request(ctx, func() error {
		it := b.bucket.List(&blob.ListOptions{Prefix: prefix})
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
		return false, fmt.Errorf("%s: no such object or prefix", b.Path(name))
	}
	return true, nil
}

func (b *blobStore) List(ctx context.Context, sub string) ([]FileInfo, error) {
	prefix := b.dirPrefix(sub)
	var out []FileInfo
	err := request(ctx, func() error {
		out = out[:0]
		it := b.bucket.List(&blob.ListOptions{Prefix: prefix, Delimiter: "/"})
		for {
			obj, err := it.Next(ctx)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			name := strings.TrimSuffix(strings.TrimPrefix(obj.Key, prefix), "/")
			if name == "" {
				continue
			}
			out = append(out, FileInfo{Name: name, Size: obj.Size, IsDir: obj.IsDir})
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// tailSize is read in one request when an object is opened: a Parquet
// footer (and the feature table's provenance) fits in it.
const tailSize = 256 << 10

type blobFile struct {
	ctx  context.Context
	b    *blobStore
	key  string
	size int64
	tail []byte // the last len(tail) bytes
}

func (f *blobFile) Size() int64  { return f.size }
func (f *blobFile) Close() error { return nil }

func (f *blobFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= f.size {
		return 0, io.EOF
	}
	n := len(p)
	if off+int64(n) > f.size {
		n = int(f.size - off)
	}
	if start := f.size - int64(len(f.tail)); off >= start {
		copy(p, f.tail[off-start:])
	} else if err := f.b.rangeRead(f.ctx, f.key, off, p[:n]); err != nil {
		return 0, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (b *blobStore) rangeRead(ctx context.Context, key string, off int64, p []byte) error {
	return request(ctx, func() error {
		r, err := b.bucket.NewRangeReader(ctx, key, off, int64(len(p)), nil)
		if err != nil {
			return err
		}
		defer r.Close()
		_, err = io.ReadFull(r, p)
		if err != nil {
			// A body cut short is a broken connection: worth retrying.
			return fmt.Errorf("read %s: %w", key, err) // gcerrors.Unknown: retried
		}
		return nil
	})
}

func (b *blobStore) Open(ctx context.Context, name string) (File, error) {
	key := b.key(name)
	var size int64
	err := request(ctx, func() error {
		a, err := b.bucket.Attributes(ctx, key)
		if err == nil {
			size = a.Size
		}
		return err
	})
	if err != nil {
		return nil, b.notExist(err, name)
	}
	f := &blobFile{ctx: ctx, b: b, key: key, size: size}
	f.tail = make([]byte, min(size, tailSize))
	if err := b.rangeRead(ctx, key, size-int64(len(f.tail)), f.tail); err != nil {
		return nil, fmt.Errorf("read %s: %w", b.Path(name), err)
	}
	return f, nil
}

func (b *blobStore) CreateTemp(name string) (*os.File, error) {
	return os.CreateTemp("", "featurizer-"+path.Base(name)+".tmp-*")
}

// upload puts the content of open() under a temporary key, copies it to
// name and deletes the temporary key.
func (b *blobStore) upload(ctx context.Context, name string, open func() (io.Reader, error)) error {
	tmp := b.key(tempName(name))
	err := request(ctx, func() error {
		r, err := open()
		if err != nil {
			return err
		}
		return b.bucket.Upload(ctx, tmp, r, &blob.WriterOptions{ContentType: "application/octet-stream"})
	})
	if err == nil {
		err = request(ctx, func() error { return b.bucket.Copy(ctx, b.key(name), tmp, nil) })
	}
	// The temporary key goes in any case; a leftover one is skipped by
	// readers and removed by the next run's RemoveTemps.
	derr := request(ctx, func() error {
		if err := b.bucket.Delete(ctx, tmp); gcerrors.Code(err) != gcerrors.NotFound {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("upload %s: %w", b.Path(name), err)
	}
	if derr != nil {
		return fmt.Errorf("upload %s: remove temporary key: %w", b.Path(name), derr)
	}
	return nil
}

func (b *blobStore) WriteFile(ctx context.Context, name string, data []byte) error {
	return b.upload(ctx, name, func() (io.Reader, error) { return bytes.NewReader(data), nil })
}

func (b *blobStore) Put(ctx context.Context, name string, data []byte) error {
	key := b.key(name)
	err := request(ctx, func() error {
		return b.bucket.Upload(ctx, key, bytes.NewReader(data), &blob.WriterOptions{ContentType: "application/octet-stream"})
	})
	if err != nil {
		return fmt.Errorf("write %s: %w", b.Path(name), err)
	}
	return nil
}

// CreateExclusive uploads name with the store's create-if-absent
// precondition (S3 If-None-Match: *, GCS ifGenerationMatch=0, Azure
// If-None-Match: *), straight to its key: a small single-request upload is
// atomic. A retried request whose first attempt did succeed finds the
// object there: it is recognised as ours by its content.
func (b *blobStore) CreateExclusive(ctx context.Context, name string, data []byte) error {
	key := b.key(name)
	err := request(ctx, func() error {
		return b.bucket.Upload(ctx, key, bytes.NewReader(data), &blob.WriterOptions{ContentType: "application/octet-stream", IfNotExist: true})
	})
	if gcerrors.Code(err) == gcerrors.FailedPrecondition {
		if cur, rerr := b.ReadFile(ctx, name); rerr == nil && bytes.Equal(cur, data) {
			return nil
		}
		return fmt.Errorf("create %s: %w", b.Path(name), fs.ErrExist)
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", b.Path(name), err)
	}
	return nil
}

func (b *blobStore) Commit(ctx context.Context, f *os.File, name string) error {
	defer os.Remove(f.Name())
	defer f.Close()
	return b.upload(ctx, name, func() (io.Reader, error) {
		_, err := f.Seek(0, io.SeekStart)
		return f, err
	})
}

func (b *blobStore) Remove(ctx context.Context, name string) error {
	key := b.key(name)
	err := request(ctx, func() error {
		err := b.bucket.Delete(ctx, key)
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("remove %s: %w", b.Path(name), err)
	}
	// A "directory": every object under it, a page of the listing at a
	// time.
	it := b.bucket.List(&blob.ListOptions{Prefix: key + "/"})
	for {
		var obj *blob.ListObject
		err := request(ctx, func() (err error) { obj, err = it.Next(ctx); return err })
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("remove %s: %w", b.Path(name), err)
		}
		if err := request(ctx, func() error {
			if err := b.bucket.Delete(ctx, obj.Key); gcerrors.Code(err) != gcerrors.NotFound {
				return err
			}
			return nil
		}); err != nil {
			return fmt.Errorf("remove %s: %w", b.prefix+obj.Key, err)
		}
	}
}

func (b *blobStore) RemoveTemps(ctx context.Context, sub string) error {
	ents, err := b.List(ctx, sub)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.IsDir && IsTemp(e.Name) {
			if err := b.Remove(ctx, path.Join(sub, e.Name)); err != nil {
				return err
			}
		}
	}
	return nil
}
