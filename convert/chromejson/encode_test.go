package chromejson

import (
	"math"
	"strconv"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

func TestAppendMicros(t *testing.T) {
	for ns, want := range map[int64]string{
		0: "0", 1: "0.001", 10: "0.01", 999: "0.999", 1000: "1", 1500: "1.5",
		1234567: "1234.567", 1234500: "1234.5", -1: "-0.001", -1500: "-1.5",
		9223372036854775807: "9223372036854775.807", -9223372036854775808: "-9223372036854775.808",
	} {
		if got := string(appendMicros(nil, ns)); got != want {
			t.Errorf("appendMicros(%d) = %s, want %s", ns, got, want)
		}
	}
}

// TestAppendInt compares the integer appenders with strconv's on every
// digit-count boundary, the extremes and a spread of values between.
func TestAppendInt(t *testing.T) {
	vals := []uint64{0, math.MaxUint64, math.MaxInt64, math.MaxInt64 + 1}
	for p := uint64(1); p <= 1e19; p *= 10 {
		vals = append(vals, p-1, p, p+1)
		if p == 1e19 {
			break
		}
	}
	for v := uint64(1); v < math.MaxUint64/3; v = v*3 + 1 {
		vals = append(vals, v, v*7/5)
	}
	for v := range uint64(10000) {
		vals = append(vals, v)
	}
	for _, v := range vals {
		prefix := []byte("x:")
		if got, want := string(appendUint(prefix, v)), strconv.FormatUint(v, 10); got != "x:"+want {
			t.Errorf("appendUint(%d) = %s, want x:%s", v, got, want)
		}
		i := int64(v)
		if got, want := string(appendInt(nil, i)), strconv.FormatInt(i, 10); got != want {
			t.Errorf("appendInt(%d) = %s, want %s", i, got, want)
		}
	}
}

// FuzzAppendInt checks the integer appenders against strconv's.
func FuzzAppendInt(f *testing.F) {
	f.Add(uint64(0))
	f.Add(uint64(math.MaxUint64))
	f.Fuzz(func(t *testing.T, v uint64) {
		if got, want := string(appendUint(nil, v)), strconv.FormatUint(v, 10); got != want {
			t.Errorf("appendUint(%d) = %s, want %s", v, got, want)
		}
		if got, want := string(appendInt(nil, int64(v))), strconv.FormatInt(int64(v), 10); got != want {
			t.Errorf("appendInt(%d) = %s, want %s", int64(v), got, want)
		}
	})
}

// TestFrameNames checks the names of the stackFrames table: function and
// place, and for a frame without a name (the runtime writes some) its
// address, without an empty place.
func TestFrameNames(t *testing.T) {
	st := newStackTable()
	st.add(&mapping.Stack{ID: 1, Frames: []mapping.Frame{
		{PC: 0x4a2f10, Func: "main.work", File: "/src/main.go", Line: 12},
		{PC: 0x1234},
		{},
	}})
	want := []string{`"0x0"`, `"0x1234"`, `"main.work /src/main.go:12"`} // outermost first
	if len(st.frames) != len(want) {
		t.Fatalf("frames %q, want %q", st.frames, want)
	}
	for i, f := range st.frames {
		if f != want[i] {
			t.Errorf("frame %d is named %s, want %s", i, f, want[i])
		}
	}
}
