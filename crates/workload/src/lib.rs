//! Workload runtime. For now: encrypted volumes, a FUSE filesystem that
//! stores a directory tree in the gocryptfs format (`keyward-volume`) in a
//! backing directory, so a real process can use the mount point as an
//! ordinary directory while every byte on disk is ciphertext.
//!
//! Processes run in a volume through `keyward-supervisor`; snapshots will
//! live next to `volumefs`, and the FUSE part stays in its own module.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod volumefs;

pub use keyward_volume::MasterKey;
pub use volumefs::{
    init_backing_dir, FuseUnavailable, MountOptions, MountedVolume, VolumeError, VolumeFs,
};
