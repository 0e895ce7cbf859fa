//! `cargo fuzz run config`: see [`bytegate_fuzz::config`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bytegate_fuzz::config(data));
