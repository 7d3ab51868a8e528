package perfetto_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/trace2x/trace2x/convert/perfetto/perfettocheck"
	"github.com/trace2x/trace2x/mapping"
)

// TestLogNames checks how logs are named: "[category] message" as go tool
// trace names them, the message alone without a category, and the
// category as an argument only where the name does not tell it; the task
// is an argument. Log names past the writer's table of recent ones are
// interned again, so every log keeps its own name.
func TestLogNames(t *testing.T) {
	const start = mapping.Time(1 << 40)
	var out bytes.Buffer
	w, must := begun(t, &out, "logs", start)
	type want struct {
		name string
		args map[string]any
	}
	cases := []struct {
		cat, msg string
		task     mapping.TaskID
		want     want
	}{
		{"db", "rows", 7, want{"[db] rows", map[string]any{"task": uint64(7)}}},
		{"", "plain", mapping.NoTask, want{"plain", map[string]any{}}},
		{"", "[x] y", mapping.NoTask, want{"[x] y", map[string]any{"category": ""}}},
		{"a] b", "c", mapping.NoTask, want{"[a] b] c", map[string]any{"category": "a] b"}}},
		{"[db]", "", mapping.NoTask, want{"[[db]] ", map[string]any{}}},
	}
	var wants []want
	// After the task's start: a log of a task follows its begin.
	for i, c := range cases {
		must(w.Log(&mapping.Log{Time: start + 1 + mapping.Time(i), G: mapping.NoGoroutine, Task: c.task, Category: c.cat, Message: c.msg,
			Stack: mapping.NoStack, P: mapping.NoProc, M: mapping.NoThread}))
		wants = append(wants, c.want)
	}
	// More distinct names than the table of recent ones holds, then the
	// first ones again.
	for i := range 5000 {
		msg := fmt.Sprintf("request %d", i%4500)
		must(w.Log(&mapping.Log{Time: start + 10 + mapping.Time(i), G: mapping.NoGoroutine, Task: mapping.NoTask, Category: "url", Message: msg,
			Stack: mapping.NoStack, P: mapping.NoProc, M: mapping.NoThread}))
		wants = append(wants, want{"[url] " + msg, map[string]any{}})
	}
	must(w.Task(&mapping.Task{ID: 7, Parent: mapping.NoTask, Root: 7, Type: "handle", Start: start, End: start + 9000,
		StartG: mapping.NoGoroutine, EndG: mapping.NoGoroutine, Stack: mapping.NoStack, EndStack: mapping.NoStack}))
	must(w.End(&mapping.Summary{Meta: mapping.Meta{Start: start}, End: start + 10000}))
	rep, err := perfettocheck.Check(&out)
	if err != nil {
		t.Fatal(err)
	}
	var got []want
	for _, in := range rep.Instants {
		if in.Category == "log" {
			got = append(got, want{in.Name, in.Args})
		}
	}
	if len(got) != len(wants) {
		t.Fatalf("%d log instants, want %d", len(got), len(wants))
	}
	for i := range wants {
		if g, w := fmt.Sprint(got[i]), fmt.Sprint(wants[i]); g != w {
			t.Errorf("log %d: got %s, want %s", i, g, w)
		}
	}
}
