//! Supervised workload processes: the part of the workload runtime that runs
//! a service's command as a real local process and keeps it under control.
//!
//! This first part is the lifecycle alone, as the pure [`transition`]
//! function; the process edge that feeds it events comes next.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod state;

pub use state::{
    transition, Event, Exit, FailureReason, StopReason, TransitionError, WorkloadState,
};
