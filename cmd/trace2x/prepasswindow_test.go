package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/trace2x/trace2x/internal/tracefile"
	"github.com/trace2x/trace2x/mapping"
)

// TestPrepassToWindowEnd: the first pass of a region or task filter over
// a file stops after the window's end (a task filter's once the tasks
// open there have ended), where over a stream (and for a related filter)
// it reads everything; what each keeps is the same, in
// windows at the start, the middle and the end of a trace of many
// generations, with a task and a region open throughout, short tasks in
// each generation, and goroutines that take part in the long task, and
// relate to each other, through channels all along.
func TestPrepassToWindowEnd(t *testing.T) {
	var long taskStarter
	path, data, gens := generationsFile(t, &long)
	if long.g == mapping.NoGoroutine {
		t.Fatal("no long task")
	}
	at := func(k int) string { return fmt.Sprintf("%dns", gens[k].Start-gens[0].Start) }
	n := len(gens)
	for _, w := range [][2]string{{"", at(1)}, {at(2), at(4)}, {at(n - 2), ""}} {
		for _, sel := range [][]string{{"--task", "step"}, {"--task", "long"}, {"--region", "outer"}, {"--region", "work"},
			{"--goroutine", fmt.Sprint(long.g), "--related"}} {
			args := append([]string{"stats", "--json"}, sel...)
			if w[0] != "" {
				args = append(args, "--from", w[0])
			}
			if w[1] != "" {
				args = append(args, "--to", w[1])
			}
			fromFile := stripInput(t, runOK(t, nil, append(args, path)...))
			fromStream := stripInput(t, runOK(t, data, append(args, "-")...))
			if !reflect.DeepEqual(fromFile, fromStream) {
				for _, k := range slices.Sorted(maps.Keys(fromFile)) {
					if !reflect.DeepEqual(fromFile[k], fromStream[k]) {
						t.Errorf("%v: %s from the file %v, from a stream %v", args[2:], k, fromFile[k], fromStream[k])
					}
				}
			}
			if fromFile["tasks"] == nil && fromFile["regions"] == nil {
				t.Errorf("%v: no tasks or regions counted", args[2:])
			}
		}
	}
}

// taskStarter finds the goroutine that began the task of type "long".
// generationsFile records synth.RecordGenerations' trace of six rounds
// into a file, and returns its path, its bytes and its generations, after
// mapping it into sink.
func generationsFile(t *testing.T, sink mapping.Sink) (string, []byte, []tracefile.Generation) {
	t.Helper()
	path := recordGenerations(t, 6)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := tracefile.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil || len(idx.Generations) < 6 {
		t.Fatalf("%d generations, error %v", len(idx.Generations), err)
	}
	if _, err := mapping.Map(bytes.NewReader(data), sink); err != nil {
		t.Fatal(err)
	}
	return path, data, idx.Generations
}

type taskStarter struct {
	mapping.NopSink
	g mapping.GoID
}

func (s *taskStarter) Task(k *mapping.Task) error {
	if k.Type == "long" {
		s.g = k.StartG
	}
	return nil
}

func runOK(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	code, out, errs := runCmd(t, stdin, args...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errs)
	}
	return out
}

// stripInput is stats' JSON without what names the input and how it was
// read.
func stripInput(t *testing.T, out string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"input", "bytes_read", "generation_spans"} {
		delete(m, k)
	}
	return m
}
