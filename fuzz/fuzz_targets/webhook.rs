//! `cargo fuzz run webhook`: see [`bytegate_fuzz::webhook`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bytegate_fuzz::webhook(data));
