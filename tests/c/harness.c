/*
 * C harness: drives the container lifecycle through include/ocirt.h on real runc and conmon.
 *
 * Usage: harness ROOTFS
 *   ROOTFS is a busybox root filesystem (scripts/make-bundle.sh builds one).
 * Each test uses its own containers and deletes them in its cleanup block, even when a check
 * fails. The last line is the summary: "harness: N passed, M failed".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ocirt.h"

/* The absolute path of the busybox root filesystem given on the command line. */
static char rootfs[4096];
static int id_counter;

/* Prints a failed check, and for a failed call its result name and the library's last error
 * message. */
static void report(int line, const char *expression, int code)
{
    fprintf(stderr, "  FAIL line %d: %s", line, expression);
    if (code != OCIRT_OK)
        fprintf(stderr, " -> %s: %s", ocirt_result_name(code), ocirt_last_error_message());
    fputc('\n', stderr);
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            report(__LINE__, #cond, OCIRT_OK);                                                     \
            goto cleanup;                                                                          \
        }                                                                                          \
    } while (0)

#define CHECK_RC(call, expected)                                                                   \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != (expected)) {                                                                   \
            report(__LINE__, #call, rc_);                                                          \
            goto cleanup;                                                                          \
        }                                                                                          \
    } while (0)

#define CHECK_OK(call) CHECK_RC(call, OCIRT_OK)

/* Writes a fresh container id to `id` and a container config with an inline spec that runs
 * `args_json` (a JSON array) to `out`. `extra` is NULL or more container config fields, such
 * as ", \"stdin\": true". `terminal` sets process.terminal. Returns false when the config
 * does not fit in `size` bytes. */
static bool write_container_config(char *out, size_t size, char *id, size_t id_size,
                                   const char *args_json, const char *extra, bool terminal)
{
    int written;

    snprintf(id, id_size, "harness-%d-%d", (int)getpid(), id_counter++);
    written = snprintf(out, size,
             "{\"id\": \"%s\", \"rootfs\": \"%s\"%s, \"spec\": {"
             "\"ociVersion\": \"1.0.2\","
             "\"process\": {\"args\": %s, \"terminal\": %s, \"env\": [\"PATH=/bin\"], \"cwd\": \"/\","
             "  \"user\": {\"uid\": 0, \"gid\": 0}},"
             "\"root\": {\"path\": \"rootfs\", \"readonly\": true},"
             "\"mounts\": ["
             "  {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
             "  {\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
             "   \"options\": [\"nosuid\", \"mode=755\"]},"
             "  {\"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\","
             "   \"options\": [\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\"]},"
             "  {\"destination\": \"/tmp\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"}],"
             "\"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"ipc\"},"
             "  {\"type\": \"uts\"}, {\"type\": \"mount\"}]}}}",
             id, rootfs, extra ? extra : "", args_json, terminal ? "true" : "false");
    return written >= 0 && (size_t)written < size;
}

/* Configures a container (see write_container_config) and returns its handle, or NULL after
 * printing why it failed. */
static ocirt_container *new_container_full(ocirt_runtime *rt, const char *args_json,
                                           const char *extra, bool terminal, char *id,
                                           size_t id_size)
{
    char config[8192];
    ocirt_container *ctr = NULL;
    int rc;

    if (!write_container_config(config, sizeof(config), id, id_size, args_json, extra,
                                terminal)) {
        report(__LINE__, "container config does not fit the buffer (rootfs path too long?)",
               OCIRT_OK);
        return NULL;
    }
    rc = ocirt_container_new(rt, config, &ctr);
    if (rc != OCIRT_OK) {
        report(__LINE__, "ocirt_container_new", rc);
        return NULL;
    }
    return ctr;
}

static ocirt_container *new_container(ocirt_runtime *rt, const char *args_json, char *id,
                                      size_t id_size)
{
    return new_container_full(rt, args_json, NULL, false, id, id_size);
}

/* Deletes and frees a container for the cleanup blocks. A container that is already deleted
 * is not an error. */
static void discard(ocirt_container *ctr)
{
    const char *id = "?";
    int rc;

    if (ctr == NULL)
        return;
    ocirt_container_id(ctr, &id);
    rc = ocirt_container_delete(ctr);
    if (rc != OCIRT_OK && rc != OCIRT_ERR_NO_SUCH_CONTAINER)
        fprintf(stderr, "  note: deleting container %s failed: %s: %s\n", id,
                ocirt_result_name(rc), ocirt_last_error_message());
    ocirt_container_free(ctr);
}

static int test_exit_code_and_log(ocirt_runtime *rt)
{
    int ok = 0;
    char id[64];
    int32_t code = -100;
    char *state = NULL;
    char *exit_path = NULL;
    ocirt_container *ctr = new_container(
        rt, "[\"sh\", \"-c\", \"echo hello; echo oops >&2; exit 3\"]", id, sizeof(id));

    CHECK(ctr != NULL);
    CHECK_OK(ocirt_container_create(ctr, NULL));
    CHECK_OK(ocirt_container_start(ctr));
    CHECK_OK(ocirt_container_wait(ctr, 30000, NULL, &code));
    CHECK(code == 3);
    CHECK_OK(ocirt_container_state_json(ctr, &state));
    CHECK(strstr(state, "\"status\": \"stopped\"") != NULL);
    CHECK(strstr(state, "\"exit_code\": 3") != NULL);
    CHECK_OK(ocirt_container_exit_file_path(ctr, &exit_path));
    {
        char content[16] = {0};
        FILE *file = fopen(exit_path, "r");
        size_t read_len;

        CHECK(file != NULL);
        read_len = fread(content, 1, sizeof(content) - 1, file);
        fclose(file);
        CHECK(read_len > 0);
        CHECK(strcmp(content, "3") == 0);
    }
    ok = 1;
cleanup:
    ocirt_string_free(state);
    ocirt_string_free(exit_path);
    discard(ctr);
    return ok;
}

static int test_kill_gives_137(ocirt_runtime *rt)
{
    int ok = 0;
    char id[64];
    int32_t code = 0;
    ocirt_container *ctr = new_container(rt, "[\"sleep\", \"1000\"]", id, sizeof(id));

    CHECK(ctr != NULL);
    CHECK_OK(ocirt_container_create(ctr, NULL));
    CHECK_OK(ocirt_container_start(ctr));
    CHECK_RC(ocirt_container_wait(ctr, 100, NULL, &code), OCIRT_ERR_TIMED_OUT);
    CHECK(code == 0);
    CHECK_OK(ocirt_container_kill(ctr, SIGKILL, false));
    CHECK_OK(ocirt_container_wait(ctr, -1, NULL, &code));
    CHECK(code == 137);
    CHECK_RC(ocirt_container_kill(ctr, SIGTERM, false), OCIRT_ERR_CONTAINER_STATE_INVALID);
    ok = 1;
cleanup:
    discard(ctr);
    return ok;
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static int test_stop_uses_stop_signal(ocirt_runtime *rt)
{
    int ok = 0;
    char id[64];
    int32_t code = -100;
    struct timespec start;
    ocirt_container *ctr = new_container(
        rt, "[\"sh\", \"-c\", \"trap 'exit 0' TERM; while :; do sleep 1; done\"]", id, sizeof(id));

    CHECK(ctr != NULL);
    CHECK_OK(ocirt_container_create(ctr, NULL));
    CHECK_OK(ocirt_container_start(ctr));
    /* Give the shell time to install its trap before the signal arrives. */
    usleep(300 * 1000);
    clock_gettime(CLOCK_MONOTONIC, &start);
    CHECK_OK(ocirt_container_stop(ctr, 10, false));
    CHECK(seconds_since(&start) < 5.0);
    CHECK_OK(ocirt_container_wait(ctr, 0, NULL, &code));
    CHECK(code == 0);
    ok = 1;
cleanup:
    discard(ctr);
    return ok;
}

static int test_pause_and_reopen(ocirt_runtime *rt)
{
    int ok = 0;
    char id[64];
    char *state = NULL;
    int32_t code = 0;
    ocirt_container *ctr = new_container(rt, "[\"sleep\", \"1000\"]", id, sizeof(id));
    ocirt_container *again = NULL;
    const char *again_id = NULL;

    CHECK(ctr != NULL);
    CHECK_OK(ocirt_container_create(ctr, NULL));
    CHECK_OK(ocirt_container_start(ctr));
    CHECK_OK(ocirt_container_pause(ctr));
    CHECK_OK(ocirt_container_open(rt, id, &again));
    CHECK_OK(ocirt_container_id(again, &again_id));
    CHECK(strcmp(again_id, id) == 0);
    CHECK_OK(ocirt_container_update_status(again));
    CHECK_OK(ocirt_container_state_json(again, &state));
    CHECK(strstr(state, "\"status\": \"paused\"") != NULL);
    CHECK_OK(ocirt_container_unpause(again));
    CHECK_OK(ocirt_container_stop(again, 0, false));
    CHECK_OK(ocirt_container_wait(ctr, -1, NULL, &code));
    CHECK(code == 137);
    CHECK_OK(ocirt_container_delete(again));
    CHECK_RC(ocirt_container_start(ctr), OCIRT_ERR_NO_SUCH_CONTAINER);
    CHECK(strstr(ocirt_last_error_message(), id) != NULL);
    ok = 1;
cleanup:
    ocirt_string_free(state);
    ocirt_container_free(again);
    discard(ctr);
    return ok;
}

static int test_bad_input(ocirt_runtime *rt)
{
    int ok = 0;
    ocirt_container *ctr = (ocirt_container *)0x1;
    ocirt_runtime *other = (ocirt_runtime *)0x1;
    bool flag = false;
    char long_id[400];

    CHECK_RC(ocirt_runtime_new(NULL, &other), OCIRT_ERR_NULL_ARGUMENT);
    CHECK(other == (ocirt_runtime *)0x1);
    CHECK_RC(ocirt_runtime_new("{\"bogus\": true}", &other), OCIRT_ERR_INVALID_ARGUMENT);
    CHECK(strstr(ocirt_last_error_message(), "bogus") != NULL);
    CHECK(other == (ocirt_runtime *)0x1);
    CHECK_RC(ocirt_container_new(rt, "{\"id\": \"../up\", \"bundle\": \"/x\"}", &ctr),
             OCIRT_ERR_INVALID_ARGUMENT);
    CHECK(strstr(ocirt_last_error_message(), "../up") != NULL);
    CHECK(ctr == (ocirt_container *)0x1);
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    CHECK_RC(ocirt_container_open(rt, long_id, &ctr), OCIRT_ERR_INVALID_ARGUMENT);
    CHECK_RC(ocirt_container_open(rt, "absent", &ctr), OCIRT_ERR_NO_SUCH_CONTAINER);
    CHECK(ctr == (ocirt_container *)0x1);
    CHECK_RC(ocirt_container_start(NULL), OCIRT_ERR_NULL_ARGUMENT);
    CHECK(strstr(ocirt_last_error_message(), "container") != NULL);
    CHECK_RC(ocirt_runtime_supports_kvm(rt, NULL), OCIRT_ERR_NULL_ARGUMENT);
    CHECK_OK(ocirt_runtime_supports_json_errors(rt, &flag));
    CHECK(flag);
    CHECK(strcmp(ocirt_result_name(OCIRT_DETACHED), "OCIRT_DETACHED") == 0);
    CHECK(strcmp(ocirt_result_name(-7), "OCIRT_UNKNOWN_RESULT") == 0);
    ocirt_container_free(NULL);
    ocirt_runtime_free(NULL);
    ocirt_string_free(NULL);
    ok = 1;
cleanup:
    return ok;
}

/* Atomic because the library may call the log callback from several threads at once. */
static atomic_int log_lines;

static void count_log(void *userdata, ocirt_log_level level, const char *message)
{
    (void)level;
    if (userdata == &log_lines && message != NULL && message[0] != '\0')
        atomic_fetch_add(&log_lines, 1);
}

static int test_log_callback(ocirt_runtime *rt)
{
    int ok = 0;
    char id[64];
    int32_t code = -1;
    ocirt_container *ctr = NULL;

    CHECK_OK(ocirt_set_log_callback(OCIRT_LOG_INFO, count_log, &log_lines));
    ctr = new_container(rt, "[\"true\"]", id, sizeof(id));
    CHECK(ctr != NULL);
    CHECK_OK(ocirt_container_create(ctr, NULL));
    CHECK_OK(ocirt_container_start(ctr));
    CHECK_OK(ocirt_container_wait(ctr, 30000, NULL, &code));
    CHECK(code == 0);
    CHECK(atomic_load(&log_lines) > 0);
    ok = 1;
cleanup:
    ocirt_set_log_callback(OCIRT_LOG_OFF, NULL, NULL);
    discard(ctr);
    return ok;
}

/* Output of an attach session, filled by the callbacks on the library's thread. */
struct collected {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    char out[65536];
    size_t out_len;
    int done_result;
    int done_calls;
    int freed;
};

static int collect_output(void *userdata, const uint8_t *data, size_t len)
{
    struct collected *c = userdata;
    pthread_mutex_lock(&c->lock);
    if (c->out_len + len < sizeof(c->out)) {
        memcpy(c->out + c->out_len, data, len);
        c->out_len += len;
        c->out[c->out_len] = '\0';
    }
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

static void collect_done(void *userdata, ocirt_result result, int32_t exit_code)
{
    struct collected *c = userdata;
    (void)exit_code;
    pthread_mutex_lock(&c->lock);
    c->done_result = result;
    c->done_calls++;
    pthread_mutex_unlock(&c->lock);
}

static void collect_free(void *userdata)
{
    struct collected *c = userdata;
    pthread_mutex_lock(&c->lock);
    c->freed++;
    pthread_mutex_unlock(&c->lock);
}

/* Initializes `c` and returns attach callbacks that fill it: stdout and stderr both go to
 * c->out. */
static ocirt_attach_callbacks collected_init(struct collected *c)
{
    ocirt_attach_callbacks callbacks = {c, collect_output, collect_output, collect_done,
                                        collect_free};

    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->changed, NULL);
    c->done_result = -1;
    return callbacks;
}

/* Waits up to `seconds` for `needle` to appear in the collected output. Returns whether it
 * appeared. */
static bool wait_for_output(struct collected *c, const char *needle, int seconds)
{
    struct timespec deadline;
    bool found;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += seconds;
    pthread_mutex_lock(&c->lock);
    found = strstr(c->out, needle) != NULL;
    while (!found && pthread_cond_timedwait(&c->changed, &c->lock, &deadline) == 0)
        found = strstr(c->out, needle) != NULL;
    pthread_mutex_unlock(&c->lock);
    return found;
}

static int test_attach_stdin_eof(ocirt_runtime *rt)
{
    int ok = 0;
    char id[64];
    int32_t code = -1;
    struct collected c;
    ocirt_attach_callbacks callbacks;
    ocirt_attach *attach = NULL;
    ocirt_attach_outcome outcome = OCIRT_ATTACH_DETACHED;
    ocirt_container *ctr = new_container_full(rt, "[\"cat\"]", ", \"stdin\": true", false, id,
                                              sizeof(id));

    callbacks = collected_init(&c);
    CHECK(ctr != NULL);
    CHECK_OK(ocirt_container_create(ctr, NULL));
    CHECK_OK(ocirt_container_attach(ctr, "{\"stdin\": true, \"start\": true}", &callbacks,
                                    &attach));
    CHECK_OK(ocirt_attach_write(attach, (const uint8_t *)"hello\n", 6));
    CHECK_OK(ocirt_attach_close_stdin(attach));
    CHECK_OK(ocirt_attach_wait(attach, 30000, &outcome, &code));
    CHECK(outcome == OCIRT_ATTACH_ENDED);
    CHECK(strcmp(c.out, "hello\n") == 0);
    CHECK(c.done_calls == 1);
    CHECK(c.done_result == OCIRT_OK);
    CHECK_OK(ocirt_container_wait(ctr, 30000, NULL, &code));
    CHECK(code == 0);
    ocirt_attach_free(attach);
    attach = NULL;
    CHECK(c.freed == 1);
    ok = 1;
cleanup:
    ocirt_attach_free(attach);
    discard(ctr);
    return ok;
}

static int test_resize_before_start(ocirt_runtime *rt)
{
    int ok = 0;
    char id[64];
    int32_t code = -1;
    struct collected c;
    ocirt_attach_callbacks callbacks;
    ocirt_attach *attach = NULL;
    ocirt_attach_outcome outcome = OCIRT_ATTACH_DETACHED;
    ocirt_container *ctr = new_container_full(rt, "[\"sh\", \"-c\", \"sleep 1; stty size\"]", NULL,
                                              true, id, sizeof(id));
    ocirt_container *plain = NULL;
    char plain_id[64];

    callbacks = collected_init(&c);
    CHECK(ctr != NULL);
    CHECK_OK(ocirt_container_create(ctr, NULL));
    CHECK_OK(ocirt_container_resize(ctr, 120, 40));
    CHECK_OK(ocirt_container_attach(ctr, "{\"start\": true}", &callbacks, &attach));
    CHECK_OK(ocirt_attach_wait(attach, 30000, &outcome, &code));
    CHECK(outcome == OCIRT_ATTACH_ENDED);
    CHECK(strcmp(c.out, "40 120\r\n") == 0);

    /* A container without a terminal has no size to set. */
    plain = new_container(rt, "[\"sleep\", \"1000\"]", plain_id, sizeof(plain_id));
    CHECK(plain != NULL);
    CHECK_OK(ocirt_container_create(plain, NULL));
    CHECK_RC(ocirt_container_resize(plain, 80, 24), OCIRT_ERR_CONTAINER_STATE_INVALID);
    ok = 1;
cleanup:
    ocirt_attach_free(attach);
    discard(ctr);
    discard(plain);
    return ok;
}

static int test_detach_keys(ocirt_runtime *rt)
{
    int ok = 0;
    char id[64];
    char *state = NULL;
    int32_t code = -1;
    struct collected c;
    ocirt_attach_callbacks callbacks;
    ocirt_attach *attach = NULL;
    ocirt_attach_outcome outcome = OCIRT_ATTACH_ENDED;
    ocirt_container *ctr =
        new_container_full(rt, "[\"sleep\", \"1000\"]", NULL, true, id, sizeof(id));

    callbacks = collected_init(&c);
    CHECK(ctr != NULL);
    CHECK_OK(ocirt_container_create(ctr, NULL));
    /* A rejected attach must leave the callbacks' userdata to the caller. */
    CHECK_RC(ocirt_container_attach(ctr, "{\"detach_keys\": \"ctrl-C\"}", &callbacks, &attach),
             OCIRT_ERR_INVALID_ARGUMENT);
    CHECK(c.freed == 0);
    CHECK_OK(ocirt_container_attach(ctr, "{\"stdin\": true, \"start\": true}", &callbacks,
                                    &attach));
    /* ctrl-p ctrl-q, the default detach keys. */
    CHECK_RC(ocirt_attach_write(attach, (const uint8_t *)"\x10\x11", 2), OCIRT_DETACHED);
    CHECK_OK(ocirt_attach_wait(attach, 5000, &outcome, &code));
    CHECK(outcome == OCIRT_ATTACH_DETACHED);
    CHECK_OK(ocirt_container_update_status(ctr));
    CHECK_OK(ocirt_container_state_json(ctr, &state));
    CHECK(strstr(state, "\"status\": \"running\"") != NULL);
    ok = 1;
cleanup:
    ocirt_string_free(state);
    ocirt_attach_free(attach);
    discard(ctr);
    return ok;
}

static int test_stop_while_attached(ocirt_runtime *rt)
{
    int ok = 0;
    char id[64];
    int32_t code = -1;
    struct collected c;
    struct timespec start;
    ocirt_attach_callbacks callbacks;
    ocirt_attach *attach = NULL;
    ocirt_attach_outcome outcome = OCIRT_ATTACH_DETACHED;
    ocirt_container *ctr = new_container(
        rt,
        "[\"sh\", \"-c\", \"trap 'echo got-term' TERM; echo ready; while :; do sleep 1; done\"]",
        id, sizeof(id));

    callbacks = collected_init(&c);
    CHECK(ctr != NULL);
    CHECK_OK(ocirt_container_create(ctr, NULL));
    CHECK_OK(ocirt_container_attach(ctr, "{\"start\": true}", &callbacks, &attach));
    CHECK(wait_for_output(&c, "ready", 10));
    /* The shell survives SIGTERM, so stop must wait out its 3 s timeout and send SIGKILL. */
    clock_gettime(CLOCK_MONOTONIC, &start);
    CHECK_OK(ocirt_container_stop(ctr, 3, false));
    CHECK(seconds_since(&start) >= 2.5);
    CHECK_OK(ocirt_attach_wait(attach, 30000, &outcome, &code));
    CHECK(strstr(c.out, "got-term") != NULL);
    CHECK_OK(ocirt_container_wait(ctr, 0, NULL, &code));
    CHECK(code == 137);
    ok = 1;
cleanup:
    ocirt_attach_free(attach);
    discard(ctr);
    return ok;
}

/* Arguments and result of ocirt_container_http_attach on a separate thread. */
struct http_call {
    ocirt_container *ctr;
    int fd;
    int result;
};

static void *run_http_attach(void *arg)
{
    struct http_call *call = arg;
    call->result = ocirt_container_http_attach(call->ctr, call->fd,
                                               "{\"stdin\": false, \"start\": true}", NULL, 0,
                                               NULL);
    return NULL;
}

static int test_http_attach_frames(ocirt_runtime *rt)
{
    int ok = 0;
    char id[64];
    int fds[2] = {-1, -1};
    unsigned char data[4096];
    size_t len = 0;
    size_t at = 0;
    ssize_t n;
    char out[256] = {0};
    char err[256] = {0};
    size_t out_len = 0;
    size_t err_len = 0;
    pthread_t thread;
    bool started = false;
    struct http_call call;
    ocirt_container *ctr = new_container(
        rt, "[\"sh\", \"-c\", \"echo out; echo err >&2; printf 'x\\\\000y'\"]", id, sizeof(id));

    CHECK(ctr != NULL);
    CHECK_OK(ocirt_container_create(ctr, NULL));
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    call.ctr = ctr;
    call.fd = fds[1];
    call.result = -1;
    CHECK(pthread_create(&thread, NULL, run_http_attach, &call) == 0);
    /* The library owns the descriptor from the call on and closes it before returning. */
    fds[1] = -1;
    started = true;
    while ((n = read(fds[0], data + len, sizeof(data) - len)) > 0)
        len += (size_t)n;
    CHECK(pthread_join(thread, NULL) == 0);
    started = false;
    CHECK(call.result == OCIRT_OK);

    /* Each frame is an 8-byte header followed by the payload. The header is the stream (1 for
     * stdout, 2 for stderr), three zero bytes and the payload length as a big-endian u32. */
    while (at + 8 <= len) {
        size_t size = ((size_t)data[at + 4] << 24) | ((size_t)data[at + 5] << 16) |
                      ((size_t)data[at + 6] << 8) | (size_t)data[at + 7];
        CHECK(data[at + 1] == 0);
        CHECK(data[at + 2] == 0);
        CHECK(data[at + 3] == 0);
        CHECK(at + 8 + size <= len);
        CHECK(data[at] == 1 || data[at] == 2);
        if (data[at] == 1) {
            CHECK(out_len + size < sizeof(out));
            memcpy(out + out_len, data + at + 8, size);
            out_len += size;
        } else {
            CHECK(err_len + size < sizeof(err));
            memcpy(err + err_len, data + at + 8, size);
            err_len += size;
        }
        at += 8 + size;
    }
    CHECK(at == len);
    CHECK(out_len == 7);
    CHECK(memcmp(out, "out\nx\0y", 7) == 0);
    CHECK(err_len == 4);
    CHECK(memcmp(err, "err\n", 4) == 0);
    ok = 1;
cleanup:
    if (started)
        pthread_join(thread, NULL);
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    discard(ctr);
    return ok;
}

/* The read end of a pipe whose write end is this process's descriptor 3, for the
 * preserve_fds test (see open_preserved_pipe). -1 when the pipe could not be set up. */
static int preserved_read = -1;

/* Makes descriptor 3 the write end of a pipe, without FD_CLOEXEC, so that an exec with
 * "preserve_fds": 1 can write to it, and stores the non-blocking read end in preserved_read.
 * The library must not pass descriptor 3 to conmon or a container unless preserve_fds asks
 * for it. */
static void open_preserved_pipe(void)
{
    int pipe_fds[2];
    int read_end;
    int write_end;

    if (pipe2(pipe_fds, O_CLOEXEC) != 0)
        return;
    /* Move both ends to 10 or above first, because pipe2 may have returned 3 itself. */
    read_end = fcntl(pipe_fds[0], F_DUPFD_CLOEXEC, 10);
    write_end = fcntl(pipe_fds[1], F_DUPFD_CLOEXEC, 10);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    /* Non-blocking, so that the test fails instead of hanging when the exec wrote nothing.
     * The read end never sees EOF, because descriptor 3 stays open in this process. */
    if (read_end >= 0 && write_end >= 0 && fcntl(read_end, F_SETFL, O_NONBLOCK) == 0 &&
        dup2(write_end, 3) == 3)
        preserved_read = read_end;
    else if (read_end >= 0)
        close(read_end);
    if (write_end >= 0)
        close(write_end);
}

static int test_exec_attached_and_detached(ocirt_runtime *rt)
{
    int ok = 0;
    char id[64];
    char session[80];
    int32_t pid = 0;
    int32_t code = -1;
    bool running = true;
    struct collected c;
    ocirt_attach_callbacks callbacks;
    ocirt_attach *attach = NULL;
    ocirt_attach_outcome outcome = OCIRT_ATTACH_DETACHED;
    ocirt_container *ctr = new_container(rt, "[\"sleep\", \"1000\"]", id, sizeof(id));

    callbacks = collected_init(&c);
    CHECK(ctr != NULL);
    CHECK_OK(ocirt_container_create(ctr, NULL));
    CHECK_OK(ocirt_container_start(ctr));

    snprintf(session, sizeof(session), "%s-a", id);
    CHECK_OK(ocirt_exec_start(ctr, session, "{\"cmd\": [\"sh\", \"-c\", \"echo out; exit 3\"]}",
                              &callbacks, &pid, &attach));
    CHECK(pid > 0);
    CHECK_OK(ocirt_attach_wait(attach, 30000, &outcome, &code));
    CHECK(outcome == OCIRT_ATTACH_ENDED);
    CHECK(code == 3);
    CHECK(strcmp(c.out, "out\n") == 0);
    CHECK(c.done_calls == 1);
    CHECK(c.done_result == OCIRT_OK);
    ocirt_attach_free(attach);
    attach = NULL;
    CHECK(c.freed == 1);
    CHECK_OK(ocirt_exec_cleanup(ctr, session));

    snprintf(session, sizeof(session), "%s-d", id);
    CHECK_OK(ocirt_exec_start(ctr, session, "{\"cmd\": [\"sh\", \"-c\", \"sleep 0.3; exit 7\"]}",
                              NULL, &pid, NULL));
    for (int i = 0; i < 200 && running; i++) {
        CHECK_OK(ocirt_exec_update_status(ctr, session, &running, &code));
        if (running)
            usleep(50 * 1000);
    }
    CHECK(!running);
    CHECK(code == 7);
    CHECK_OK(ocirt_exec_cleanup(ctr, session));

    snprintf(session, sizeof(session), "%s-n", id);
    CHECK_RC(ocirt_exec_start(ctr, session, "{\"cmd\": [\"/no/such/binary\"]}", NULL, &pid, NULL),
             OCIRT_ERR_RUNTIME_NOT_FOUND);
    CHECK_OK(ocirt_exec_update_status(ctr, session, &running, &code));
    CHECK(!running);
    CHECK(code == 127);
    ok = 1;
cleanup:
    ocirt_attach_free(attach);
    discard(ctr);
    return ok;
}

static int test_exec_preserve_fds(ocirt_runtime *rt)
{
    int ok = 0;
    char id[64];
    char session[80];
    char buffer[64] = {0};
    int32_t pid = 0;
    int32_t code = -1;
    ocirt_attach *attach = NULL;
    ocirt_attach_outcome outcome;
    ocirt_container *ctr = new_container(rt, "[\"sleep\", \"1000\"]", id, sizeof(id));
    struct collected c;
    ocirt_attach_callbacks callbacks;

    callbacks = collected_init(&c);
    CHECK(preserved_read >= 0);
    CHECK(ctr != NULL);
    CHECK_OK(ocirt_container_create(ctr, NULL));
    CHECK_OK(ocirt_container_start(ctr));
    snprintf(session, sizeof(session), "%s-fd", id);
    CHECK_OK(ocirt_exec_start(ctr, session,
                              "{\"cmd\": [\"sh\", \"-c\", \"echo preserved >&3\"], \"preserve_fds\": 1}",
                              &callbacks, &pid, &attach));
    CHECK_OK(ocirt_attach_wait(attach, 30000, &outcome, &code));
    if (code != 0)
        fprintf(stderr, "  exec exit code %d, output: %s\n", code, c.out);
    CHECK(code == 0);
    CHECK(read(preserved_read, buffer, sizeof(buffer) - 1) > 0);
    CHECK(strcmp(buffer, "preserved\n") == 0);
    ok = 1;
cleanup:
    ocirt_attach_free(attach);
    discard(ctr);
    return ok;
}

static int test_exec_terminal_resize(ocirt_runtime *rt)
{
    int ok = 0;
    char id[64];
    char session[80];
    int32_t pid = 0;
    int32_t code = -1;
    struct collected c;
    ocirt_attach_callbacks callbacks;
    ocirt_attach *attach = NULL;
    ocirt_attach_outcome outcome;
    ocirt_container *ctr = new_container(rt, "[\"sleep\", \"1000\"]", id, sizeof(id));

    callbacks = collected_init(&c);
    CHECK(ctr != NULL);
    CHECK_OK(ocirt_container_create(ctr, NULL));
    CHECK_OK(ocirt_container_start(ctr));
    snprintf(session, sizeof(session), "%s-tty", id);
    CHECK_OK(ocirt_exec_start(ctr, session,
                              "{\"cmd\": [\"sh\", \"-c\", \"stty size; read x; stty size\"],"
                              " \"terminal\": true, \"stdin\": true, \"width\": 90, \"height\": 25}",
                              &callbacks, &pid, &attach));
    CHECK(wait_for_output(&c, "25 90", 10));
    CHECK_OK(ocirt_exec_resize(ctr, session, 100, 30));
    CHECK_OK(ocirt_attach_write(attach, (const uint8_t *)"\n", 1));
    CHECK_OK(ocirt_attach_wait(attach, 30000, &outcome, &code));
    CHECK(code == 0);
    CHECK(strstr(c.out, "30 100\r\n") != NULL);
    CHECK_RC(ocirt_exec_resize(ctr, session, 80, 24), OCIRT_ERR_EXEC_STATE_INVALID);
    ok = 1;
cleanup:
    ocirt_attach_free(attach);
    discard(ctr);
    return ok;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    struct test {
        const char *name;
        int (*run)(ocirt_runtime *);
    } tests[] = {
        {"exit code and log", test_exit_code_and_log},
        {"kill gives 137", test_kill_gives_137},
        {"stop uses stop signal", test_stop_uses_stop_signal},
        {"pause and reopen", test_pause_and_reopen},
        {"bad input", test_bad_input},
        {"log callback", test_log_callback},
        {"attach stdin EOF", test_attach_stdin_eof},
        {"resize before start", test_resize_before_start},
        {"detach keys", test_detach_keys},
        {"stop while attached", test_stop_while_attached},
        {"HTTP attach frames", test_http_attach_frames},
        {"exec attached and detached", test_exec_attached_and_detached},
        {"exec preserve_fds", test_exec_preserve_fds},
        {"exec terminal resize", test_exec_terminal_resize},
    };
    size_t count = sizeof(tests) / sizeof(tests[0]);
    int passed = 0;
    int failed = 0;
    char config[1024];
    char run_dir[] = "/tmp/ocirt-harness-XXXXXX";
    ocirt_runtime *rt = NULL;

    if (argc != 2) {
        fprintf(stderr, "usage: %s ROOTFS\n", argv[0]);
        return 2;
    }
    if (realpath(argv[1], rootfs) == NULL) {
        fprintf(stderr, "harness: %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    if (mkdtemp(run_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    /* Line-buffered, so that each FAIL line on stderr comes before its test's result line
     * when both streams go to one pipe. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    open_preserved_pipe();
    snprintf(config, sizeof(config), "{\"run_dir\": \"%s/run\", \"runtime_root\": \"%s/runc\"}",
             run_dir, run_dir);
    if (ocirt_runtime_new(config, &rt) != OCIRT_OK) {
        fprintf(stderr, "harness: creating the runtime failed: %s\n", ocirt_last_error_message());
        failed = (int)count;
        goto cleanup;
    }
    printf("harness: libocirt %s\n", ocirt_version());
    for (size_t i = 0; i < count; i++) {
        if (tests[i].run(rt)) {
            printf("test %s ... ok\n", tests[i].name);
            passed++;
        } else {
            printf("test %s ... FAILED\n", tests[i].name);
            failed++;
        }
    }
cleanup:
    ocirt_runtime_free(rt);
    if (preserved_read >= 0) {
        close(preserved_read);
        close(3);
    }
    nftw(run_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf("harness: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
