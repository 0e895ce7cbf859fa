//! `cargo fuzz run command`: see [`bytegate_fuzz::command`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bytegate_fuzz::command(data));
