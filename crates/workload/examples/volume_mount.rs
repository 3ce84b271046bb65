//! Mounts a keyward volume until standard input closes; used by
//! `scripts/bench-volume.sh`. Not a product interface: the master key comes
//! from the environment (`VOLUME_MASTER_KEY_HEX`), which is fine for a
//! benchmark key and nothing else.
//!
//! Usage: `VOLUME_MASTER_KEY_HEX=<64 hex> volume_mount <backing> <mountpoint> [threads]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::path::PathBuf;

use keyward_workload::{init_backing_dir, MasterKey, MountOptions, VolumeFs};

fn main() {
    let mut args = std::env::args().skip(1);
    let backing = PathBuf::from(args.next().expect("backing directory"));
    let mountpoint = PathBuf::from(args.next().expect("mount point"));
    let threads = args
        .next()
        .map(|t| t.parse().expect("threads"))
        .unwrap_or(4);
    let key_hex = std::env::var("VOLUME_MASTER_KEY_HEX").expect("VOLUME_MASTER_KEY_HEX");
    let key = MasterKey::from_slice(&hex::decode(key_hex).expect("hex key")).expect("32-byte key");
    init_backing_dir(&backing).expect("backing directory");
    let options = MountOptions {
        threads,
        ..MountOptions::default()
    };
    let volume = VolumeFs::mount(&backing, &mountpoint, key, &options).expect("mount");
    println!("mounted {}", mountpoint.display());
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    volume.unmount().expect("unmount");
}
