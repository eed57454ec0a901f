// C trampolines between the library's callback types and the functions that callbacks.go
// exports. The library passes the session's cgo.Handle back as userdata.

#include <stdint.h>

#include "ocirt.h"
#include "_cgo_export.h"
#include "callbacks.h"

static int on_stdout(void *userdata, const uint8_t *data, size_t len)
{
    return ocirtgoOutput((uintptr_t)userdata, 1, (uint8_t *)data, len);
}

static int on_stderr(void *userdata, const uint8_t *data, size_t len)
{
    return ocirtgoOutput((uintptr_t)userdata, 2, (uint8_t *)data, len);
}

static void on_done(void *userdata, ocirt_result result, int32_t exit_code)
{
    ocirtgoDone((uintptr_t)userdata, result, exit_code);
}

static void userdata_free(void *userdata)
{
    ocirtgoFree((uintptr_t)userdata);
}

ocirt_attach_callbacks ocirtgo_callbacks(uintptr_t handle)
{
    ocirt_attach_callbacks callbacks = {(void *)handle, on_stdout, on_stderr, on_done,
                                        userdata_free};
    return callbacks;
}

static void on_log(void *userdata, ocirt_log_level level, const char *message)
{
    (void)userdata;
    ocirtgoLog(level, (char *)message);
}

ocirt_log_callback ocirtgo_log_callback(void)
{
    return on_log;
}
