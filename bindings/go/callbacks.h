// Declarations of callbacks.c for the Go files of the package.
#ifndef OCIRTGO_CALLBACKS_H
#define OCIRTGO_CALLBACKS_H

#include <stdint.h>

#include "ocirt.h"

// Returns callbacks that deliver a session's events to the Go session behind handle.
ocirt_attach_callbacks ocirtgo_callbacks(uintptr_t handle);

// Returns the log callback that forwards records to the Go log function.
ocirt_log_callback ocirtgo_log_callback(void);

#endif
