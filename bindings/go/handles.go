package ocirt

import (
	"runtime/cgo"
	"sync/atomic"
)

// liveHandles counts the cgo handles this package registered and has not deleted yet. The
// tests check that it returns to zero, which shows that every session's userdata was freed.
var liveHandles atomic.Int64

// newHandle registers v for the library's callbacks, which receive the handle as userdata.
func newHandle(v any) cgo.Handle {
	liveHandles.Add(1)
	return cgo.NewHandle(v)
}

// deleteHandle releases a handle from newHandle, once per handle. The library's
// userdata_free callback calls it when the call that took the callbacks succeeded. When that
// call failed, the library never calls userdata_free, so the caller deletes the handle.
func deleteHandle(h cgo.Handle) {
	h.Delete()
	liveHandles.Add(-1)
}
