package inputs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func touch(t *testing.T, path string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func collect(t *testing.T, s *Source) []Item {
	t.Helper()
	var out []Item
	if err := s.Walk(context.Background(), func(it Item) error { out = append(out, it); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDirectory(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"b/2.JPG", "b/1.png", "a/deep/x.webp", "root.jpg", "notes.txt", ".hidden/z.jpg", "a/.DS_Store", "empty/"} {
		if strings.HasSuffix(p, "/") {
			os.MkdirAll(filepath.Join(dir, p), 0o755)
			continue
		}
		touch(t, filepath.Join(dir, p))
	}
	s, err := Open(context.Background(), nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(s.Labels, ",") != "a,b,empty" {
		t.Errorf("labels %v", s.Labels)
	}
	items := collect(t, s)
	var got []string
	for i, it := range items {
		if it.Seq != int64(i) {
			t.Errorf("seq %d at %d", it.Seq, i)
		}
		rel, _ := filepath.Rel(dir, it.Path)
		got = append(got, rel+"="+it.Label)
	}
	if strings.Join(got, " ") != "a/deep/x.webp=a b/1.png=b b/2.JPG=b root.jpg=" {
		t.Errorf("items %v", got)
	}
	if s.Skipped != 3 || s.LabelIndex("b") != 1 {
		t.Errorf("skipped %d (%v), index of b %d", s.Skipped, s.SkippedExamples, s.LabelIndex("b"))
	}
}

func TestCSVManifest(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m.csv")
	os.WriteFile(p, []byte("\ufefflabel,path\nzebra,img/1.jpg\n,/abs/2.jpg\nant,img/3.jpg\n"), 0o644)
	s, err := Open(context.Background(), nil, p)
	if err != nil {
		t.Fatal(err)
	}
	items := collect(t, s)
	if strings.Join(s.Labels, ",") != "ant,zebra" || len(items) != 3 {
		t.Fatalf("labels %v items %v", s.Labels, items)
	}
	if items[0].Path != "img/1.jpg" || items[0].Open != filepath.Join(dir, "img/1.jpg") || items[1].HasLabel || items[1].Open != "/abs/2.jpg" {
		t.Errorf("items %+v", items)
	}
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("file,label\na.jpg,x\n"), 0o644)
	if _, err := Open(context.Background(), nil, bad); err == nil || !strings.Contains(err.Error(), `no "path" column`) {
		t.Errorf("got %v", err)
	}
	empty := filepath.Join(dir, "empty-path.csv")
	os.WriteFile(empty, []byte("path\n\n\"\"\n"), 0o644)
	if _, err := Open(context.Background(), nil, empty); err == nil || !strings.Contains(err.Error(), "empty path") {
		t.Errorf("got %v", err)
	}
	if _, err := Open(context.Background(), nil, filepath.Join(dir, "x.json")); err == nil {
		t.Error("a .json file was accepted")
	}
}

// The listing marks what is not a regular file (links followed), so that
// it is never opened; a link that leads nowhere is left to the read.
func TestListingMarksNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.jpg"), []byte("x"), 0o644)
	syscall.Mkfifo(filepath.Join(dir, "pipe.jpg"), 0o644)
	syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644)
	os.Symlink(filepath.Join(dir, "pipe"), filepath.Join(dir, "link.jpg"))
	os.Symlink(filepath.Join(dir, "a.jpg"), filepath.Join(dir, "good-link.jpg"))
	os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "broken.jpg"))
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.Symlink(filepath.Join(dir, "sub"), filepath.Join(dir, "dir-link.jpg"))
	s, err := Open(context.Background(), nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	s.Walk(context.Background(), func(it Item) error { got[filepath.Base(it.Path)] = it.Unreadable; return nil })
	want := map[string]string{"a.jpg": "", "good-link.jpg": "", "broken.jpg": "",
		"pipe.jpg": "not a regular file (named pipe)", "link.jpg": "not a regular file (named pipe)",
		"dir-link.jpg": "not a regular file (directory)"}
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("%s: %q (listed %v), want %q", name, g, ok, w)
		}
	}
}
