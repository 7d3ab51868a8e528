package otel

import (
	"fmt"
	"os"
	"testing"

	"github.com/trace2x/trace2x/mapping"
)

type dump struct {
	mapping.NopSink
	stacks map[mapping.StackID]*mapping.Stack
}

func (d *dump) Stack(s *mapping.Stack) error {
	c := *s
	c.Frames = append([]mapping.Frame(nil), s.Frames...)
	d.stacks[s.ID] = &c
	return nil
}
func (d *dump) Task(t *mapping.Task) error {
	fmt.Printf("TASK %+v\n", *t)
	if s := d.stacks[t.Stack]; s != nil {
		for _, f := range s.Frames {
			fmt.Printf("    %s %s:%d\n", f.Func, f.File, f.Line)
		}
	}
	return nil
}
func (d *dump) Region(r *mapping.Region) error { fmt.Printf("REGION %+v\n", *r); return nil }
func (d *dump) Log(l *mapping.Log) error       { fmt.Printf("LOG %+v\n", *l); return nil }
func (d *dump) Begin(m *mapping.Meta) error    { fmt.Printf("META %+v %+v\n", *m, m.Clock); return nil }

func TestScratch(t *testing.T) {
	f, _ := os.Open(os.Getenv("TRACE"))
	defer f.Close()
	_, err := mapping.Map(f, &dump{stacks: map[mapping.StackID]*mapping.Stack{}})
	fmt.Println(err)
}
