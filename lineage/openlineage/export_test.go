package openlineage

// SetEventPage sets how many tasks EachRunEvent reads at a time, for a
// test; the returned func restores it.
func SetEventPage(n int) func() {
	old := eventPage
	eventPage = n
	return func() { eventPage = old }
}
