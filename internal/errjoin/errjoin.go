// Package errjoin joins errors as errors.Join does, each once.
//
// A writer whose output failed returns the same error from every call
// after, so a conversion that joins its pass's error with its writer's
// Close, through a layer that did the same, would say one full disk two
// or three times.
package errjoin

import (
	"errors"
	"slices"
	"strings"
)

// Join returns an error that wraps the errors given that are not nil, as
// errors.Join does, leaving out one whose text another has, alone or
// after words of context ("exporting spans: " and the text): the one
// with the context is kept, in the place of the first. The
// parts of an error errors.Join made are taken one by one, so that a
// repeat inside one is left out too. It returns nil if no error is left.
func Join(errs ...error) error {
	var kept []error
	var keep func(err error)
	keep = func(err error) {
		if parts := joined(err); parts != nil {
			for _, e := range parts {
				keep(e)
			}
			return
		}
		if err == nil {
			return
		}
		text := err.Error()
		// An error another one wraps with words of context in front
		// ("exporting spans: " and the same write's error) is said once,
		// with the context.
		if slices.ContainsFunc(kept, func(k error) bool { return k.Error() == text || strings.HasSuffix(k.Error(), ": "+text) }) {
			return
		}
		if i := slices.IndexFunc(kept, func(k error) bool { return strings.HasSuffix(text, ": "+k.Error()) }); i >= 0 {
			kept[i] = err
			return
		}
		kept = append(kept, err)
	}
	for _, err := range errs {
		keep(err)
	}
	return errors.Join(kept...)
}

// Split returns the errors that Join (or errors.Join) joined into err,
// nested joins flattened, or err alone; none for nil.
func Split(err error) []error {
	if err == nil {
		return nil
	}
	parts := joined(err)
	if parts == nil {
		return []error{err}
	}
	var all []error
	for _, e := range parts {
		all = append(all, Split(e)...)
	}
	return all
}

// joined returns the parts of an error that errors.Join made, whose text
// is theirs line by line, and nil for any other: an error that wraps
// several with words of its own (fmt.Errorf with two %w) must keep them.
func joined(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return nil
	}
	parts := j.Unwrap()
	texts := make([]string, len(parts))
	for i, e := range parts {
		texts[i] = e.Error()
	}
	if strings.Join(texts, "\n") != err.Error() {
		return nil
	}
	return parts
}
