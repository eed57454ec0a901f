/*
 * ocirt demo: runs busybox containers through libocirt, runc and conmon.
 *
 * Usage: demo BUNDLE
 *   BUNDLE is an OCI bundle with a busybox rootfs, such as scripts/make-bundle.sh makes. Its
 *   config.json must run a long-lived command that exits on SIGTERM.
 *
 * Each step uses its own container and deletes it at the end of the step:
 *   1. A short container from an inline spec: create, start, wait, exit code and k8s-file log.
 *   2. The bundle's long-running container, stopped with a 10 s timeout. It exits on SIGTERM
 *      at once.
 *   3. A container whose output streams live through callbacks while the demo writes to its
 *      stdin.
 *   4. A terminal container, resized while it runs, that prints its size with `stty size`.
 *   5. Exec sessions in a running container: an attached one, a detached one whose status the
 *      demo polls, and one on a terminal that is resized while it runs.
 * The runtime's state lives in a temporary directory that the demo removes at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ocirt.h"

static char bundle[PATH_MAX];

static void print_log(void *userdata, ocirt_log_level level, const char *message)
{
    (void)userdata;
    if (level <= OCIRT_LOG_INFO)
        printf("    [libocirt] %s\n", message);
}

/* Prints a failed call with the library's result name and error message. */
static void print_failure(const char *call, int rc)
{
    fprintf(stderr, "demo: %s failed: %s: %s\n", call, ocirt_result_name(rc),
            ocirt_last_error_message());
}

/* Runs an ocirt call and jumps to the function's cleanup label unless it returns OCIRT_OK. */
#define TRY(call)                                                                                  \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != OCIRT_OK) {                                                                     \
            print_failure(#call, rc_);                                                             \
            goto cleanup;                                                                          \
        }                                                                                          \
    } while (0)

/*
 * Configures a container named demo-NAME-PID with an inline spec that runs `args_json` (a
 * JSON array) on the bundle's rootfs. `extra` adds container config fields, such as
 * ", \"stdin\": true". Returns the handle, or NULL after printing why it failed.
 */
static ocirt_container *new_inline_container(ocirt_runtime *rt, const char *name,
                                             const char *args_json, int terminal,
                                             const char *extra)
{
    char config[8192];
    ocirt_container *ctr = NULL;
    int rc;
    int written = snprintf(
        config, sizeof(config),
        "{\"id\": \"demo-%s-%d\", \"rootfs\": \"%s/rootfs\"%s, \"spec\": {"
        "\"ociVersion\": \"1.0.2\","
        "\"process\": {\"args\": %s, \"terminal\": %s,"
        " \"env\": [\"PATH=/bin\"], \"cwd\": \"/\", \"user\": {\"uid\": 0, \"gid\": 0}},"
        "\"root\": {\"path\": \"rootfs\", \"readonly\": true},"
        "\"hostname\": \"demo\","
        "\"mounts\": [{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
        " {\"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\","
        "  \"options\": [\"newinstance\", \"ptmxmode=0666\"]}],"
        "\"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"uts\"},"
        " {\"type\": \"ipc\"}, {\"type\": \"mount\"}]}}}",
        name, (int)getpid(), bundle, extra, args_json, terminal ? "true" : "false");

    if (written < 0 || (size_t)written >= sizeof(config)) {
        fprintf(stderr, "demo: bundle path %s is too long\n", bundle);
        return NULL;
    }
    rc = ocirt_container_new(rt, config, &ctr);
    if (rc != OCIRT_OK) {
        print_failure("ocirt_container_new", rc);
        return NULL;
    }
    return ctr;
}

static void print_file(const char *path)
{
    char line[1024];
    FILE *file = fopen(path, "r");

    if (file == NULL) {
        perror(path);
        return;
    }
    while (fgets(line, sizeof(line), file) != NULL)
        printf("    | %s", line);
    fclose(file);
}

/* Prints the container's k8s-file log. Its path is the "log_path" field of the state JSON.
 * A plain string search finds it because the log lies in the demo's temporary state
 * directory, whose path contains no quotes or backslashes. */
static void print_container_log(ocirt_container *ctr)
{
    char *state = NULL;
    char *path = NULL;
    const char *key;

    if (ocirt_container_state_json(ctr, &state) != OCIRT_OK) {
        fprintf(stderr, "demo: reading the container state failed: %s\n",
                ocirt_last_error_message());
        return;
    }
    key = strstr(state, "\"log_path\": \"");
    if (key != NULL)
        path = strdup(key + strlen("\"log_path\": \""));
    if (path != NULL && strchr(path, '"') != NULL) {
        *strchr(path, '"') = '\0';
        printf("   its k8s-file log (%s):\n", path);
        print_file(path);
    }
    free(path);
    ocirt_string_free(state);
}

static double now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* Deletes and frees a container. NULL is ignored. */
static void delete_container(ocirt_container *ctr)
{
    int rc;

    if (ctr == NULL)
        return;
    rc = ocirt_container_delete(ctr);
    if (rc != OCIRT_OK)
        print_failure("ocirt_container_delete", rc);
    ocirt_container_free(ctr);
}

/* Waits for an attach session's streams to end and for the container to exit, and prints
 * both outcomes. Returns 1 on success and 0 after printing a failure. */
static int wait_attached(ocirt_container *ctr, ocirt_attach *attach)
{
    ocirt_attach_outcome outcome;
    int32_t code = -1;

    TRY(ocirt_attach_wait(attach, 30000, &outcome, &code));
    printf("   the streams ended (%s)\n",
           outcome == OCIRT_ATTACH_ENDED ? "the process exited" : "detached");
    TRY(ocirt_container_wait(ctr, 30000, NULL, &code));
    printf("   exit code: %d\n", code);
    return 1;
cleanup:
    return 0;
}

static int step_short(ocirt_runtime *rt)
{
    ocirt_container *hello;
    int32_t code = -1;
    int ok = 0;

    printf("== step 1: an inline spec running a shell script on %s/rootfs\n", bundle);
    hello = new_inline_container(rt, "hello",
                                 "[\"sh\", \"-c\", \"echo hello from busybox on $(hostname);"
                                 " echo this line goes to stderr >&2; exit 3\"]",
                                 0, "");
    if (hello == NULL)
        return 0;
    printf("-- create (conmon starts, runc creates the container)\n");
    TRY(ocirt_container_create(hello, NULL));
    printf("-- start\n");
    TRY(ocirt_container_start(hello));
    printf("-- wait\n");
    TRY(ocirt_container_wait(hello, 30000, NULL, &code));
    printf("   exit code: %d\n", code);
    print_container_log(hello);
    ok = 1;
cleanup:
    delete_container(hello);
    return ok;
}

static int step_stop(ocirt_runtime *rt)
{
    char config[8192];
    ocirt_container *server = NULL;
    int32_t code = -1;
    double started;
    int rc;
    int ok = 0;

    printf("== step 2: the bundle %s (a shell that exits on SIGTERM)\n", bundle);
    rc = snprintf(config, sizeof(config), "{\"id\": \"demo-server-%d\", \"bundle\": \"%s\"}",
                  (int)getpid(), bundle);
    if (rc < 0 || (size_t)rc >= sizeof(config)) {
        fprintf(stderr, "demo: bundle path %s is too long\n", bundle);
        return 0;
    }
    TRY(ocirt_container_new(rt, config, &server));
    TRY(ocirt_container_create(server, NULL));
    TRY(ocirt_container_start(server));
    rc = ocirt_container_wait(server, 500, NULL, &code);
    if (rc != OCIRT_ERR_TIMED_OUT) {
        print_failure("waiting 0.5 s for the long-running container (it should still run)", rc);
        goto cleanup;
    }
    printf("   still running after 0.5 s, as it should be\n");
    printf("-- stop with a 10 s timeout (SIGTERM first, SIGKILL only if it does not exit)\n");
    started = now_seconds();
    TRY(ocirt_container_stop(server, 10, false));
    TRY(ocirt_container_wait(server, 0, NULL, &code));
    printf("   stopped after %.2f s with exit code %d\n", now_seconds() - started, code);
    print_container_log(server);
    ok = 1;
cleanup:
    delete_container(server);
    return ok;
}

/*
 * Prints each chunk of output as it arrives, on the library's delivery thread, one line per
 * line of output, prefixed with `userdata` (a string). A terminal ends lines with "\r\n", and
 * the "\r" is dropped for the display. A line split across two chunks prints as two lines.
 */
static int print_chunk(void *userdata, const uint8_t *data, size_t len)
{
    size_t start = 0;

    while (start < len) {
        size_t end = start;
        size_t line_len;

        while (end < len && data[end] != '\n')
            end++;
        line_len = end - start;
        if (line_len > 0 && data[start + line_len - 1] == '\r')
            line_len--;
        if (line_len > 0)
            printf("   %s> %.*s\n", (const char *)userdata, (int)line_len,
                   (const char *)data + start);
        start = end + 1;
    }
    fflush(stdout);
    return 0;
}

/* Prints a chunk of stderr with the prefix "stderr". */
static int print_stderr_chunk(void *userdata, const uint8_t *data, size_t len)
{
    (void)userdata;
    return print_chunk("stderr", data, len);
}

static int step_streaming(ocirt_runtime *rt)
{
    ocirt_container *ctr;
    ocirt_attach *attach = NULL;
    ocirt_attach_callbacks callbacks = {"stdout", print_chunk, print_stderr_chunk, NULL, NULL};
    const char *input = "hello from the host\n";
    int ok = 0;

    printf("== step 3: live output through callbacks, and stdin from the host\n");
    ctr = new_inline_container(rt, "stream",
                               "[\"sh\", \"-c\", \"for i in 1 2 3; do echo tick $i; sleep 0.3;"
                               " done; read line; echo container read: $line; echo done >&2\"]",
                               0, ", \"stdin\": true");
    if (ctr == NULL)
        return 0;
    TRY(ocirt_container_create(ctr, NULL));
    printf("-- attach with stdin, starting the container once attached\n");
    TRY(ocirt_container_attach(ctr, "{\"stdin\": true, \"start\": true}", &callbacks, &attach));
    printf("-- write to its stdin: %s", input);
    TRY(ocirt_attach_write(attach, (const uint8_t *)input, strlen(input)));
    TRY(ocirt_attach_close_stdin(attach));
    ok = wait_attached(ctr, attach);
cleanup:
    ocirt_attach_free(attach);
    delete_container(ctr);
    return ok;
}

static int step_terminal(ocirt_runtime *rt)
{
    ocirt_container *ctr;
    ocirt_attach *attach = NULL;
    ocirt_attach_callbacks callbacks = {"tty", print_chunk, NULL, NULL, NULL};
    int ok = 0;

    printf("== step 4: a terminal container, resized while it runs\n");
    ctr = new_inline_container(rt, "tty",
                               "[\"sh\", \"-c\", \"echo size at start: $(stty size); read x;"
                               " echo size after resize: $(stty size)\"]",
                               1, "");
    if (ctr == NULL)
        return 0;
    TRY(ocirt_container_create(ctr, NULL));
    printf("-- attach at 80x24, start\n");
    TRY(ocirt_container_attach(ctr, "{\"stdin\": true, \"start\": true, \"width\": 80, \"height\": 24}",
                               &callbacks, &attach));
    /* Give the shell time to print its first size before the resize. */
    usleep(300 * 1000);
    printf("-- resize to 132x43, then press enter in the container\n");
    TRY(ocirt_container_resize(ctr, 132, 43));
    TRY(ocirt_attach_write(attach, (const uint8_t *)"\n", 1));
    ok = wait_attached(ctr, attach);
cleanup:
    ocirt_attach_free(attach);
    delete_container(ctr);
    return ok;
}

static int step_exec(ocirt_runtime *rt)
{
    char session[64];
    ocirt_container *ctr;
    ocirt_attach *attach = NULL;
    ocirt_attach_callbacks out = {"exec", print_chunk, print_stderr_chunk, NULL, NULL};
    ocirt_attach_callbacks tty = {"exec tty", print_chunk, NULL, NULL, NULL};
    ocirt_attach_outcome outcome;
    int32_t pid = 0;
    int32_t code = -1;
    bool running = true;
    int ok = 0;

    printf("== step 5: exec sessions in a running container\n");
    ctr = new_inline_container(rt, "exec", "[\"sleep\", \"1000\"]", 0, "");
    if (ctr == NULL)
        return 0;
    TRY(ocirt_container_create(ctr, NULL));
    TRY(ocirt_container_start(ctr));

    printf("-- attached exec: sh -c 'echo hello from exec as uid $(id -u); exit 4'\n");
    snprintf(session, sizeof(session), "attached-%d", (int)getpid());
    TRY(ocirt_exec_start(ctr, session,
                         "{\"cmd\": [\"sh\", \"-c\", \"echo hello from exec as uid $(id -u); exit 4\"]}",
                         &out, &pid, &attach));
    TRY(ocirt_attach_wait(attach, 30000, &outcome, &code));
    printf("   exec pid %d exited with code %d\n", pid, code);
    ocirt_attach_free(attach);
    attach = NULL;
    TRY(ocirt_exec_cleanup(ctr, session));

    printf("-- detached exec: sh -c 'sleep 1; exit 7', polling its status\n");
    snprintf(session, sizeof(session), "detached-%d", (int)getpid());
    TRY(ocirt_exec_start(ctr, session, "{\"cmd\": [\"sh\", \"-c\", \"sleep 1; exit 7\"]}", NULL,
                         &pid, NULL));
    while (running) {
        TRY(ocirt_exec_update_status(ctr, session, &running, &code));
        if (running) {
            printf("   pid %d still running\n", pid);
            usleep(400 * 1000);
        }
    }
    printf("   exited with code %d\n", code);
    TRY(ocirt_exec_cleanup(ctr, session));

    printf("-- exec on a terminal at 80x24, resized to 120x40 while it runs\n");
    snprintf(session, sizeof(session), "tty-%d", (int)getpid());
    TRY(ocirt_exec_start(ctr, session,
                         "{\"cmd\": [\"sh\", \"-c\", \"echo size: $(stty size); read x;"
                         " echo size: $(stty size)\"], \"terminal\": true, \"stdin\": true,"
                         " \"width\": 80, \"height\": 24}",
                         &tty, &pid, &attach));
    /* Give the shell time to print its first size before the resize. */
    usleep(300 * 1000);
    TRY(ocirt_exec_resize(ctr, session, 120, 40));
    TRY(ocirt_attach_write(attach, (const uint8_t *)"\n", 1));
    TRY(ocirt_attach_wait(attach, 30000, &outcome, &code));
    printf("   exited with code %d\n", code);
    TRY(ocirt_exec_cleanup(ctr, session));

    TRY(ocirt_container_stop(ctr, 0, false));
    ok = 1;
cleanup:
    ocirt_attach_free(attach);
    delete_container(ctr);
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
    char run_dir[] = "/tmp/ocirt-demo-XXXXXX";
    char config[4096];
    char *info = NULL;
    ocirt_runtime *rt = NULL;
    int ok = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s BUNDLE (an existing bundle directory)\n", argv[0]);
        return 2;
    }
    if (realpath(argv[1], bundle) == NULL) {
        fprintf(stderr, "demo: bundle %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    if (mkdtemp(run_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    ocirt_set_log_callback(OCIRT_LOG_INFO, print_log, NULL);

    printf("== libocirt %s: opening the runtime (state in %s)\n", ocirt_version(), run_dir);
    snprintf(config, sizeof(config), "{\"run_dir\": \"%s/run\", \"runtime_root\": \"%s/runc\"}",
             run_dir, run_dir);
    TRY(ocirt_runtime_new(config, &rt));
    TRY(ocirt_runtime_info(rt, &info));
    printf("   runtime info: %s\n", info);

    ok = step_short(rt) && step_stop(rt) && step_streaming(rt) && step_terminal(rt) &&
         step_exec(rt);
cleanup:
    ocirt_runtime_free(rt);
    ocirt_string_free(info);
    ocirt_set_log_callback(OCIRT_LOG_OFF, NULL, NULL);
    nftw(run_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf(ok ? "== demo finished\n" : "== demo failed\n");
    return ok ? 0 : 1;
}
