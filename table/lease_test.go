package table

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/featurizer/featurizer/internal/testservers"
	"github.com/featurizer/featurizer/storage"
)

// leaseDirs are the places a lease must work: local disk, memory, and a
// real S3 server (MinIO).
func leaseDirs(t *testing.T) map[string]func(name string) storage.Store {
	t.Helper()
	ctx := context.Background()
	open := func(loc string) storage.Store {
		d, err := storage.Open(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	root := t.TempDir()
	m := testservers.MinIO(t)
	return map[string]func(string) storage.Store{
		"local": func(name string) storage.Store { return open(filepath.Join(root, name)) },
		"mem":   func(name string) storage.Store { return open("mem://lease/" + name) },
		"minio": func(name string) storage.Store { return open(m.URL(name)) },
	}
}

func job(input string, shards int) Job {
	return Job{Kind: "features", Input: input, Provenance: Provenance{Backbone: "tiny"}, RowsPerPart: 10, Shards: shards}
}

// One job at a time: the same job (its shards, or its rerun) joins the
// lease and its run; another job is refused while the lease is renewed,
// naming who holds it; once the heartbeat is older than the stale limit
// it may be taken over (only with TakeOver), and the old holder finds out
// at its next heartbeat.
func TestLease(t *testing.T) {
	ctx := context.Background()
	for name, dirOf := range leaseDirs(t) {
		t.Run(name, func(t *testing.T) {
			d := dirOf("one")
			a, err := AcquireLease(ctx, d, LeaseOptions{Job: job("in/a", 2), Host: "hostA", PID: 101})
			if err != nil {
				t.Fatal(err)
			}
			if !a.Created() || a.Run() == "" {
				t.Fatalf("first acquisition: created %v run %q", a.Created(), a.Run())
			}
			sib, err := AcquireLease(ctx, d, LeaseOptions{Job: job("in/a", 2), Host: "hostB", PID: 202})
			if err != nil {
				t.Fatalf("a shard of the same job was refused: %v", err)
			}
			if sib.Created() || sib.Run() != a.Run() {
				t.Errorf("the sibling did not join the run: created %v, run %s vs %s", sib.Created(), sib.Run(), a.Run())
			}
			// Another job: refused, with who holds the output.
			_, err = AcquireLease(ctx, d, LeaseOptions{Job: job("in/b", 1), Host: "hostC", PID: 303, TakeOver: true})
			var be *BusyError
			if !errors.As(err, &be) || be.Stale || !strings.Contains(err.Error(), "being written by another job") ||
				!strings.Contains(err.Error(), "host hostB, pid 202") || !strings.Contains(err.Error(), "in/a as 2 shards") {
				t.Fatalf("another job: %v", err)
			}
			// The shard count is part of the job.
			if _, err := AcquireLease(ctx, d, LeaseOptions{Job: job("in/a", 3)}); !errors.As(err, &be) {
				t.Errorf("another layout of the same settings: %v", err)
			}
			// Ten minutes later, nobody renewed it.
			later := func() time.Time { return time.Now().Add(10 * time.Minute) }
			_, err = AcquireLease(ctx, d, LeaseOptions{Job: job("in/b", 1), Host: "hostC", PID: 303, Now: later})
			if !errors.As(err, &be) || !be.Stale || !strings.Contains(err.Error(), "interrupted run of another job") || !strings.Contains(err.Error(), "--overwrite") {
				t.Fatalf("stale, without TakeOver: %v", err)
			}
			c, err := AcquireLease(ctx, d, LeaseOptions{Job: job("in/b", 1), Host: "hostC", PID: 303, Now: later, TakeOver: true})
			if err != nil {
				t.Fatalf("stale, with TakeOver: %v", err)
			}
			if !c.Created() || c.Run() == a.Run() {
				t.Errorf("takeover: created %v, run %s", c.Created(), c.Run())
			}
			if err := a.Renew(ctx); !errors.Is(err, ErrLeaseLost) || !strings.Contains(err.Error(), "host hostC, pid 303") {
				t.Errorf("the old holder's heartbeat: %v", err)
			}
			if err := a.Renew(ctx); !errors.Is(err, ErrLeaseLost) {
				t.Errorf("a lost lease renewed again: %v", err)
			}
			if err := a.MarkDone(ctx); !errors.Is(err, ErrLeaseLost) {
				t.Errorf("a lost lease marked done: %v", err)
			}
			// The old holder's release does not remove the new lease.
			a.Release(ctx)
			if l, err := ReadLease(ctx, d); err != nil || l.Run != c.Run() {
				t.Errorf("after the old holder's release: %+v %v", l, err)
			}
			// A completed run's lease is anyone's at once, even left behind.
			if err := c.MarkDone(ctx); err != nil {
				t.Fatal(err)
			}
			e, err := AcquireLease(ctx, d, LeaseOptions{Job: job("in/e", 1)})
			if err != nil {
				t.Fatalf("after a completed run: %v", err)
			}
			if err := e.Release(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := ReadLease(ctx, d); err == nil {
				t.Error("the lease is still there after Release")
			}
			for _, n := range listNamesOf(t, d) {
				if strings.HasPrefix(n, leaseTakeover) || storage.IsTemp(n) {
					t.Errorf("%s left behind", n)
				}
			}
		})
	}
}

func listNamesOf(t *testing.T, d storage.Store) []string {
	ents, _ := d.List(context.Background(), "")
	var out []string
	for _, e := range ents {
		out = append(out, e.Name)
	}
	return out
}

// A single process killed by kill -9 on this host leaves a lease whose
// pid is dead: another job may take it over at once (with TakeOver),
// without waiting for the stale limit. A live pid is not taken over.
func TestLeaseDeadProcess(t *testing.T) {
	ctx := context.Background()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip(err)
	}
	dead := cmd.Process.Pid
	d := storage.NewLocal(t.TempDir())
	o := LeaseOptions{Job: job("in/a", 1), PID: dead}
	o.defaults()
	o.PID, o.PIDNS = dead, pidNS()
	if o.PIDNS == "" {
		t.Skip("no /proc/self/ns/pid")
	}
	if _, err := AcquireLease(ctx, d, o); err != nil {
		t.Fatal(err)
	}
	var be *BusyError
	if _, err := AcquireLease(ctx, d, LeaseOptions{Job: job("in/b", 1)}); !errors.As(err, &be) || !be.Stale {
		t.Fatalf("dead holder, without TakeOver: %v", err)
	}
	if _, err := AcquireLease(ctx, d, LeaseOptions{Job: job("in/b", 1), TakeOver: true}); err != nil {
		t.Fatalf("dead holder, with TakeOver: %v", err)
	}
	// This process is alive: its lease is not stale.
	if _, err := AcquireLease(ctx, d, LeaseOptions{Job: job("in/c", 1), TakeOver: true}); !errors.As(err, &be) || be.Stale {
		t.Fatalf("live holder: %v", err)
	}
	// A sharded job's lease is alive while any of its processes is: here
	// one on another host, renewing.
	d2 := storage.NewLocal(t.TempDir())
	o2 := o
	o2.Job = job("in/a", 2)
	if _, err := AcquireLease(ctx, d2, o2); err != nil {
		t.Fatal(err)
	}
	if _, err := AcquireLease(ctx, d2, LeaseOptions{Job: job("in/b", 1)}); !errors.As(err, &be) || !be.Stale {
		// only the dead process holds it so far: stale
		t.Fatalf("sharded job, its only process dead: %v", err)
	}
	if _, err := AcquireLease(ctx, d2, LeaseOptions{Job: job("in/a", 2), Host: "elsewhere", PID: 7, Shard: "1/2"}); err != nil {
		t.Fatal(err)
	}
	_, err := AcquireLease(ctx, d2, LeaseOptions{Job: job("in/b", 1), TakeOver: true})
	if !errors.As(err, &be) || be.Stale || !strings.Contains(err.Error(), "host elsewhere, pid 7 (shard 1/2)") {
		t.Fatalf("sharded job with a live process elsewhere: %v", err)
	}
}

// The shards of a job leave the lease as they end: once none is left, the
// run is an interrupted one (another job needs --overwrite, and gets it at
// once), and a shard of the same job joins it again.
func TestLeaseLeave(t *testing.T) {
	ctx := context.Background()
	d := storage.NewLocal(t.TempDir())
	a, err := AcquireLease(ctx, d, LeaseOptions{Job: job("in/a", 2), Shard: "0/2"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := AcquireLease(ctx, d, LeaseOptions{Job: job("in/a", 2), Shard: "1/2", Host: "other", PID: 9})
	if err != nil {
		t.Fatal(err)
	}
	var be *BusyError
	if err := a.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := AcquireLease(ctx, d, LeaseOptions{Job: job("in/c", 1), TakeOver: true}); !errors.As(err, &be) || be.Stale {
		t.Fatalf("one shard still running: %v", err)
	}
	if err := b.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = AcquireLease(ctx, d, LeaseOptions{Job: job("in/c", 1)})
	if !errors.As(err, &be) || !be.Stale || !strings.Contains(err.Error(), "no process left") {
		t.Fatalf("every shard gone: %v", err)
	}
	again, err := AcquireLease(ctx, d, LeaseOptions{Job: job("in/a", 2), Shard: "1/2"})
	if err != nil || again.Run() != a.Run() {
		t.Fatalf("a shard of the same job did not join its run: %v", err)
	}
	again.Leave(ctx)
	c, err := AcquireLease(ctx, d, LeaseOptions{Job: job("in/c", 1), TakeOver: true})
	if err != nil || c.Run() == a.Run() {
		t.Fatalf("takeover of an abandoned run: %v", err)
	}
}

// Stopping the heartbeat right after starting it returns at once (a
// refused job ends within milliseconds of taking the lease).
func TestLeaseStopAtOnce(t *testing.T) {
	ctx := context.Background()
	d := storage.NewLocal(t.TempDir())
	done := make(chan bool)
	go func() {
		for i := 0; i < 200; i++ {
			h, err := AcquireLease(ctx, d, LeaseOptions{Job: job("in/a", 1), Every: time.Millisecond})
			if err != nil {
				t.Error(err)
				break
			}
			h.Keep(nil)
			if i%2 == 0 {
				time.Sleep(time.Millisecond)
			}
			h.Release(ctx)
		}
		done <- true
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Keep then Release hangs")
	}
}

func pidNS() string {
	o := LeaseOptions{}
	o.defaults()
	return o.PIDNS
}

// Many jobs starting at once, and many taking over one stale lease at
// once: exactly one holds the output.
func TestLeaseRace(t *testing.T) {
	ctx := context.Background()
	for name, dirOf := range leaseDirs(t) {
		t.Run(name, func(t *testing.T) {
			for _, stale := range []bool{false, true} {
				d := dirOf(map[bool]string{false: "race", true: "takeover"}[stale])
				now := time.Now
				if stale {
					old := func() time.Time { return time.Now().Add(-time.Hour) }
					if _, err := AcquireLease(ctx, d, LeaseOptions{Job: job("in/old", 2), Now: old}); err != nil {
						t.Fatal(err)
					}
				}
				const n = 6
				held := make([]*Held, n)
				errs := make([]error, n)
				var wg sync.WaitGroup
				for i := 0; i < n; i++ {
					wg.Add(1)
					go func(i int) {
						defer wg.Done()
						held[i], errs[i] = AcquireLease(ctx, d, LeaseOptions{Job: job("in/"+string(rune('a'+i)), 1), TakeOver: true, Now: now})
					}(i)
				}
				wg.Wait()
				winners := 0
				for i := range held {
					var be *BusyError
					switch {
					case errs[i] == nil:
						winners++
					case !errors.As(errs[i], &be) || be.Stale:
						t.Errorf("stale %v, job %d: %v", stale, i, errs[i])
					}
				}
				if winners != 1 {
					t.Errorf("stale %v: %d jobs hold the output", stale, winners)
				}
				for _, nme := range listNamesOf(t, d) {
					if strings.HasPrefix(nme, leaseTakeover) {
						t.Errorf("token %s left behind", nme)
					}
				}
			}
		})
	}
}

// The heartbeat renews the lease; a sibling that finished and removed it
// does not make a running shard lose it (it is put back).
func TestLeaseHeartbeat(t *testing.T) {
	ctx := context.Background()
	d := storage.NewLocal(t.TempDir())
	a, err := AcquireLease(ctx, d, LeaseOptions{Job: job("in/a", 2), Every: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := ReadLease(ctx, d)
	lost := make(chan error, 1)
	a.Keep(func(err error) { lost <- err })
	time.Sleep(400 * time.Millisecond)
	if l, _ := ReadLease(ctx, d); len(l.Holders) != 1 || !l.Holders[0].Heartbeat.After(first.Holders[0].Heartbeat) {
		t.Errorf("heartbeat not renewed: %+v, then %+v", first.Holders, l.Holders)
	}
	d.Remove(ctx, LeaseFile)
	time.Sleep(400 * time.Millisecond)
	if l, err := ReadLease(ctx, d); err != nil || l.Run != a.Run() {
		t.Errorf("the lease was not put back: %+v %v", l, err)
	}
	// Another job takes it over (it was judged stale, between two beats):
	// the next beat reports the loss.
	if _, err := AcquireLease(ctx, d, LeaseOptions{Job: job("in/b", 1), TakeOver: true, Now: func() time.Time { return time.Now().Add(time.Hour) }}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-lost:
		if !errors.Is(err, ErrLeaseLost) {
			t.Errorf("lost: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("the heartbeat did not notice the takeover")
	}
	a.Stop()
}

// The run's other processes commit nothing until the process that created
// the lease has prepared the output, or is gone.
func TestLeasePrepared(t *testing.T) {
	ctx := context.Background()
	d := storage.NewLocal(t.TempDir())
	a, err := AcquireLease(ctx, d, LeaseOptions{Job: job("in/a", 2), Shard: "0/2"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := AcquireLease(ctx, d, LeaseOptions{Job: job("in/a", 2), Shard: "1/2", PID: os.Getpid() + 1000000})
	if err != nil || b.Created() {
		t.Fatal(err)
	}
	checked := make(chan error, 1)
	go func() { checked <- b.Check(ctx) }()
	select {
	case err := <-checked:
		t.Fatalf("a sibling may commit before the output is prepared: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := a.MarkPrepared(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-checked:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the sibling still waits after the output was prepared")
	}
	a.Release(ctx)
	if got := listNamesOf(t, d); len(got) != 0 {
		t.Errorf("left after Release: %v", got)
	}
	// A creator that died before it was done does not hold the run up.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip(err)
	}
	d2 := storage.NewLocal(t.TempDir())
	if _, err := AcquireLease(ctx, d2, LeaseOptions{Job: job("in/a", 2), PID: cmd.Process.Pid, PIDNS: pidNS()}); err != nil {
		t.Fatal(err)
	}
	c, err := AcquireLease(ctx, d2, LeaseOptions{Job: job("in/a", 2)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Check(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waits for a dead creator")
	}
}

// A lease temporary left by a writer killed between writing it and linking
// it into place is removed by the next run at once when its process is
// gone from this host; one whose writer lives, or whose content tells
// nothing (a mark, or an empty file just created), stays until it is a
// minute old.
func TestLeaseTempOfADeadWriter(t *testing.T) {
	ctx := context.Background()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip(err)
	}
	if pidNS() == "" {
		t.Skip("no /proc/self/ns/pid")
	}
	root := t.TempDir()
	d := storage.NewLocal(root)
	lease := func(pid int) []byte {
		o := LeaseOptions{Job: job("in/a", 1)}
		o.defaults()
		b, err := json.Marshal(Lease{Job: o.Job.ID(), Run: "r", Shards: 1, Holders: []Holder{{Host: o.Host, PIDNS: pidNS(), PID: pid, Heartbeat: time.Now()}}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	files := map[string][]byte{
		"._lease.json.tmp-dead":              lease(cmd.Process.Pid),
		"._lease.json.tmp-live":              lease(os.Getpid()),
		"._lease.json.tmp-empty":             nil,
		"._lease.prepared-r.tmp-mark":        []byte("r"),
		".part-00000-r.parquet.tmp-leftover": []byte("x"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(root, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := removeTemps(ctx, d); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		_, err := os.Stat(filepath.Join(root, name))
		gone := errors.Is(err, os.ErrNotExist)
		want := name == "._lease.json.tmp-dead" || name == ".part-00000-r.parquet.tmp-leftover"
		if gone != want {
			t.Errorf("%s: removed %v, want %v", name, gone, want)
		}
	}
	// The same through a shard's own cleanup.
	if err := os.WriteFile(filepath.Join(root, "._lease.json.tmp-dead"), lease(cmd.Process.Pid), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := (Shard{Index: 0, Count: 2}).removeTemps(ctx, d, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "._lease.json.tmp-dead")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a shard's cleanup kept the dead writer's lease temporary: %v", err)
	}
}
