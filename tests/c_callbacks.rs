//! Attach sessions through the C functions and C callbacks: integrity of large output,
//! callback abort, detach, and the userdata lifetime contract.

mod common;

use std::ffi::{c_int, c_void, CString};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use common::*;
use ocirt::ffi::attach::*;
use ocirt::ffi::container::*;
use ocirt::ffi::runtime::*;
use ocirt::ocirt_result;
use ocirt::ocirt_result::*;
use sha2::{Digest, Sha256};

/// The calls and data that the callbacks of one session record. With `abort_after` set,
/// `on_stdout` returns 7 from that call on.
#[derive(Default)]
struct Record {
    stdout: Mutex<Sha256>,
    stdout_bytes: AtomicUsize,
    stderr: Mutex<Vec<u8>>,
    calls: AtomicUsize,
    done: Mutex<Vec<(ocirt_result, i32)>>,
    freed: AtomicUsize,
    abort_after: Option<usize>,
}

unsafe extern "C" fn on_stdout(userdata: *mut c_void, data: *const u8, len: usize) -> c_int {
    let record = &*(userdata as *const Record);
    let calls = record.calls.fetch_add(1, Ordering::SeqCst) + 1;
    record
        .stdout
        .lock()
        .unwrap()
        .update(std::slice::from_raw_parts(data, len));
    record.stdout_bytes.fetch_add(len, Ordering::SeqCst);
    match record.abort_after {
        Some(limit) if calls >= limit => 7,
        _ => 0,
    }
}

unsafe extern "C" fn on_stderr(userdata: *mut c_void, data: *const u8, len: usize) -> c_int {
    let record = &*(userdata as *const Record);
    record
        .stderr
        .lock()
        .unwrap()
        .extend_from_slice(std::slice::from_raw_parts(data, len));
    0
}

unsafe extern "C" fn on_done(userdata: *mut c_void, result: ocirt_result, exit_code: i32) {
    let record = &*(userdata as *const Record);
    record.done.lock().unwrap().push((result, exit_code));
}

unsafe extern "C" fn userdata_free(userdata: *mut c_void) {
    let record = &*(userdata as *const Record);
    record.freed.fetch_add(1, Ordering::SeqCst);
}

fn callbacks(record: &Record) -> ocirt_attach_callbacks {
    ocirt_attach_callbacks {
        userdata: record as *const Record as *mut c_void,
        on_stdout: Some(on_stdout),
        on_stderr: Some(on_stderr),
        on_done: Some(on_done),
        userdata_free: Some(userdata_free),
    }
}

/// A runtime handle that the C functions created for the test's directories.
struct Handles {
    /// Keeps the test's directories and containers until the runtime handle is gone.
    _env: TestEnv,
    runtime: *mut ocirt_runtime,
}

impl Drop for Handles {
    fn drop(&mut self) {
        unsafe { ocirt_runtime_free(self.runtime) };
    }
}

fn runtime() -> Handles {
    let env = TestEnv::new();
    let mut runtime = ptr::null_mut();
    let config = CString::new(env.runtime_config_json()).unwrap();
    assert_eq!(
        unsafe { ocirt_runtime_new(config.as_ptr(), &mut runtime) },
        OCIRT_OK,
        "{}",
        ffi_last_error()
    );
    Handles { _env: env, runtime }
}

/// A container handle that is deleted and freed on drop.
struct Ctr(*mut ocirt_container);

impl Drop for Ctr {
    fn drop(&mut self) {
        unsafe {
            ocirt_container_delete(self.0);
            ocirt_container_free(self.0);
        }
    }
}

/// Configures and creates a container running `args` through the C functions. `extra` adds
/// fields to the container config.
fn created(handles: &Handles, args: &[&str], extra: serde_json::Value) -> Ctr {
    let mut config =
        serde_json::json!({"id": unique_id("cb"), "spec": spec(args), "rootfs": rootfs()});
    for (key, value) in extra.as_object().unwrap() {
        config[key] = value.clone();
    }
    let config = CString::new(config.to_string()).unwrap();
    let mut ctr = ptr::null_mut();
    unsafe {
        assert_eq!(
            ocirt_container_new(handles.runtime, config.as_ptr(), &mut ctr),
            OCIRT_OK,
            "{}",
            ffi_last_error()
        );
        assert_eq!(
            ocirt_container_create(ctr, ptr::null()),
            OCIRT_OK,
            "{}",
            ffi_last_error()
        );
    }
    Ctr(ctr)
}

/// Attaches with the callbacks that fill `record`. The session must end before `record`
/// goes away.
fn attach(ctr: &Ctr, options: &str, record: &Record) -> *mut ocirt_attach {
    let options = CString::new(options).unwrap();
    let mut attach = ptr::null_mut();
    let rc =
        unsafe { ocirt_container_attach(ctr.0, options.as_ptr(), &callbacks(record), &mut attach) };
    assert_eq!(rc, OCIRT_OK, "{}", ffi_last_error());
    attach
}

/// Waits up to 120 s for the session to end and returns the result and outcome.
fn wait(attach: *mut ocirt_attach) -> (ocirt_result, ocirt_attach_outcome) {
    let mut outcome = ocirt_attach_outcome::OCIRT_ATTACH_ENDED;
    let mut code = 0;
    let rc = unsafe { ocirt_attach_wait(attach, 120_000, &mut outcome, &mut code) };
    (rc, outcome)
}

#[test]
fn quarter_gibibyte_arrives_byte_exact() {
    let handles = runtime();
    let size: usize = 256 * 1024 * 1024;
    let ctr = created(
        &handles,
        &["sh", "-c", &yes_command(size)],
        serde_json::json!({"log_driver": "none"}),
    );

    let record = Record::default();
    let session = attach(&ctr, r#"{"start": true}"#, &record);
    let (rc, outcome) = wait(session);
    assert_eq!(rc, OCIRT_OK, "{}", ffi_last_error());
    assert_eq!(outcome, ocirt_attach_outcome::OCIRT_ATTACH_ENDED);
    unsafe { ocirt_attach_free(session) };

    // Hash the expected output in blocks rather than building all 256 MiB of it.
    let mut expected = Sha256::new();
    let line = b"0123456789abcdef\n";
    let block: Vec<u8> = line
        .iter()
        .copied()
        .cycle()
        .take(line.len() * 4096)
        .collect();
    let mut left = size;
    while left > 0 {
        let take = left.min(block.len());
        expected.update(&block[..take]);
        left -= take;
    }
    assert_eq!(record.stdout_bytes.load(Ordering::SeqCst), size);
    assert_eq!(
        record.stdout.lock().unwrap().clone().finalize(),
        expected.finalize()
    );
    // A container attach reports no exit code, so on_done gets -1.
    assert_eq!(*record.done.lock().unwrap(), vec![(OCIRT_OK, -1)]);
    assert_eq!(record.freed.load(Ordering::SeqCst), 1);
}

#[test]
fn callback_abort_ends_session() {
    let handles = runtime();
    let ctr = created(
        &handles,
        &["sh", "-c", "while :; do echo spam; sleep 0.01; done"],
        serde_json::json!({}),
    );
    let record = Record {
        abort_after: Some(3),
        ..Record::default()
    };
    let session = attach(&ctr, r#"{"start": true}"#, &record);

    let (rc, _) = wait(session);
    assert_eq!(rc, OCIRT_ERR_CALLBACK_ABORTED);
    assert!(
        ffi_last_error().contains("on_stdout callback returned 7"),
        "{}",
        ffi_last_error()
    );
    assert_eq!(record.calls.load(Ordering::SeqCst), 3);
    assert_eq!(
        *record.done.lock().unwrap(),
        vec![(OCIRT_ERR_CALLBACK_ABORTED, -1)]
    );
    unsafe { ocirt_attach_free(session) };
    assert_eq!(record.freed.load(Ordering::SeqCst), 1);
}

#[test]
fn write_reports_detach_and_free_cancels() {
    let handles = runtime();
    let ctr = created(
        &handles,
        &["sh", "-c", "cat; sleep 1000"],
        serde_json::json!({"stdin": true}),
    );
    let record = Record::default();
    let session = attach(
        &ctr,
        r#"{"start": true, "stdin": true, "detach_keys": "ctrl-a,d"}"#,
        &record,
    );

    // The keys arrive in two writes, and only the second completes the sequence.
    unsafe {
        assert_eq!(
            ocirt_attach_write(session, b"ab\x01".as_ptr(), 3),
            OCIRT_OK,
            "{}",
            ffi_last_error()
        );
        assert_eq!(
            ocirt_attach_write(session, b"d".as_ptr(), 1),
            OCIRT_DETACHED
        );
    }
    let (rc, outcome) = wait(session);
    assert_eq!(rc, OCIRT_OK);
    assert_eq!(outcome, ocirt_attach_outcome::OCIRT_ATTACH_DETACHED);
    unsafe { ocirt_attach_free(session) };
    assert_eq!(*record.done.lock().unwrap(), vec![(OCIRT_DETACHED, -1)]);
    assert_eq!(record.freed.load(Ordering::SeqCst), 1);

    // Freeing a session that is still going cancels it and frees the userdata once.
    let second = Record::default();
    let session = attach(&ctr, "{}", &second);
    let mut outcome = ocirt_attach_outcome::OCIRT_ATTACH_ENDED;
    let mut code = 42;
    assert_eq!(
        unsafe { ocirt_attach_wait(session, 50, &mut outcome, &mut code) },
        OCIRT_ERR_TIMED_OUT
    );
    assert_eq!(code, 42);
    unsafe { ocirt_attach_free(session) };
    assert_eq!(
        *second.done.lock().unwrap(),
        vec![(OCIRT_ERR_CANCELLED, -1)]
    );
    assert_eq!(second.freed.load(Ordering::SeqCst), 1);
}

#[test]
fn failed_attach_does_not_take_userdata() {
    let handles = runtime();
    let ctr = created(&handles, &["true"], serde_json::json!({}));
    let record = Record::default();
    let options = CString::new(r#"{"stdin": true}"#).unwrap();
    let mut attach = ptr::null_mut();

    // The container has no stdin, so the attach fails before it takes the callbacks.
    let rc = unsafe {
        ocirt_container_attach(ctr.0, options.as_ptr(), &callbacks(&record), &mut attach)
    };
    assert_eq!(rc, OCIRT_ERR_INVALID_ARGUMENT);
    assert!(attach.is_null(), "the output handle was set");
    assert_eq!(record.freed.load(Ordering::SeqCst), 0);
    assert!(
        record.done.lock().unwrap().is_empty(),
        "on_done ran: {:?}",
        record.done.lock().unwrap()
    );
}

/// Calls ocirt_attach_wait on the session from its own on_done callback and stores the
/// result. `userdata` points to the handle slot and the result slot.
unsafe extern "C" fn wait_inside_done(
    userdata: *mut c_void,
    _result: ocirt_result,
    _exit_code: i32,
) {
    let slot = &*(userdata as *const (Mutex<*mut ocirt_attach>, Mutex<Option<ocirt_result>>));
    let attach = *slot.0.lock().unwrap();
    let mut outcome = ocirt_attach_outcome::OCIRT_ATTACH_ENDED;
    let mut code = 0;
    let rc = ocirt_attach_wait(attach, -1, &mut outcome, &mut code);
    *slot.1.lock().unwrap() = Some(rc);
}

#[test]
fn wait_inside_callback_fails() {
    let handles = runtime();
    let ctr = created(&handles, &["true"], serde_json::json!({}));
    let slot: (Mutex<*mut ocirt_attach>, Mutex<Option<ocirt_result>>) =
        (Mutex::new(ptr::null_mut()), Mutex::new(None));
    let callbacks = ocirt_attach_callbacks {
        userdata: &slot as *const _ as *mut c_void,
        on_stdout: None,
        on_stderr: None,
        on_done: Some(wait_inside_done),
        userdata_free: None,
    };
    let mut attach = ptr::null_mut();
    // The callback reads the handle from the slot, so hold the slot's lock until it is set.
    {
        let mut guard = slot.0.lock().unwrap();
        let options = CString::new(r#"{"start": true}"#).unwrap();
        let rc =
            unsafe { ocirt_container_attach(ctr.0, options.as_ptr(), &callbacks, &mut attach) };
        assert_eq!(rc, OCIRT_OK, "{}", ffi_last_error());
        *guard = attach;
    }

    // The inner wait fails instead of waiting for the callback that runs it.
    let (rc, _) = wait(attach);
    assert_eq!(rc, OCIRT_OK);
    assert_eq!(*slot.1.lock().unwrap(), Some(OCIRT_ERR_INVALID_ARGUMENT));
    unsafe { ocirt_attach_free(attach) };
}
