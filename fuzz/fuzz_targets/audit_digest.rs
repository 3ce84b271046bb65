//! Audit stored signed digest decoder: never panics, and what decodes re-encodes to the
//! bytes it consumed (asserted inside `keyward_audit::fuzzing`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| keyward_audit::fuzzing::digest(data));
