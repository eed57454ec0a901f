//! Generates the C header with cbindgen.
//!
//! The header is always written to `$OUT_DIR/ocirt.h`. It is also copied to the committed
//! `include/ocirt.h` when that differs, unless `OCIRT_FROZEN_HEADER=1` is set: `make test`
//! sets it and then compares the two files, so a stale committed header fails the tests.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let crate_dir =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=OCIRT_FROZEN_HEADER");

    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable and valid");
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen can generate the header");
    let generated = out_dir.join("ocirt.h");
    bindings.write_to_file(&generated);

    if env::var("OCIRT_FROZEN_HEADER").as_deref() == Ok("1") {
        return;
    }
    let committed = crate_dir.join("include").join("ocirt.h");
    let new_text = fs::read(&generated).expect("the generated header is readable");
    if fs::read(&committed).ok().as_deref() != Some(new_text.as_slice()) {
        fs::create_dir_all(crate_dir.join("include")).expect("include/ can be created");
        fs::write(&committed, &new_text).expect("include/ocirt.h can be written");
    }
}
