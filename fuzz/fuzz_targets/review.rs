//! `cargo fuzz run review`: see [`bytegate_fuzz::review`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bytegate_fuzz::review(data));
