//! The C ABI called from Rust: argument checking on every export, outputs written only on
//! success, the panic catcher on every export, and the generated header.

mod common;

use std::collections::BTreeSet;
use std::ffi::{c_char, CStr, CString};
use std::fs;
use std::ptr;

use common::*;
use ocirt::ffi::attach::*;
use ocirt::ffi::container::*;
use ocirt::ffi::exec::*;
use ocirt::ffi::runtime::*;
use ocirt::ffi::*;
use ocirt::ocirt_result;
use ocirt::ocirt_result::*;

fn c(text: &str) -> CString {
    CString::new(text).unwrap()
}

/// Returns the names of the functions that include/ocirt.h declares.
fn header_functions() -> BTreeSet<String> {
    let header = fs::read_to_string(repo_root().join("include/ocirt.h")).unwrap();
    let mut names = BTreeSet::new();
    for line in header.lines() {
        if line.starts_with(' ')
            || line.starts_with('#')
            || line.starts_with('*')
            || line.starts_with("typedef")
        {
            continue;
        }
        // A declaration line reads "<return type> <name>(...": take the identifier before "(".
        if let Some(open) = line.find('(') {
            let name: String = line[..open]
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if name.starts_with("ocirt_") {
                names.insert(name);
            }
        }
    }
    names
}

/// Lists every `extern "C" fn` in src/ffi, with whether its body starts with the panic
/// catcher.
fn ffi_exports() -> Vec<(String, bool)> {
    let mut exports = Vec::new();
    let dir = repo_root().join("src/ffi");
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("extern \"C\" fn ") {
            let after = &rest[at + "extern \"C\" fn ".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // The body starts at the first "{" after the closing parenthesis of the arguments
            // and the return type.
            let body_start = after
                .find(")")
                .and_then(|close| after[close..].find('{').map(|b| close + b + 1))
                .unwrap();
            let body = after[body_start..].trim_start();
            let guarded = body.starts_with("guard(")
                || body.starts_with("guard_value(")
                || body.starts_with("crate::ffi::boundary::guard_value(")
                || body.starts_with("crate::ffi::boundary::guard(");
            exports.push((name, guarded));
            rest = &after[body_start..];
        }
    }
    exports
}

#[test]
fn every_export_runs_inside_the_panic_catcher() {
    let exports = ffi_exports();
    assert!(exports.len() >= 30, "found only {} exports", exports.len());
    let unguarded: Vec<&String> = exports.iter().filter(|(_, g)| !g).map(|(n, _)| n).collect();
    assert!(
        unguarded.is_empty(),
        "exports without the catcher: {:?}",
        unguarded
    );
    let exported: BTreeSet<String> = exports.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(
        exported,
        header_functions(),
        "src/ffi and include/ocirt.h disagree"
    );
    let unprefixed: Vec<&String> = exported
        .iter()
        .filter(|n| !n.starts_with("ocirt_"))
        .collect();
    assert!(
        unprefixed.is_empty(),
        "exports without the ocirt_ prefix: {:?}",
        unprefixed
    );
}

#[test]
fn every_header_item_is_documented() {
    let header = fs::read_to_string(repo_root().join("include/ocirt.h")).unwrap();
    let lines: Vec<&str> = header.lines().collect();
    let mut undocumented = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        // cbindgen follows each enum with a typedef of the same name, and the enum has the doc.
        let enum_typedef = line.starts_with("typedef enum") || line.starts_with("typedef int32_t");
        let item = line.starts_with("enum ")
            || line.starts_with("typedef ")
            || (line.starts_with("#define OCIRT_") && !line.starts_with("#define OCIRT_H"))
            || (!line.starts_with(' ')
                && !line.starts_with('#')
                && line.contains(" ocirt_")
                && line.contains('('));
        if !item || enum_typedef {
            continue;
        }
        let previous = lines[..index]
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .copied()
            .unwrap_or("");
        if !previous.trim_end().ends_with("*/") {
            undocumented.push(line.to_string());
        }
    }
    assert!(
        undocumented.is_empty(),
        "header items without a doc comment: {:#?}",
        undocumented
    );
    assert!(
        !header.contains("_ALL"),
        "an associated constant leaked into the header"
    );
}

#[test]
fn header_matches_generated() {
    let generated = fs::read_to_string(concat!(env!("OUT_DIR"), "/ocirt.h")).unwrap();
    let committed = fs::read_to_string(repo_root().join("include/ocirt.h")).unwrap();
    assert!(
        generated == committed,
        "include/ocirt.h is stale: run `cargo build` (without OCIRT_FROZEN_HEADER) and commit it"
    );
}

#[test]
fn result_names_cover_every_code() {
    for &code in ocirt_result::all() {
        // SAFETY: ocirt_result_name returns a static NUL-terminated string for any value.
        let name = unsafe { CStr::from_ptr(ocirt_result_name(code as i32)) }
            .to_str()
            .unwrap();
        assert_eq!(name, format!("{:?}", code));
    }

    // SAFETY: as above. ocirt_version also returns a static string.
    let unknown = unsafe { CStr::from_ptr(ocirt_result_name(9999)) }
        .to_str()
        .unwrap();
    assert_eq!(unknown, "OCIRT_UNKNOWN_RESULT");

    let version = unsafe { CStr::from_ptr(ocirt_version()) }.to_str().unwrap();
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
}

/// A runtime handle with two container handles: `container` is configured and `deleted` was
/// deleted right after it was configured.
struct Handles {
    /// Keeps the test's directories and containers until the handles are gone.
    _env: TestEnv,
    runtime: *mut ocirt_runtime,
    container: *mut ocirt_container,
    deleted: *mut ocirt_container,
}

impl Drop for Handles {
    fn drop(&mut self) {
        unsafe {
            ocirt_container_free(self.container);
            ocirt_container_free(self.deleted);
            ocirt_runtime_free(self.runtime);
        }
    }
}

/// Creates the runtime and container handles through the C functions.
fn handles() -> Handles {
    let env = TestEnv::new();
    let mut runtime = ptr::null_mut();
    let config = c(&env.runtime_config_json());
    assert_eq!(
        unsafe { ocirt_runtime_new(config.as_ptr(), &mut runtime) },
        OCIRT_OK,
        "{}",
        ffi_last_error()
    );
    let make = |name: &str| {
        let config = serde_json::json!({"id": unique_id(name), "spec": spec(&["sleep", "1000"]), "rootfs": rootfs()});
        let config = c(&config.to_string());
        let mut container = ptr::null_mut();
        assert_eq!(
            unsafe { ocirt_container_new(runtime, config.as_ptr(), &mut container) },
            OCIRT_OK,
            "{}",
            ffi_last_error()
        );
        container
    };
    let container = make("live");
    let deleted = make("deleted");
    assert_eq!(
        unsafe { ocirt_container_delete(deleted) },
        OCIRT_OK,
        "{}",
        ffi_last_error()
    );
    Handles {
        _env: env,
        runtime,
        container,
        deleted,
    }
}

/// One bad call: the function it exercises, the call, the expected code and a text the
/// message must contain.
struct BadCall {
    function: &'static str,
    call: Box<dyn Fn(&Handles) -> ocirt_result>,
    expected: ocirt_result,
    needle: &'static str,
}

fn bad(
    function: &'static str,
    expected: ocirt_result,
    needle: &'static str,
    call: impl Fn(&Handles) -> ocirt_result + 'static,
) -> BadCall {
    BadCall {
        function,
        call: Box::new(call),
        expected,
        needle,
    }
}

const INVALID_UTF8: &[u8] = b"{\"id\": \"\xff\xfe\"}\0";
const NULL_ARG: ocirt_result = OCIRT_ERR_NULL_ARGUMENT;
const INVALID: ocirt_result = OCIRT_ERR_INVALID_ARGUMENT;
const GONE: ocirt_result = OCIRT_ERR_NO_SUCH_CONTAINER;

fn utf8_ptr() -> *const c_char {
    INVALID_UTF8.as_ptr().cast()
}

/// Returns the JSON of a container config with `id`, which may be invalid.
fn container_config(id: &str) -> CString {
    let mut config = serde_json::json!({"spec": spec(&["true"]), "rootfs": rootfs()});
    config["id"] = serde_json::Value::String(id.to_string());
    c(&config.to_string())
}

#[rustfmt::skip]
/// Returns one or more bad calls of each fallible export, with the expected result.
fn bad_calls() -> Vec<BadCall> {
    let mut calls = vec![
        bad("ocirt_set_log_callback", INVALID, "log level 42", |_| unsafe { ocirt_set_log_callback(42, None, ptr::null_mut()) }),
        bad("ocirt_runtime_new", NULL_ARG, "config_json", |_| unsafe { ocirt_runtime_new(ptr::null(), &mut ptr::null_mut()) }),
        bad("ocirt_runtime_new", NULL_ARG, "out", |_| unsafe { ocirt_runtime_new(c("{}").as_ptr(), ptr::null_mut()) }),
        bad("ocirt_runtime_new", INVALID, "UTF-8", |_| unsafe { ocirt_runtime_new(utf8_ptr(), &mut ptr::null_mut()) }),
        bad("ocirt_runtime_new", INVALID, "runtime config is not valid JSON", |_| unsafe { ocirt_runtime_new(c("{not json").as_ptr(), &mut ptr::null_mut()) }),
        bad("ocirt_runtime_new", INVALID, "colour", |_| unsafe { ocirt_runtime_new(c(r#"{"colour": 1}"#).as_ptr(), &mut ptr::null_mut()) }),
        bad("ocirt_runtime_new", OCIRT_ERR_RUNTIME_UNAVAILABLE, "/no/such/runc", |_| unsafe { ocirt_runtime_new(c(r#"{"path": "/no/such/runc"}"#).as_ptr(), &mut ptr::null_mut()) }),
        bad("ocirt_runtime_new", OCIRT_ERR_CONMON, "/no/such/conmon", |_| unsafe { ocirt_runtime_new(c(r#"{"conmon_path": "/no/such/conmon"}"#).as_ptr(), &mut ptr::null_mut()) }),
        bad("ocirt_runtime_name", NULL_ARG, "runtime", |_| unsafe { ocirt_runtime_name(ptr::null(), &mut ptr::null()) }),
        bad("ocirt_runtime_name", NULL_ARG, "out", |h| unsafe { ocirt_runtime_name(h.runtime, ptr::null_mut()) }),
        bad("ocirt_runtime_path", NULL_ARG, "runtime", |_| unsafe { ocirt_runtime_path(ptr::null(), &mut ptr::null()) }),
        bad("ocirt_runtime_path", NULL_ARG, "out", |h| unsafe { ocirt_runtime_path(h.runtime, ptr::null_mut()) }),
        bad("ocirt_runtime_info", NULL_ARG, "runtime", |_| unsafe { ocirt_runtime_info(ptr::null(), &mut ptr::null_mut()) }),
        bad("ocirt_runtime_info", NULL_ARG, "out", |h| unsafe { ocirt_runtime_info(h.runtime, ptr::null_mut()) }),
        bad("ocirt_runtime_list_containers", NULL_ARG, "\"runtime\"", |_| unsafe { ocirt_runtime_list_containers(ptr::null(), &mut ptr::null_mut()) }),
        bad("ocirt_runtime_list_containers", NULL_ARG, "\"out\"", |h| unsafe { ocirt_runtime_list_containers(h.runtime, ptr::null_mut()) }),
        bad("ocirt_container_new", NULL_ARG, "runtime", |_| unsafe { ocirt_container_new(ptr::null(), c("{}").as_ptr(), &mut ptr::null_mut()) }),
        bad("ocirt_container_new", NULL_ARG, "config_json", |h| unsafe { ocirt_container_new(h.runtime, ptr::null(), &mut ptr::null_mut()) }),
        bad("ocirt_container_new", NULL_ARG, "out", |h| unsafe { ocirt_container_new(h.runtime, container_config("x").as_ptr(), ptr::null_mut()) }),
        bad("ocirt_container_new", INVALID, "UTF-8", |h| unsafe { ocirt_container_new(h.runtime, utf8_ptr(), &mut ptr::null_mut()) }),
        bad("ocirt_container_new", INVALID, "container config is not valid JSON", |h| unsafe { ocirt_container_new(h.runtime, c("[1,").as_ptr(), &mut ptr::null_mut()) }),
        bad("ocirt_container_new", INVALID, "container config must be a JSON object, got an array", |h| unsafe { ocirt_container_new(h.runtime, c("[1]").as_ptr(), &mut ptr::null_mut()) }),
        bad("ocirt_container_new", INVALID, "unknown field `colour`", |h| unsafe { ocirt_container_new(h.runtime, c(r#"{"id": "a", "bundle": "/b", "colour": 1}"#).as_ptr(), &mut ptr::null_mut()) }),
        bad("ocirt_container_new", INVALID, "\"a/b\"", |h| unsafe { ocirt_container_new(h.runtime, container_config("a/b").as_ptr(), &mut ptr::null_mut()) }),
        bad("ocirt_container_new", INVALID, "\"..\"", |h| unsafe { ocirt_container_new(h.runtime, container_config("..").as_ptr(), &mut ptr::null_mut()) }),
        bad("ocirt_container_new", INVALID, "a\\0b", |h| unsafe { ocirt_container_new(h.runtime, container_config("a\0b").as_ptr(), &mut ptr::null_mut()) }),
        bad("ocirt_container_new", INVALID, "300 bytes", |h| unsafe { ocirt_container_new(h.runtime, container_config(&"x".repeat(300)).as_ptr(), &mut ptr::null_mut()) }),
        bad("ocirt_container_open", NULL_ARG, "runtime", |_| unsafe { ocirt_container_open(ptr::null(), c("x").as_ptr(), &mut ptr::null_mut()) }),
        bad("ocirt_container_open", NULL_ARG, "id", |h| unsafe { ocirt_container_open(h.runtime, ptr::null(), &mut ptr::null_mut()) }),
        bad("ocirt_container_open", NULL_ARG, "out", |h| unsafe { ocirt_container_open(h.runtime, c("x").as_ptr(), ptr::null_mut()) }),
        bad("ocirt_container_open", INVALID, "UTF-8", |h| unsafe { ocirt_container_open(h.runtime, b"\xff\0".as_ptr().cast(), &mut ptr::null_mut()) }),
        bad("ocirt_container_open", INVALID, "\"../etc\"", |h| unsafe { ocirt_container_open(h.runtime, c("../etc").as_ptr(), &mut ptr::null_mut()) }),
        bad("ocirt_container_open", INVALID, "\"a/b\"", |h| unsafe { ocirt_container_open(h.runtime, c("a/b").as_ptr(), &mut ptr::null_mut()) }),
        bad("ocirt_container_open", INVALID, "300 bytes", |h| unsafe { ocirt_container_open(h.runtime, c(&"y".repeat(300)).as_ptr(), &mut ptr::null_mut()) }),
        bad("ocirt_container_open", GONE, "no-such-ctr", |h| unsafe { ocirt_container_open(h.runtime, c("no-such-ctr").as_ptr(), &mut ptr::null_mut()) }),
        bad("ocirt_container_id", NULL_ARG, "out", |h| unsafe { ocirt_container_id(h.container, ptr::null_mut()) }),
        bad("ocirt_container_state_json", NULL_ARG, "out", |h| unsafe { ocirt_container_state_json(h.container, ptr::null_mut()) }),
        bad("ocirt_container_state_json", GONE, "deleted", |h| unsafe { ocirt_container_state_json(h.deleted, &mut ptr::null_mut()) }),
        bad("ocirt_container_create", INVALID, "UTF-8", |h| unsafe { ocirt_container_create(h.container, b"\xc3\0".as_ptr().cast()) }),
        bad("ocirt_container_create", INVALID, "unknown field `bogus`", |h| unsafe { ocirt_container_create(h.container, c(r#"{"bogus": true}"#).as_ptr()) }),
        bad("ocirt_container_create", GONE, "deleted", |h| unsafe { ocirt_container_create(h.deleted, ptr::null()) }),
        bad("ocirt_container_start", OCIRT_ERR_CONTAINER_STATE_INVALID, "configured", |h| unsafe { ocirt_container_start(h.container) }),
        bad("ocirt_container_start", GONE, "deleted", |h| unsafe { ocirt_container_start(h.deleted) }),
        bad("ocirt_container_update_status", GONE, "deleted", |h| unsafe { ocirt_container_update_status(h.deleted) }),
        bad("ocirt_container_kill", INVALID, "signal 0", |h| unsafe { ocirt_container_kill(h.container, 0, false) }),
        bad("ocirt_container_kill", INVALID, "signal 99", |h| unsafe { ocirt_container_kill(h.container, 99, false) }),
        bad("ocirt_container_kill", GONE, "deleted", |h| unsafe { ocirt_container_kill(h.deleted, 9, false) }),
        bad("ocirt_container_stop", GONE, "deleted", |h| unsafe { ocirt_container_stop(h.deleted, 1, false) }),
        bad("ocirt_container_delete", GONE, "deleted", |h| unsafe { ocirt_container_delete(h.deleted) }),
        bad("ocirt_container_pause", GONE, "deleted", |h| unsafe { ocirt_container_pause(h.deleted) }),
        bad("ocirt_container_unpause", GONE, "deleted", |h| unsafe { ocirt_container_unpause(h.deleted) }),
        bad("ocirt_container_wait", NULL_ARG, "exit_code", |h| unsafe { ocirt_container_wait(h.container, 0, ptr::null(), ptr::null_mut()) }),
        bad("ocirt_container_wait", GONE, "deleted", |h| unsafe { ocirt_container_wait(h.deleted, 0, ptr::null(), &mut 0) }),
        bad("ocirt_container_exit_file_path", NULL_ARG, "out", |h| unsafe { ocirt_container_exit_file_path(h.container, ptr::null_mut()) }),
        bad("ocirt_container_exit_file_path", GONE, "deleted", |h| unsafe { ocirt_container_exit_file_path(h.deleted, &mut ptr::null_mut()) }),
        bad("ocirt_container_attach_socket_path", NULL_ARG, "out", |h| unsafe { ocirt_container_attach_socket_path(h.container, ptr::null_mut()) }),
        bad("ocirt_container_attach_socket_path", GONE, "deleted", |h| unsafe { ocirt_container_attach_socket_path(h.deleted, &mut ptr::null_mut()) }),
        bad("ocirt_container_checkpoint", INVALID, "unknown field `later`", |h| unsafe { ocirt_container_checkpoint(h.container, c(r#"{"later": 1}"#).as_ptr()) }),
        bad("ocirt_container_checkpoint", INVALID, "UTF-8", |h| unsafe { ocirt_container_checkpoint(h.container, b"\xff\0".as_ptr().cast()) }),
        bad("ocirt_container_attach", NULL_ARG, "\"container\"", |_| unsafe { ocirt_container_attach(ptr::null(), ptr::null(), &no_callbacks(), &mut ptr::null_mut()) }),
        bad("ocirt_container_attach", NULL_ARG, "\"callbacks\"", |h| unsafe { ocirt_container_attach(h.container, ptr::null(), ptr::null(), &mut ptr::null_mut()) }),
        bad("ocirt_container_attach", NULL_ARG, "\"out\"", |h| unsafe { ocirt_container_attach(h.container, ptr::null(), &no_callbacks(), ptr::null_mut()) }),
        bad("ocirt_container_attach", INVALID, "attach options is not valid JSON", |h| unsafe { ocirt_container_attach(h.container, c("{").as_ptr(), &no_callbacks(), &mut ptr::null_mut()) }),
        bad("ocirt_container_attach", INVALID, "unknown field `strem`", |h| unsafe { ocirt_container_attach(h.container, c(r#"{"strem": 1}"#).as_ptr(), &no_callbacks(), &mut ptr::null_mut()) }),
        bad("ocirt_container_attach", INVALID, "\"ctrl-C\"", |h| unsafe { ocirt_container_attach(h.container, c(r#"{"detach_keys": "ctrl-C"}"#).as_ptr(), &no_callbacks(), &mut ptr::null_mut()) }),
        bad("ocirt_container_attach", INVALID, "UTF-8", |h| unsafe { ocirt_container_attach(h.container, b"\xfe\0".as_ptr().cast(), &no_callbacks(), &mut ptr::null_mut()) }),
        bad("ocirt_container_attach", OCIRT_ERR_CONTAINER_STATE_INVALID, "configured", |h| unsafe { ocirt_container_attach(h.container, ptr::null(), &no_callbacks(), &mut ptr::null_mut()) }),
        bad("ocirt_container_attach", GONE, "deleted", |h| unsafe { ocirt_container_attach(h.deleted, ptr::null(), &no_callbacks(), &mut ptr::null_mut()) }),
        bad("ocirt_attach_write", NULL_ARG, "\"attach\"", |_| unsafe { ocirt_attach_write(ptr::null(), b"x".as_ptr(), 1) }),
        bad("ocirt_attach_close_stdin", NULL_ARG, "\"attach\"", |_| unsafe { ocirt_attach_close_stdin(ptr::null()) }),
        bad("ocirt_attach_detach", NULL_ARG, "\"attach\"", |_| unsafe { ocirt_attach_detach(ptr::null()) }),
        bad("ocirt_attach_wait", NULL_ARG, "\"attach\"", |_| unsafe { ocirt_attach_wait(ptr::null(), 0, &mut ocirt::ffi::attach::ocirt_attach_outcome::OCIRT_ATTACH_ENDED, &mut 0) }),
        bad("ocirt_cancel_new", NULL_ARG, "\"out\"", |_| unsafe { ocirt_cancel_new(ptr::null_mut()) }),
        bad("ocirt_cancel_trigger", NULL_ARG, "\"cancel\"", |_| unsafe { ocirt_cancel_trigger(ptr::null()) }),
        bad("ocirt_container_resize", NULL_ARG, "\"container\"", |_| unsafe { ocirt_container_resize(ptr::null(), 80, 24) }),
        bad("ocirt_container_resize", OCIRT_ERR_CONTAINER_STATE_INVALID, "no terminal", |h| unsafe { ocirt_container_resize(h.container, 80, 24) }),
        bad("ocirt_container_resize", GONE, "deleted", |h| unsafe { ocirt_container_resize(h.deleted, 80, 24) }),
        bad("ocirt_container_http_attach", INVALID, "conn_fd -1", |h| unsafe { ocirt_container_http_attach(h.container, -1, ptr::null(), ptr::null(), 0, ptr::null()) }),
        bad("ocirt_container_http_attach", NULL_ARG, "\"container\"", |_| unsafe { ocirt_container_http_attach(ptr::null(), devnull(), ptr::null(), ptr::null(), 0, ptr::null()) }),
        bad("ocirt_container_http_attach", NULL_ARG, "\"buffered\"", |h| unsafe { ocirt_container_http_attach(h.container, devnull(), ptr::null(), ptr::null(), 5, ptr::null()) }),
        bad("ocirt_container_http_attach", INVALID, "at least one", |h| unsafe { ocirt_container_http_attach(h.container, devnull(), c(r#"{"stdin": false, "stdout": false, "stderr": false}"#).as_ptr(), ptr::null(), 0, ptr::null()) }),
        bad("ocirt_container_http_attach", INVALID, "unknown field `logs`", |h| unsafe { ocirt_container_http_attach(h.container, devnull(), c(r#"{"logs": true}"#).as_ptr(), ptr::null(), 0, ptr::null()) }),
        bad("ocirt_container_http_attach", GONE, "deleted", |h| unsafe { ocirt_container_http_attach(h.deleted, devnull(), ptr::null(), ptr::null(), 0, ptr::null()) }),
        bad("ocirt_exec_start", NULL_ARG, "\"session_id\"", |h| unsafe { ocirt_exec_start(h.container, ptr::null(), c(r#"{"cmd": ["true"]}"#).as_ptr(), ptr::null(), &mut 0, ptr::null_mut()) }),
        bad("ocirt_exec_start", NULL_ARG, "\"options_json\"", |h| unsafe { ocirt_exec_start(h.container, c("s1").as_ptr(), ptr::null(), ptr::null(), &mut 0, ptr::null_mut()) }),
        bad("ocirt_exec_start", NULL_ARG, "\"pid\"", |h| unsafe { ocirt_exec_start(h.container, c("s1").as_ptr(), c(r#"{"cmd": ["true"]}"#).as_ptr(), ptr::null(), ptr::null_mut(), ptr::null_mut()) }),
        bad("ocirt_exec_start", NULL_ARG, "\"attach\"", |h| unsafe { ocirt_exec_start(h.container, c("s1").as_ptr(), c(r#"{"cmd": ["true"]}"#).as_ptr(), &no_callbacks(), &mut 0, ptr::null_mut()) }),
        bad("ocirt_exec_start", INVALID, "\"a/b\"", |h| unsafe { ocirt_exec_start(h.container, c("a/b").as_ptr(), c(r#"{"cmd": ["true"]}"#).as_ptr(), ptr::null(), &mut 0, ptr::null_mut()) }),
        bad("ocirt_exec_start", INVALID, "300 bytes", |h| unsafe { ocirt_exec_start(h.container, c(&"s".repeat(300)).as_ptr(), c(r#"{"cmd": ["true"]}"#).as_ptr(), ptr::null(), &mut 0, ptr::null_mut()) }),
        bad("ocirt_exec_start", INVALID, "UTF-8", |h| unsafe { ocirt_exec_start(h.container, b"s\xff\0".as_ptr().cast(), c(r#"{"cmd": ["true"]}"#).as_ptr(), ptr::null(), &mut 0, ptr::null_mut()) }),
        bad("ocirt_exec_start", INVALID, "\"cmd\"", |h| unsafe { ocirt_exec_start(h.container, c("s1").as_ptr(), c(r#"{"cmd": []}"#).as_ptr(), ptr::null(), &mut 0, ptr::null_mut()) }),
        bad("ocirt_exec_start", INVALID, "unknown field `command`", |h| unsafe { ocirt_exec_start(h.container, c("s1").as_ptr(), c(r#"{"command": ["true"]}"#).as_ptr(), ptr::null(), &mut 0, ptr::null_mut()) }),
        bad("ocirt_exec_start", OCIRT_ERR_CONTAINER_STATE_INVALID, "configured", |h| unsafe { ocirt_exec_start(h.container, c("s1").as_ptr(), c(r#"{"cmd": ["true"]}"#).as_ptr(), ptr::null(), &mut 0, ptr::null_mut()) }),
        bad("ocirt_exec_start", GONE, "deleted", |h| unsafe { ocirt_exec_start(h.deleted, c("s1").as_ptr(), c(r#"{"cmd": ["true"]}"#).as_ptr(), ptr::null(), &mut 0, ptr::null_mut()) }),
        bad("ocirt_exec_start_http", INVALID, "conn_fd -1", |h| unsafe { ocirt_exec_start_http(h.container, c("s1").as_ptr(), c(r#"{"cmd": ["true"]}"#).as_ptr(), -1, ptr::null(), ptr::null(), 0, ptr::null(), &mut 0, ptr::null_mut()) }),
        bad("ocirt_exec_start_http", NULL_ARG, "\"session_id\"", |h| unsafe { ocirt_exec_start_http(h.container, ptr::null(), c(r#"{"cmd": ["true"]}"#).as_ptr(), devnull(), ptr::null(), ptr::null(), 0, ptr::null(), &mut 0, ptr::null_mut()) }),
        bad("ocirt_exec_start_http", INVALID, "HTTP attach options is not valid JSON", |h| unsafe { ocirt_exec_start_http(h.container, c("s1").as_ptr(), c(r#"{"cmd": ["true"]}"#).as_ptr(), devnull(), c("{").as_ptr(), ptr::null(), 0, ptr::null(), &mut 0, ptr::null_mut()) }),
        bad("ocirt_exec_start_http", GONE, "deleted", |h| unsafe { ocirt_exec_start_http(h.deleted, c("s1").as_ptr(), c(r#"{"cmd": ["true"]}"#).as_ptr(), devnull(), ptr::null(), ptr::null(), 0, ptr::null(), &mut 0, ptr::null_mut()) }),
        bad("ocirt_exec_resize", OCIRT_ERR_NO_SUCH_EXEC_SESSION, "\"s1\"", |h| unsafe { ocirt_exec_resize(h.container, c("s1").as_ptr(), 80, 24) }),
        bad("ocirt_exec_resize", NULL_ARG, "\"session_id\"", |h| unsafe { ocirt_exec_resize(h.container, ptr::null(), 80, 24) }),
        bad("ocirt_exec_stop", OCIRT_ERR_NO_SUCH_EXEC_SESSION, "\"s1\"", |h| unsafe { ocirt_exec_stop(h.container, c("s1").as_ptr(), 0) }),
        bad("ocirt_exec_stop", INVALID, "\"..\"", |h| unsafe { ocirt_exec_stop(h.container, c("..").as_ptr(), 0) }),
        bad("ocirt_exec_update_status", OCIRT_ERR_NO_SUCH_EXEC_SESSION, "\"s1\"", |h| unsafe { ocirt_exec_update_status(h.container, c("s1").as_ptr(), &mut false, &mut 0) }),
        bad("ocirt_exec_update_status", NULL_ARG, "\"running\"", |h| unsafe { ocirt_exec_update_status(h.container, c("s1").as_ptr(), ptr::null_mut(), &mut 0) }),
        bad("ocirt_exec_update_status", GONE, "deleted", |h| unsafe { ocirt_exec_update_status(h.deleted, c("s1").as_ptr(), &mut false, &mut 0) }),
        bad("ocirt_exec_cleanup", OCIRT_ERR_NO_SUCH_EXEC_SESSION, "\"s1\"", |h| unsafe { ocirt_exec_cleanup(h.container, c("s1").as_ptr()) }),
        bad("ocirt_exec_attach_socket_path", OCIRT_ERR_NO_SUCH_EXEC_SESSION, "\"s1\"", |h| unsafe { ocirt_exec_attach_socket_path(h.container, c("s1").as_ptr(), &mut ptr::null_mut()) }),
        bad("ocirt_exec_attach_socket_path", NULL_ARG, "\"out\"", |h| unsafe { ocirt_exec_attach_socket_path(h.container, c("s1").as_ptr(), ptr::null_mut()) }),
    ];
    // Every function taking a runtime or container handle rejects NULL with the argument name.
    for (name, call) in [
        ("ocirt_runtime_supports_json_errors", (|| unsafe { ocirt_runtime_supports_json_errors(ptr::null(), &mut false) }) as fn() -> ocirt_result),
        ("ocirt_runtime_supports_no_cgroups", || unsafe { ocirt_runtime_supports_no_cgroups(ptr::null(), &mut false) }),
        ("ocirt_runtime_supports_kvm", || unsafe { ocirt_runtime_supports_kvm(ptr::null(), &mut false) }),
        ("ocirt_runtime_supports_checkpoint", || unsafe { ocirt_runtime_supports_checkpoint(ptr::null(), &mut false) }),
    ] {
        calls.push(bad(name, NULL_ARG, "\"runtime\"", move |_| call()));
    }
    for (name, call) in [
        ("ocirt_runtime_supports_json_errors", (|h: &Handles| unsafe { ocirt_runtime_supports_json_errors(h.runtime, ptr::null_mut()) }) as fn(&Handles) -> ocirt_result),
        ("ocirt_runtime_supports_no_cgroups", |h| unsafe { ocirt_runtime_supports_no_cgroups(h.runtime, ptr::null_mut()) }),
        ("ocirt_runtime_supports_kvm", |h| unsafe { ocirt_runtime_supports_kvm(h.runtime, ptr::null_mut()) }),
        ("ocirt_runtime_supports_checkpoint", |h| unsafe { ocirt_runtime_supports_checkpoint(h.runtime, ptr::null_mut()) }),
    ] {
        calls.push(bad(name, NULL_ARG, "\"out\"", call));
    }
    for (name, call) in [
        ("ocirt_container_id", (|| unsafe { ocirt_container_id(ptr::null(), &mut ptr::null()) }) as fn() -> ocirt_result),
        ("ocirt_container_state_json", || unsafe { ocirt_container_state_json(ptr::null(), &mut ptr::null_mut()) }),
        ("ocirt_container_create", || unsafe { ocirt_container_create(ptr::null(), ptr::null()) }),
        ("ocirt_container_start", || unsafe { ocirt_container_start(ptr::null()) }),
        ("ocirt_container_update_status", || unsafe { ocirt_container_update_status(ptr::null()) }),
        ("ocirt_container_kill", || unsafe { ocirt_container_kill(ptr::null(), 9, false) }),
        ("ocirt_container_stop", || unsafe { ocirt_container_stop(ptr::null(), 0, false) }),
        ("ocirt_container_delete", || unsafe { ocirt_container_delete(ptr::null()) }),
        ("ocirt_container_pause", || unsafe { ocirt_container_pause(ptr::null()) }),
        ("ocirt_container_unpause", || unsafe { ocirt_container_unpause(ptr::null()) }),
        ("ocirt_container_wait", || unsafe { ocirt_container_wait(ptr::null(), 0, ptr::null(), &mut 0) }),
        ("ocirt_container_exit_file_path", || unsafe { ocirt_container_exit_file_path(ptr::null(), &mut ptr::null_mut()) }),
        ("ocirt_container_attach_socket_path", || unsafe { ocirt_container_attach_socket_path(ptr::null(), &mut ptr::null_mut()) }),
        ("ocirt_container_checkpoint", || unsafe { ocirt_container_checkpoint(ptr::null(), ptr::null()) }),
        ("ocirt_exec_start", || unsafe { ocirt_exec_start(ptr::null(), c("s").as_ptr(), c(r#"{"cmd": ["true"]}"#).as_ptr(), ptr::null(), &mut 0, ptr::null_mut()) }),
        ("ocirt_exec_start_http", || unsafe { ocirt_exec_start_http(ptr::null(), c("s").as_ptr(), c(r#"{"cmd": ["true"]}"#).as_ptr(), devnull(), ptr::null(), ptr::null(), 0, ptr::null(), &mut 0, ptr::null_mut()) }),
        ("ocirt_exec_resize", || unsafe { ocirt_exec_resize(ptr::null(), c("s").as_ptr(), 80, 24) }),
        ("ocirt_exec_stop", || unsafe { ocirt_exec_stop(ptr::null(), c("s").as_ptr(), 0) }),
        ("ocirt_exec_update_status", || unsafe { ocirt_exec_update_status(ptr::null(), c("s").as_ptr(), &mut false, &mut 0) }),
        ("ocirt_exec_cleanup", || unsafe { ocirt_exec_cleanup(ptr::null(), c("s").as_ptr()) }),
        ("ocirt_exec_attach_socket_path", || unsafe { ocirt_exec_attach_socket_path(ptr::null(), c("s").as_ptr(), &mut ptr::null_mut()) }),
    ] {
        calls.push(bad(name, NULL_ARG, "\"container\"", move |_| call()));
    }
    calls
}

/// Functions that cannot fail and so have no bad-input row: they accept any value.
const INFALLIBLE: [&str; 8] = [
    "ocirt_version",
    "ocirt_result_name",
    "ocirt_last_error_message",
    "ocirt_string_free",
    "ocirt_runtime_free",
    "ocirt_container_free",
    "ocirt_attach_free",
    "ocirt_cancel_free",
];

/// Returns attach callbacks that set nothing.
fn no_callbacks() -> ocirt::ffi::attach::ocirt_attach_callbacks {
    ocirt::ffi::attach::ocirt_attach_callbacks {
        userdata: ptr::null_mut(),
        on_stdout: None,
        on_stderr: None,
        on_done: None,
        userdata_free: None,
    }
}

/// Returns a fresh descriptor of /dev/null for calls that take ownership of a descriptor.
fn devnull() -> i32 {
    use std::os::fd::IntoRawFd;
    fs::File::open("/dev/null").unwrap().into_raw_fd()
}

#[test]
fn bad_input_table_covers_every_export() {
    let handles = handles();
    let calls = bad_calls();
    let covered: BTreeSet<String> = calls.iter().map(|c| c.function.to_string()).collect();
    let missing: Vec<String> = header_functions()
        .into_iter()
        .filter(|name| !covered.contains(name) && !INFALLIBLE.contains(&name.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "exports without a bad-input row: {:?}",
        missing
    );

    for call in &calls {
        let code = (call.call)(&handles);
        let message = ffi_last_error();
        assert_eq!(
            code, call.expected,
            "{}: got {:?}: {}",
            call.function, code, message
        );
        assert!(
            message.contains(call.needle),
            "{}: message {:?} does not name {:?}",
            call.function,
            message,
            call.needle
        );
    }
    // The free functions accept NULL.
    unsafe {
        ocirt_runtime_free(ptr::null_mut());
        ocirt_container_free(ptr::null_mut());
        ocirt_string_free(ptr::null_mut());
    }
}

#[test]
fn outputs_untouched_on_failure() {
    let handles = handles();

    // Each failing call gets an output that contains a sentinel value, which must survive.
    let sentinel_ptr = 0x5a5a as *mut c_char;
    let mut text = sentinel_ptr;
    assert_eq!(
        unsafe { ocirt_container_state_json(handles.deleted, &mut text) },
        GONE
    );
    assert_eq!(text, sentinel_ptr);

    let mut code = -12345;
    assert_eq!(
        unsafe { ocirt_container_wait(handles.container, 10, ptr::null(), &mut code) },
        OCIRT_ERR_CONTAINER_STATE_INVALID
    );
    assert_eq!(code, -12345);

    let mut runtime = 0x77 as *mut ocirt_runtime;
    assert_eq!(
        unsafe { ocirt_runtime_new(c(r#"{"nope": 1}"#).as_ptr(), &mut runtime) },
        INVALID
    );
    assert_eq!(runtime as usize, 0x77);

    let mut container = 0x99 as *mut ocirt_container;
    assert_eq!(
        unsafe { ocirt_container_open(handles.runtime, c("absent").as_ptr(), &mut container) },
        GONE
    );
    assert_eq!(container as usize, 0x99);
}

#[test]
fn last_error_is_per_thread_and_never_null() {
    let other = std::thread::spawn(|| {
        assert_eq!(ffi_last_error(), "");
        unsafe { ocirt_runtime_name(ptr::null(), &mut ptr::null()) };
        ffi_last_error()
    })
    .join()
    .unwrap();
    assert!(other.contains("runtime"), "{:?}", other);
    assert!(
        !ocirt_last_error_message().is_null(),
        "the message is NULL on a thread without failures"
    );
}

#[test]
fn lifecycle_through_c_functions() {
    let handles = handles();
    unsafe {
        let mut name = ptr::null();
        assert_eq!(ocirt_runtime_name(handles.runtime, &mut name), OCIRT_OK);
        assert_eq!(CStr::from_ptr(name).to_str().unwrap(), "runc");

        let mut info = ptr::null_mut();
        assert_eq!(
            ocirt_runtime_info(handles.runtime, &mut info),
            OCIRT_OK,
            "{}",
            ffi_last_error()
        );
        let parsed: serde_json::Value =
            serde_json::from_str(CStr::from_ptr(info).to_str().unwrap()).unwrap();
        ocirt_string_free(info);
        let conmon_version = parsed["conmon"]["version"].as_str().unwrap();
        assert!(
            conmon_version.starts_with("conmon version"),
            "{}",
            conmon_version
        );

        let mut checkpoint = false;
        assert_eq!(
            ocirt_runtime_supports_checkpoint(handles.runtime, &mut checkpoint),
            OCIRT_OK
        );

        // The list contains the configured container and not the deleted one.
        let ctr = handles.container;
        let mut list = ptr::null_mut();
        assert_eq!(
            ocirt_runtime_list_containers(handles.runtime, &mut list),
            OCIRT_OK,
            "{}",
            ffi_last_error()
        );
        let listed: serde_json::Value =
            serde_json::from_str(CStr::from_ptr(list).to_str().unwrap()).unwrap();
        ocirt_string_free(list);
        let mut id = ptr::null();
        assert_eq!(ocirt_container_id(ctr, &mut id), OCIRT_OK);
        let id = CStr::from_ptr(id).to_str().unwrap();
        let ids: Vec<&str> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec![id], "the deleted container must not be listed");
        assert_eq!(listed[0]["status"], "configured");

        assert_eq!(
            ocirt_container_create(ctr, ptr::null()),
            OCIRT_OK,
            "{}",
            ffi_last_error()
        );

        // A wait with a triggered cancel token returns at once and writes nothing.
        let mut cancel = ptr::null_mut();
        assert_eq!(ocirt_cancel_new(&mut cancel), OCIRT_OK);
        assert_eq!(ocirt_cancel_trigger(cancel), OCIRT_OK);
        let mut cancelled_code = 5;
        assert_eq!(
            ocirt_container_wait(ctr, -1, cancel, &mut cancelled_code),
            OCIRT_ERR_CANCELLED
        );
        assert_eq!(cancelled_code, 5);
        ocirt_cancel_free(cancel);

        assert_eq!(ocirt_container_start(ctr), OCIRT_OK, "{}", ffi_last_error());
        assert_eq!(
            ocirt_container_update_status(ctr),
            OCIRT_OK,
            "{}",
            ffi_last_error()
        );
        let mut state = ptr::null_mut();
        assert_eq!(ocirt_container_state_json(ctr, &mut state), OCIRT_OK);
        let parsed: serde_json::Value =
            serde_json::from_str(CStr::from_ptr(state).to_str().unwrap()).unwrap();
        ocirt_string_free(state);
        assert_eq!(parsed["status"], "running");

        let mut path = ptr::null_mut();
        assert_eq!(ocirt_container_exit_file_path(ctr, &mut path), OCIRT_OK);
        let exit_path = CStr::from_ptr(path).to_str().unwrap().to_string();
        ocirt_string_free(path);
        assert_eq!(
            ocirt_container_stop(ctr, 1, false),
            OCIRT_OK,
            "{}",
            ffi_last_error()
        );
        let mut code = 0;
        assert_eq!(
            ocirt_container_wait(ctr, -1, ptr::null(), &mut code),
            OCIRT_OK
        );
        assert_eq!(code, 137);
        assert_eq!(fs::read_to_string(exit_path).unwrap(), "137");
        assert_eq!(
            ocirt_container_delete(ctr),
            OCIRT_OK,
            "{}",
            ffi_last_error()
        );
    }
}
