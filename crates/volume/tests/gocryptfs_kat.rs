//! Known answers from the real gocryptfs 2.3 (see `gocryptfs_kat/README.md`
//! for how the tree was made): our cipher decrypts what it wrote, and our
//! deterministic name encryption gives the very names it chose.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyward_volume::{
    cipher_size, hash_long_name, plain_size, CipherName, DirIv, FileHeader, MasterKey, VolumeCipher,
};

const MASTER_KEY: [u8; 32] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 27, 28, 29, 30, 31,
];
const ROOT_DIRIV: &[u8] = include_bytes!("gocryptfs_kat/gocryptfs.diriv");
const SUB_DIRIV: &[u8] = include_bytes!("gocryptfs_kat/iJdjipXNvJFFmlpC-2vkMA/gocryptfs.diriv");
const HELLO: &[u8] = include_bytes!("gocryptfs_kat/ZrJ86MVVtKRdaCpP8Jb5Dw");
const FIVE_K: &[u8] = include_bytes!("gocryptfs_kat/uUzmQwKzy2wa0acxipQycw");
const SPARSE: &[u8] = include_bytes!("gocryptfs_kat/fsFopH3Bmn15B3A9Q7x-3g");
const SUB_ONE: &[u8] =
    include_bytes!("gocryptfs_kat/iJdjipXNvJFFmlpC-2vkMA/KljcRe7cygoaXAjddQGRZQ");
const LONG_HASHED: &str = "gocryptfs.longname.-Q49TQSw9HGBLpyKtw9U_TFbr2FXsAgWFMSaqyXb5GI";
const LONG_NAME_FILE: &[u8] = include_bytes!(
    "gocryptfs_kat/gocryptfs.longname.-Q49TQSw9HGBLpyKtw9U_TFbr2FXsAgWFMSaqyXb5GI.name"
);
const LONG_CONTENT: &[u8] =
    include_bytes!("gocryptfs_kat/gocryptfs.longname.-Q49TQSw9HGBLpyKtw9U_TFbr2FXsAgWFMSaqyXb5GI");
const SYMLINK_TARGET: &str = "vqQG_-BI_0Xz8rAg_Zle6pHs7DRpGxZ_7sktFtbxtJLyXdR0ONR6zPlaGhmxyQ";

fn cipher() -> VolumeCipher {
    VolumeCipher::new(&MasterKey::from_bytes(MASTER_KEY)).unwrap()
}

fn decrypt_file(cipher: &VolumeCipher, backing: &[u8]) -> Vec<u8> {
    let header = FileHeader::decode(backing).unwrap();
    let mut body = backing[18..].to_vec();
    let n = cipher
        .content()
        .open_blocks_in_place(&mut body, 0, &header.file_id)
        .unwrap();
    body.truncate(n);
    assert_eq!(plain_size(backing.len() as u64), n as u64);
    assert_eq!(cipher_size(n as u64).unwrap(), backing.len() as u64);
    body
}

#[test]
fn names_encrypt_to_what_gocryptfs_chose() {
    let cipher = cipher();
    let root = DirIv::decode(ROOT_DIRIV).unwrap();
    let sub = DirIv::decode(SUB_DIRIV).unwrap();
    for (plain, encrypted) in [
        ("hello.txt", "ZrJ86MVVtKRdaCpP8Jb5Dw"),
        ("fivek.bin", "uUzmQwKzy2wa0acxipQycw"),
        ("sparse", "fsFopH3Bmn15B3A9Q7x-3g"),
        ("sub", "iJdjipXNvJFFmlpC-2vkMA"),
        ("lnk", "ucINhdLqXufEwMGOw_G1lQ"),
    ] {
        assert_eq!(
            cipher
                .names()
                .encrypt_name(plain.as_bytes(), &root)
                .unwrap(),
            CipherName::Short(encrypted.to_string()),
            "{plain}"
        );
        assert_eq!(
            cipher.names().decrypt_name(encrypted, &root).unwrap(),
            plain.as_bytes()
        );
    }
    assert_eq!(
        cipher.names().encrypt_name(b"one", &sub).unwrap(),
        CipherName::Short("KljcRe7cygoaXAjddQGRZQ".to_string())
    );
}

#[test]
fn long_names_match_gocryptfs() {
    let cipher = cipher();
    let root = DirIv::decode(ROOT_DIRIV).unwrap();
    let name = vec![b'a'; 200];
    let full = std::str::from_utf8(LONG_NAME_FILE).unwrap();
    assert_eq!(
        cipher.names().encrypt_name(&name, &root).unwrap(),
        CipherName::Long {
            hashed: LONG_HASHED.to_string(),
            full: full.to_string()
        }
    );
    assert_eq!(hash_long_name(full), LONG_HASHED);
    assert_eq!(cipher.names().decrypt_name(full, &root).unwrap(), name);
    assert_eq!(decrypt_file(&cipher, LONG_CONTENT), b"long");
}

#[test]
fn contents_decrypt_to_what_was_written() {
    let cipher = cipher();
    assert_eq!(decrypt_file(&cipher, HELLO), b"hello gocryptfs\n");
    let expected: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(decrypt_file(&cipher, FIVE_K), expected);
    assert_eq!(decrypt_file(&cipher, SUB_ONE), b"x");
    let sparse = decrypt_file(&cipher, SPARSE);
    assert_eq!(sparse.len(), 10003);
    assert!(sparse[..10000].iter().all(|b| *b == 0));
    assert_eq!(&sparse[10000..], b"END");
}

#[test]
fn symlink_target_decrypts() {
    assert_eq!(
        cipher()
            .content()
            .decrypt_symlink_target(SYMLINK_TARGET.as_bytes())
            .unwrap(),
        b"target/of/link"
    );
}

#[test]
fn a_wrong_master_key_opens_nothing() {
    let other = VolumeCipher::new(&MasterKey::from_bytes([9; 32])).unwrap();
    let header = FileHeader::decode(HELLO).unwrap();
    let mut body = HELLO[18..].to_vec();
    assert!(other
        .content()
        .open_blocks_in_place(&mut body, 0, &header.file_id)
        .is_err());
    let root = DirIv::decode(ROOT_DIRIV).unwrap();
    assert!(other
        .names()
        .decrypt_name("ZrJ86MVVtKRdaCpP8Jb5Dw", &root)
        .map(|name| name != b"hello.txt")
        .unwrap_or(true));
}
