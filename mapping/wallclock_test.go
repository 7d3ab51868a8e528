package mapping

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestNoWallClockWording: a wall-clock bound on a trace without a clock
// says why it has none: its format has none (before Go 1.25), or its
// format has one and it is damaged.
func TestNoWallClockWording(t *testing.T) {
	b := Bound{Wall: time.Date(2026, 12, 5, 16, 35, 12, 0, time.UTC)}
	for version, why := range map[string]string{
		"go1.23": "(Go 1.25+ traces do)",
		"go1.25": "(its first clock snapshot is damaged)",
		"go1.26": "(its first clock snapshot is damaged)",
	} {
		_, err := b.resolve(&Meta{FormatVersion: version})
		if !errors.Is(err, ErrNoWallClock) || !strings.Contains(err.Error(), why) {
			t.Errorf("%s: %v, want it to say %s", version, err, why)
		}
	}
}
