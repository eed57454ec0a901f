package ocirt

// #include <stdint.h>
// #include <stddef.h>
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// The functions below run on library threads, never on a goroutine of the caller. The
// library calls one session's callbacks one at a time, in the order the bytes arrived.

// ocirtgoOutput writes one chunk of stream 1 (stdout) or 2 (stderr) to the session's
// writer. It returns 1, which stops the session, when the writer failed or panicked.
//
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

// ocirtgoDone marks the session's output as complete. The library calls it once, after
// the last ocirtgoOutput. The result and exit code are read later with ocirt_attach_wait.
//
//export ocirtgoDone
func ocirtgoDone(handle C.uintptr_t, result C.int32_t, exitCode C.int32_t) {
	cgo.Handle(handle).Value().(*outputSink).finish()
}

// ocirtgoFree deletes the session's handle. ocirt_attach_callbacks in ocirt.h specifies
// that the library calls it once, after ocirtgoDone, and only when the call that took the
// callbacks succeeded. LiveHandles lets the tests check that every handle was deleted.
//
//export ocirtgoFree
func ocirtgoFree(handle C.uintptr_t) {
	deleteHandle(cgo.Handle(handle))
}
