package inputs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
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
