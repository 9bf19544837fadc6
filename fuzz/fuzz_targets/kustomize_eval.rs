#![no_main]
//! See `fuzz/src/harness.rs` for what this target checks.

#[path = "../src/harness.rs"]
#[allow(dead_code)]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::kustomize_eval(data));
