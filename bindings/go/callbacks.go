package ocirt

// #include <stdint.h>
// #include <stddef.h>
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// The functions below run on library threads, never on a goroutine of the caller. The
// library calls one session's callbacks one at a time, in byte order.

//export ocirtgoOutput
func ocirtgoOutput(handle C.uintptr_t, stream C.int, data *C.uint8_t, length C.size_t) C.int {
	sink := cgo.Handle(handle).Value().(*outputSink)
	// The bytes are borrowed from the library for this call only. io.Writer's contract
	// forbids retaining them, so they are passed without a copy.
	chunk := unsafe.Slice((*byte)(unsafe.Pointer(data)), int(length))
	if !sink.write(int(stream), chunk) {
		return 1
	}
	return 0
}

//export ocirtgoDone
func ocirtgoDone(handle C.uintptr_t, result C.int32_t, exitCode C.int32_t) {
	cgo.Handle(handle).Value().(*outputSink).finish()
}

//export ocirtgoFree
func ocirtgoFree(handle C.uintptr_t) {
	deleteHandle(cgo.Handle(handle))
}
