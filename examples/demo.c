/*
 * ocirt demo: runs busybox containers through libocirt, runc and conmon.
 *
 * Usage: demo BUNDLE
 *   BUNDLE is an OCI bundle with a busybox rootfs (scripts/make-bundle.sh makes one; its
 *   config.json must run a long-lived command that exits on SIGTERM).
 *
 * First it creates, starts and waits for a short container given as an inline spec, and
 * prints its exit code and k8s-file log. Then it starts a long-running container from the
 * bundle and stops it with a 10 s timeout, which takes well under the timeout because the
 * container exits on SIGTERM. Last, it deletes both.
 * State lives in a temporary directory that the demo removes at the end.
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ocirt.h"

static void print_log(void *userdata, ocirt_log_level level, const char *message)
{
    (void)userdata;
    if (level <= OCIRT_LOG_INFO)
        printf("    [libocirt] %s\n", message);
}

/* Prints the failed call with the library's error name and message. */
static int failed(const char *what, int rc)
{
    fprintf(stderr, "demo: %s failed: %s: %s\n", what, ocirt_result_name(rc),
            ocirt_last_error_message());
    return 0;
}

#define TRY(call)                                                                                  \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != OCIRT_OK) {                                                                     \
            failed(#call, rc_);                                                                    \
            goto cleanup;                                                                          \
        }                                                                                          \
    } while (0)

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

/* Prints the container's k8s-file log, whose path the state JSON names. */
static void print_container_log(ocirt_container *ctr)
{
    char *state = NULL;
    char *path = NULL;
    const char *key;

    if (ocirt_container_state_json(ctr, &state) != OCIRT_OK) {
        fprintf(stderr, "demo: cannot read the state: %s\n", ocirt_last_error_message());
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

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    char bundle[PATH_MAX];
    char run_dir[] = "/tmp/ocirt-demo-XXXXXX";
    char config[4096];
    char *info = NULL;
    ocirt_runtime *rt = NULL;
    ocirt_container *hello = NULL;
    ocirt_container *server = NULL;
    int32_t code = -1;
    double started;
    int rc;
    int ok = 0;

    if (argc != 2 || realpath(argv[1], bundle) == NULL) {
        fprintf(stderr, "usage: %s BUNDLE (an existing bundle directory)\n", argv[0]);
        return 2;
    }
    if (mkdtemp(run_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    ocirt_set_log_callback(OCIRT_LOG_INFO, print_log, NULL);

    printf("== libocirt %s: opening the runtime (state in %s)\n", ocirt_version(), run_dir);
    snprintf(config, sizeof(config), "{\"run_dir\": \"%s/run\", \"runtime_root\": \"%s/runc\"}",
             run_dir, run_dir);
    TRY(ocirt_runtime_new(config, &rt));
    TRY(ocirt_runtime_info(rt, &info));
    printf("   runtime info: %s\n", info);

    printf("== container 1: an inline spec running a shell script on %s/rootfs\n", bundle);
    rc = snprintf(config, sizeof(config),
             "{\"id\": \"demo-hello-%d\", \"rootfs\": \"%s/rootfs\", \"spec\": {"
             "\"ociVersion\": \"1.0.2\","
             "\"process\": {\"args\": [\"sh\", \"-c\", \"echo hello from busybox on $(hostname);"
             " echo this line goes to stderr >&2; exit 3\"],"
             " \"env\": [\"PATH=/bin\"], \"cwd\": \"/\", \"user\": {\"uid\": 0, \"gid\": 0}},"
             "\"root\": {\"path\": \"rootfs\", \"readonly\": true},"
             "\"hostname\": \"demo\","
             "\"mounts\": [{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"}],"
             "\"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"uts\"},"
             " {\"type\": \"ipc\"}, {\"type\": \"mount\"}]}}}",
             (int)getpid(), bundle);
    if (rc < 0 || (size_t)rc >= sizeof(config)) {
        fprintf(stderr, "demo: bundle path %s is too long\n", bundle);
        goto cleanup;
    }
    TRY(ocirt_container_new(rt, config, &hello));
    printf("-- create (conmon starts, runc creates the container)\n");
    TRY(ocirt_container_create(hello, NULL));
    printf("-- start\n");
    TRY(ocirt_container_start(hello));
    printf("-- wait\n");
    TRY(ocirt_container_wait(hello, 30000, &code));
    printf("   exit code: %d\n", code);
    print_container_log(hello);

    printf("== container 2: the bundle %s (%s)\n", bundle, "a shell that exits on SIGTERM");
    rc = snprintf(config, sizeof(config), "{\"id\": \"demo-server-%d\", \"bundle\": \"%s\"}",
                  (int)getpid(), bundle);
    if (rc < 0 || (size_t)rc >= sizeof(config)) {
        fprintf(stderr, "demo: bundle path %s is too long\n", bundle);
        goto cleanup;
    }
    TRY(ocirt_container_new(rt, config, &server));
    TRY(ocirt_container_create(server, NULL));
    TRY(ocirt_container_start(server));
    rc = ocirt_container_wait(server, 500, &code);
    if (rc != OCIRT_ERR_TIMED_OUT) {
        failed("waiting 0.5 s for the long-running container (it should still run)", rc);
        goto cleanup;
    }
    printf("   still running after 0.5 s, as it should be\n");
    printf("-- stop with a 10 s timeout (SIGTERM first, SIGKILL only if it does not exit)\n");
    started = now_seconds();
    TRY(ocirt_container_stop(server, 10, false));
    TRY(ocirt_container_wait(server, 0, &code));
    printf("   stopped after %.2f s with exit code %d\n", now_seconds() - started, code);
    print_container_log(server);

    ok = 1;
cleanup:
    printf("== deleting both containers\n");
    if (hello != NULL && (rc = ocirt_container_delete(hello)) != OCIRT_OK)
        failed("ocirt_container_delete(hello)", rc);
    if (server != NULL && (rc = ocirt_container_delete(server)) != OCIRT_OK)
        failed("ocirt_container_delete(server)", rc);
    ocirt_container_free(hello);
    ocirt_container_free(server);
    ocirt_runtime_free(rt);
    ocirt_string_free(info);
    ocirt_set_log_callback(OCIRT_LOG_OFF, NULL, NULL);
    nftw(run_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf(ok ? "== demo finished\n" : "== demo failed\n");
    return ok ? 0 : 1;
}
