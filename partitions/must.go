package partitions

// MustTimeWindow is NewTimeWindow that panics on error, for package-level
// declarations in examples and tests.
func MustTimeWindow(opts TimeWindowOpts) *TimeWindow {
	w, err := NewTimeWindow(opts)
	if err != nil {
		panic(err)
	}
	return w
}

// MustStatic is NewStatic that panics on error, for package-level
// declarations in examples and tests.
func MustStatic(keys ...string) *Static {
	s, err := NewStatic(keys...)
	if err != nil {
		panic(err)
	}
	return s
}
