//! Any bytes given to the gocryptfs format decoders of keyward-volume (file
//! header, content blocks, names, `.name` files, directory IVs, symlink
//! targets): no panic, nothing but our own ciphertext opens, and what
//! decodes re-encodes to the bytes consumed.
#![no_main]

use keyward_volume::{
    decode_long_name_file, validate_plain_name, CipherName, DirIv, FileHeader, MasterKey,
    VolumeCipher, HEADER_LEN,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cipher = VolumeCipher::new(&MasterKey::from_bytes([7; 32])).expect("cipher");

    if let Ok(header) = FileHeader::decode(data) {
        assert_eq!(&header.encode()[..], &data[..HEADER_LEN]);
        let mut body = data[HEADER_LEN..].to_vec();
        // Only an all-zero hole may "open" without a forged GCM tag.
        if let Ok(n) = cipher
            .content()
            .open_blocks_in_place(&mut body, 0, &header.file_id)
        {
            assert!(data[HEADER_LEN..].iter().all(|b| *b == 0), "forged block accepted ({n} bytes)");
        }
        // Round trip of what we seal ourselves.
        let mut sealed = Vec::new();
        if !data.is_empty() {
            cipher
                .content()
                .seal_blocks(data, 3, &header.file_id, &mut sealed)
                .expect("seal");
            let n = cipher
                .content()
                .open_blocks_in_place(&mut sealed, 3, &header.file_id)
                .expect("open");
            assert_eq!(&sealed[..n], data);
        }
    }

    if let Ok(dir_iv) = DirIv::decode(data.get(..16).unwrap_or(data)) {
        if let Ok(text) = std::str::from_utf8(data) {
            if let Ok(name) = cipher.names().decrypt_name(text, &dir_iv) {
                validate_plain_name(&name).expect("decrypted names are valid");
                let encrypted = cipher.names().encrypt_name(&name, &dir_iv).expect("encrypt");
                let full = match encrypted {
                    CipherName::Short(n) => n,
                    CipherName::Long { full, .. } => full,
                };
                assert_eq!(full, text);
            }
        }
        if validate_plain_name(data).is_ok() {
            let encrypted = cipher.names().encrypt_name(data, &dir_iv).expect("encrypt");
            let full = match &encrypted {
                CipherName::Short(n) => n.as_str(),
                CipherName::Long { full, .. } => full.as_str(),
            };
            assert_eq!(cipher.names().decrypt_name(full, &dir_iv).expect("decrypt"), data);
        }
    }

    let _ = decode_long_name_file(data);
    if let Ok(target) = cipher.content().decrypt_symlink_target(data) {
        // Only the empty target decodes without our key's tag.
        assert!(target.is_empty() && data.is_empty(), "forged symlink accepted");
    }
});
