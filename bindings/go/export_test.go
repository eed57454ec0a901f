package ocirt

// LiveHandles returns the number of cgo handles registered for sessions and not yet
// deleted, for the tests' leak check.
func LiveHandles() int64 {
	return liveHandles.Load()
}
