package inputs

import (
	"context"
	"errors"
	"fmt"
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

// List passes on what Walk passes on, numbered alike (shard and filter
// applied), without Walk's books: Skipped stays, and a filter's keep is
// never called (its want is); a filter without a want cannot be listed.
func TestListIsWalkWithoutBooks(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 40; i++ {
		touch(t, filepath.Join(dir, "c", fmt.Sprintf("%02d.png", i)))
	}
	touch(t, filepath.Join(dir, "notes.txt"))
	s, err := Open(context.Background(), nil, dir)
	if err != nil {
		t.Fatal(err)
	}
	s.SetShard(1, 3)
	kept := 0
	s.SetFilter(func(it Item) bool { kept++; return !strings.HasSuffix(it.Path, "7.png") },
		func(it Item) bool { return !strings.HasSuffix(it.Path, "7.png") })
	walked := collect(t, s)
	keptByWalk := kept
	s.Skipped, s.SkippedExamples = 99, nil // as if a Walk were under way
	var listed []Item
	if err := s.List(context.Background(), func(it Item) error { listed = append(listed, it); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(walked) == 0 || fmt.Sprint(listed) != fmt.Sprint(walked) {
		t.Fatalf("listed %v, walked %v", listed, walked)
	}
	if kept != keptByWalk || s.Skipped != 99 {
		t.Errorf("List kept books: keep called %d more times, Skipped %d", kept-keptByWalk, s.Skipped)
	}
	s.SetFilter(func(Item) bool { return true }, nil)
	if err := s.List(context.Background(), func(Item) error { return nil }); !errors.Is(err, ErrNoList) {
		t.Errorf("a filter without a want: %v", err)
	}
}
