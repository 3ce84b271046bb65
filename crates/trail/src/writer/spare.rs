//! The spare segment: the next segment, written out in zeros ahead of time
//! by a preparer thread, so that moving on to it is a rename.

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::appender::{prepare_segment, ActiveSegment, WriteMode};
use crate::error::TrailError;
use crate::layout::{self, SPARE_FILE};

/// Creates segment `number` (written out in zeros) and opens it.
pub(super) fn start_segment(
    dir: &Path,
    number: u64,
    size: u64,
    mode: WriteMode,
) -> Result<ActiveSegment, TrailError> {
    let path = dir.join(layout::segment_name(number));
    let spare = dir.join(SPARE_FILE);
    if !spare_of_size(dir, size) {
        prepare_spare(dir, size, mode)?;
    }
    std::fs::rename(&spare, &path).map_err(TrailError::io("rename", &spare))?;
    layout::sync_dir(dir)?;
    ActiveSegment::open(number, &path, size, 0, &[], mode)
}

/// Whether `spare.segment` exists with `size` bytes. A spare written for
/// another segment size (the setting changed between two starts) is not
/// used: it is written again, at this size, over the old one.
fn spare_of_size(dir: &Path, size: u64) -> bool {
    std::fs::metadata(dir.join(SPARE_FILE)).is_ok_and(|meta| meta.len() == size)
}

/// Writes `spare.segment`: zeros under a temporary name, then renamed, so
/// that a spare that exists is whole.
fn prepare_spare(dir: &Path, size: u64, mode: WriteMode) -> Result<(), TrailError> {
    let temporary = dir.join(format!("{SPARE_FILE}.tmp"));
    prepare_segment(&temporary, size, mode)?;
    let spare = dir.join(SPARE_FILE);
    std::fs::rename(&temporary, &spare).map_err(TrailError::io("rename", &temporary))?;
    layout::sync_dir(dir)
}

/// The thread that writes the next spare segment while the writer fills the
/// active one. `busy` is held while a spare is written, so the writer, when it
/// needs the spare before it is ready, waits for it instead of writing a
/// second one.
pub(super) struct Preparer {
    requests: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    pub(super) busy: Arc<Mutex<()>>,
}

impl Preparer {
    pub(super) fn start(dir: &Path, size: u64, mode: WriteMode) -> Result<Self, TrailError> {
        let (requests, received) = mpsc::channel::<()>();
        let busy = Arc::new(Mutex::new(()));
        let thread_busy = Arc::clone(&busy);
        let thread_dir = dir.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("keyward-trail-prepare".into())
            .spawn(move || {
                while received.recv().is_ok() {
                    let _busy = thread_busy.lock().unwrap_or_else(|p| p.into_inner());
                    if spare_of_size(&thread_dir, size) {
                        continue;
                    }
                    if let Err(error) = prepare_spare(&thread_dir, size, mode) {
                        tracing::error!(%error, "preparing the next audit trail segment failed");
                    }
                }
            })
            .map_err(TrailError::io("start the segment preparer for", dir))?;
        let preparer = Preparer {
            requests: Some(requests),
            thread: Some(thread),
            busy,
        };
        preparer.request();
        Ok(preparer)
    }

    pub(super) fn request(&self) {
        if let Some(requests) = &self.requests {
            let _ = requests.send(());
        }
    }

    pub(super) fn stop(&mut self) {
        self.requests.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
