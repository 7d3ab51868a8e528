package mapping

// HeldProcs follows which P each M holds, for an output that draws on an
// M's track the P it held. An M holds one P at a time, but a trace before
// Go 1.22 can give one M several Ps at its start (runs marked OpenStart
// that overlap); of those, the M's track keeps the first to end, and each
// P's own track still has what it ran. The zero value is ready to use.
type HeldProcs struct {
	until map[ThreadID]Time // the end of the last P each M held
}

// Holds reports whether r, a P's run on an M, is to be drawn as the P its
// M held, and notes it if so. A run on no M, or of no P, is not.
func (h *HeldProcs) Holds(r *ProcRun) bool {
	if r.M == NoThread || r.P < 0 {
		return false
	}
	until, ok := h.until[r.M]
	if ok && r.Start < until && r.Flags.Has(OpenStart) {
		return false
	}
	if h.until == nil {
		h.until = make(map[ThreadID]Time)
	}
	h.until[r.M] = max(until, r.End)
	return true
}
