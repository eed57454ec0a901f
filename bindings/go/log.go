package ocirt

// #include "ocirt.h"
// #include "callbacks.h"
import "C"

import (
	"sync/atomic"
)

// LogLevel is a level of the library's log, from least to most verbose.
type LogLevel int32

// The library's log levels.
const (
	LogOff   LogLevel = C.OCIRT_LOG_OFF
	LogError LogLevel = C.OCIRT_LOG_ERROR
	LogWarn  LogLevel = C.OCIRT_LOG_WARN
	LogInfo  LogLevel = C.OCIRT_LOG_INFO
	LogDebug LogLevel = C.OCIRT_LOG_DEBUG
	LogTrace LogLevel = C.OCIRT_LOG_TRACE
)

// LogFunc receives one record of the library's log.
type LogFunc func(level LogLevel, message string)

// logFunc is the installed LogFunc. The library's callback reads it, so no cgo handle is
// needed for a process-wide setting.
var logFunc atomic.Pointer[LogFunc]

// SetLogFunc sends the library's records up to level to fn, for the whole process. A nil
// fn or LogOff turns logging off. fn runs on whichever thread logs, possibly on several at
// once, and must not call into this package. With a non-nil fn, SetLogFunc fails with
// ErrInvalidArgument for a level outside LogOff to LogTrace. It fails with ErrNotSupported
// when a Rust host in the same process installed its own logger.
func SetLogFunc(level LogLevel, fn LogFunc) error {
	if fn == nil || level == LogOff {
		err := call(func() C.ocirt_result { return C.ocirt_set_log_callback(C.OCIRT_LOG_OFF, nil, nil) })
		logFunc.Store(nil)
		return err
	}
	previous := logFunc.Swap(&fn)
	err := call(func() C.ocirt_result {
		return C.ocirt_set_log_callback(C.int32_t(level), C.ocirtgo_log_callback(), nil)
	})
	if err != nil {
		// The library kept its previous setting, so the previous function stays too.
		logFunc.Store(previous)
	}
	return err
}

//export ocirtgoLog
func ocirtgoLog(level C.int32_t, message *C.char) {
	if fn := logFunc.Load(); fn != nil {
		(*fn)(LogLevel(level), C.GoString(message))
	}
}
