//! Encryption SDK raw AES keyring provider info decoder: never panics, and re-encoding gives back
//! the bytes it consumed (asserted inside `keyward_envelope::fuzzing`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| keyward_envelope::fuzzing::raw_aes_provider_info(data));
