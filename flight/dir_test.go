package flight

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

// fill writes n bytes.
func fill(n int) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write([]byte(strings.Repeat("x", n)))
		return err
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestDirLimits: the oldest trace2x files go first, to keep within the
// count and the size; other files are never touched; a snapshot larger
// than the size alone is not kept; a failed write leaves nothing.
func TestDirLimits(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "traces") // created by newDirStore
	d, err := newDirStore(dir, 3, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), make([]byte, 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var written []string
	for i := range 5 {
		path, removed, err := d.write(t0.Add(time.Duration(i)*time.Second), int64(i), "slow", fill(100))
		if err != nil {
			t.Fatal(err)
		}
		written = append(written, filepath.Base(path))
		if want := max(0, i-2); removed != min(1, want) {
			t.Errorf("write %d removed %d files, want %d", i, removed, min(1, want))
		}
	}
	want := append([]string{"notes.txt"}, written[2:]...)
	slices.Sort(want)
	if got := listDir(t, dir); !slices.Equal(got, want) {
		t.Errorf("after 5 writes with a limit of 3 files:\n got %q\nwant %q", got, want)
	}

	// By size: 850 bytes beside three files of 100 is one file too many
	// and, without the oldest, still 50 bytes too many.
	path, removed, err := d.write(t0.Add(time.Minute), 10, "big", fill(850))
	if err != nil {
		t.Fatal(err)
	}
	if removed != 2 {
		t.Errorf("an 850-byte file beside three of 100 removed %d, want 2", removed)
	}
	want = []string{"notes.txt", written[4], filepath.Base(path)}
	slices.Sort(want)
	if got := listDir(t, dir); !slices.Equal(got, want) {
		t.Errorf("after the big write:\n got %q\nwant %q", got, want)
	}

	// A file over the size limit alone is not kept, with an error, and
	// the files that fit stay.
	_, removed, err = d.write(t0.Add(2*time.Minute), 11, "huge", fill(1001))
	if err == nil || !strings.Contains(err.Error(), "larger than the directory's limit") || removed != 0 {
		t.Errorf("a file over the limit alone: error %v, %d removed", err, removed)
	}
	if got := listDir(t, dir); !slices.Equal(got, want) {
		t.Errorf("after the huge write: %q, want %q as before it", got, want)
	}

	// A fill that fails leaves no file, not even the temporary one.
	boom := errors.New("boom")
	if _, _, err := d.write(t0.Add(3*time.Minute), 12, "x", func(w io.Writer) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("failed fill: error %v", err)
	}
	if got := listDir(t, dir); !slices.Equal(got, want) {
		t.Errorf("after a failed write: %q", got)
	}
}

// TestDirUnwritable: a directory that cannot be made is an error at Start.
func TestDirUnwritable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Start(WithDir(filepath.Join(file, "traces")))
	if err == nil || !strings.Contains(err.Error(), "directory for snapshots") {
		t.Errorf("Start with a directory under a file: %v", err)
	}
}

func TestFileName(t *testing.T) {
	got := fileName(time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("x", 3600)), 7, "GET /a b")
	if want := "trace2x-20260102T020405.000006Z-7-GET__a_b.pftrace"; got != want {
		t.Errorf("fileName = %q, want %q", got, want)
	}
}

// fullWriter takes n bytes, then fails every write as a full disk does.
type fullWriter struct{ n int }

var errDiskFull = errors.New("no space left on device")

func (w *fullWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		n := w.n
		w.n = 0
		return n, errDiskFull
	}
	w.n -= len(p)
	return len(p), nil
}

// TestConvertFullDisk: a snapshot's conversion into an output that fills
// up fails with the output's error, said once: the converter returns it
// again from Close, and the error is logged and served as it is.
func TestConvertFullDisk(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "mixed.go1.26.trace"))
	if err != nil {
		t.Fatal(err)
	}
	r := &Recorder{name: "test"}
	for _, f := range []string{"perfetto", "chrome"} {
		for _, n := range []int{0, 1 << 10, 8 << 10} {
			err := r.convert(t.Context(), &fullWriter{n: n}, bytes.NewReader(data), format{name: f})
			if !errors.Is(err, errDiskFull) || strings.Count(err.Error(), errDiskFull.Error()) != 1 {
				t.Errorf("%s into an output full after %d bytes: %q, want the output's error once", f, n, err)
			}
		}
	}
}

// TestDirRemoved: a directory removed after Start is made again by the
// next snapshot, instead of failing every one until a restart.
func TestDirRemoved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "traces")
	d, err := newDirStore(dir, 3, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	path, _, err := d.write(time.Now(), 1, "after", fill(10))
	if err != nil {
		t.Fatalf("write into a removed directory: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Error(err)
	}
}

// TestFileMode: the files are readable by the program's group (0640, less
// what the umask takes), not only by their owner.
func TestFileMode(t *testing.T) {
	dir := t.TempDir()
	ref, err := os.OpenFile(filepath.Join(dir, "ref"), os.O_CREATE|os.O_WRONLY, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	info, err := ref.Stat()
	ref.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := info.Mode().Perm()
	if want == 0o600 {
		t.Skip("the umask takes the group's read permission away")
	}
	d, err := newDirStore(dir, 3, 1000)
	if err != nil {
		t.Fatal(err)
	}
	path, _, err := d.write(time.Now(), 1, "mode", fill(10))
	if err != nil {
		t.Fatal(err)
	}
	info, err = os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != want {
		t.Errorf("file mode %v, want %v", got, want)
	}
}

// smallDisk is a disk of capacity bytes holding the files of dir: a
// write past it fails as a full disk's does.
type smallDisk struct {
	dir      string
	capacity int64
}

func (d *smallDisk) wrap(w io.Writer) io.Writer { return diskWriter{d, w} }

type diskWriter struct {
	d *smallDisk
	w io.Writer
}

func (w diskWriter) Write(p []byte) (int, error) {
	var used int64
	entries, _ := os.ReadDir(w.d.dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			used += info.Size()
		}
	}
	free := max(w.d.capacity-used, 0)
	if int64(len(p)) <= free {
		return w.w.Write(p)
	}
	n, _ := w.w.Write(p[:free])
	return n, &os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}
}

// TestDirFull: a snapshot that finds the disk full removes the oldest
// trace2x files, as many as its whole size needs, and fits, the newest
// too where the others do not make the room (a large snapshot that
// filled the disk would keep out every later one); it removes none where
// they could not make the room (other
// files fill the disk, or the snapshot is larger than all of them): it
// fails with the disk's error, after one try.
func TestDirFull(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		other   int   // bytes of a file of another program
		old     []int // the sizes of the snapshots already there
		size    int   // the new snapshot's
		removed int
	}{
		{"room made", 0, []int{200 << 10, 200 << 10, 200 << 10}, 600 << 10, 2},
		{"only the newest makes room", 0, []int{50 << 10, 850 << 10}, 300 << 10, 2},
		{"the newest alone", 0, []int{900 << 10}, 300 << 10, 1},
		{"larger than all", 0, []int{200 << 10, 200 << 10, 200 << 10}, 5 << 20, 0},
		{"other files fill it", 800 << 10, []int{20 << 10, 20 << 10, 20 << 10}, 300 << 10, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			d, err := newDirStore(dir, 10, 100<<20)
			if err != nil {
				t.Fatal(err)
			}
			if tc.other > 0 {
				if err := os.WriteFile(filepath.Join(dir, "other.dat"), make([]byte, tc.other), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for i, n := range tc.old {
				if _, _, err := d.write(t0.Add(time.Duration(i)*time.Second), int64(i), "old", fill(n)); err != nil {
					t.Fatal(err)
				}
			}
			before := listDir(t, dir)
			d.disk = (&smallDisk{dir, 1 << 20}).wrap
			tries := 0
			path, removed, err := d.write(t0.Add(time.Hour), 9, "new", func(w io.Writer) error {
				tries++
				return fill(tc.size)(w)
			})
			if removed != tc.removed {
				t.Errorf("%d files removed, want %d", removed, tc.removed)
			}
			if tc.removed == 0 {
				if !errors.Is(err, syscall.ENOSPC) || tries != 1 {
					t.Errorf("write: %v in %d tries; want the disk's error after one", err, tries)
				}
				if names := listDir(t, dir); !slices.Equal(names, before) {
					t.Errorf("files %q left after failing, want %q as they were", names, before)
				}
				return
			}
			if err != nil || tries != 2 {
				t.Fatalf("write: %v in %d tries; want the file in 2", err, tries)
			}
			want := append(slices.Clone(before[tc.removed:]), filepath.Base(path))
			if names := listDir(t, dir); !slices.Equal(names, want) {
				t.Errorf("files %q, want %q", names, want)
			}
		})
	}
}

// TestDirAbandonedTemps: where files have locks, Start removes a temporary
// file that no program holds (its writer died) as soon as it is older than
// unlockedTemp, not an hour later, and keeps one whose writer holds it.
func TestDirAbandonedTemps(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no advisory file locks on " + runtime.GOOS)
	}
	dir := t.TempDir()
	held, err := createTemp(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	dead, err := createTemp(dir)
	if err != nil {
		t.Fatal(err)
	}
	dead.Close() // its writer died: the lock is let go
	old := time.Now().Add(-2 * unlockedTemp)
	for _, f := range []*os.File{held, dead} {
		if err := os.Chtimes(f.Name(), old, old); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := newDirStore(dir, 3, 1000); err != nil {
		t.Fatal(err)
	}
	if names := listDir(t, dir); !slices.Equal(names, []string{filepath.Base(held.Name())}) {
		t.Errorf("files %q, want the one still held alone", names)
	}
}

// TestDirStaleTemps: Start removes the temporary files a program that died
// while writing left, but not one another program may be writing now.
func TestDirStaleTemps(t *testing.T) {
	dir := t.TempDir()
	stale, fresh, other := filepath.Join(dir, ".trace2x-old.tmp"), filepath.Join(dir, ".trace2x-new.tmp"), filepath.Join(dir, ".other.tmp")
	for _, p := range []string{stale, fresh, other} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * staleTemp)
	for _, p := range []string{stale, other} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := newDirStore(dir, 3, 1000); err != nil {
		t.Fatal(err)
	}
	if names := listDir(t, dir); !slices.Equal(names, []string{".other.tmp", ".trace2x-new.tmp"}) {
		t.Errorf("files %q, want the stale temporary file alone removed", names)
	}
}
