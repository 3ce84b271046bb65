//! The progress bar of `keyward encrypt`/`decrypt`, on stderr.
//!
//! It is drawn only when stderr is a terminal and `--quiet` is not given, so
//! scripts and logs never see carriage returns. A small input never shows a
//! bar: nothing is drawn before [`SHOW_AFTER`] has passed, so the bar appears
//! exactly for the inputs large (or slow) enough for someone to wait on. It is
//! a hand-rolled line rather than a crate because one redrawn line is all it
//! needs.

use std::io::{self, IsTerminal, Read, Write};
use std::time::{Duration, Instant};

/// No bar for operations shorter than this.
const SHOW_AFTER: Duration = Duration::from_millis(500);
/// Redraw at most this often.
const REDRAW_EVERY: Duration = Duration::from_millis(100);
/// Characters of the bar itself.
const BAR_WIDTH: usize = 30;

/// Progress over one input: `total` bytes if known (a file), else unknown
/// (stdin).
pub struct Progress {
    label: String,
    total: Option<u64>,
    done: u64,
    started: Instant,
    last_draw: Option<Instant>,
    enabled: bool,
}

impl Progress {
    /// Progress for `label`; shown only if `show` and stderr is a terminal.
    pub fn new(label: String, total: Option<u64>, show: bool) -> Progress {
        Progress {
            label,
            total,
            done: 0,
            started: Instant::now(),
            last_draw: None,
            enabled: show && io::stderr().is_terminal(),
        }
    }

    fn advance(&mut self, bytes: usize) {
        self.done = self.done.saturating_add(bytes as u64);
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        let elapsed = now.duration_since(self.started);
        if elapsed < SHOW_AFTER {
            return;
        }
        if self
            .last_draw
            .is_some_and(|last| now.duration_since(last) < REDRAW_EVERY)
        {
            return;
        }
        self.last_draw = Some(now);
        let line = render(&self.label, self.done, self.total, elapsed);
        let mut stderr = io::stderr().lock();
        // A progress line that cannot be drawn is not worth failing for.
        let _ = write!(stderr, "\r\x1b[2K{line}");
        let _ = stderr.flush();
    }

    /// Erases the bar, if one was drawn, so the next message starts clean.
    pub fn finish(&mut self) {
        if self.last_draw.take().is_some() {
            let mut stderr = io::stderr().lock();
            let _ = write!(stderr, "\r\x1b[2K");
            let _ = stderr.flush();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A reader that reports what passes through it.
pub struct ProgressReader<'a, R> {
    inner: R,
    progress: &'a mut Progress,
}

impl<'a, R: Read> ProgressReader<'a, R> {
    pub fn new(inner: R, progress: &'a mut Progress) -> Self {
        ProgressReader { inner, progress }
    }
}

impl<R: Read> Read for ProgressReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.progress.advance(read);
        Ok(read)
    }

    /// Forwarded, so that the encryptor's one read per batch of frames
    /// stays one read (the default would read into the first slot only).
    fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        let read = self.inner.read_vectored(bufs)?;
        self.progress.advance(read);
        Ok(read)
    }
}

/// `LABEL [#####.....]  45%  460.0 MiB / 1.0 GiB  1.20 GB/s`, or without a
/// bar and percentage when the total is unknown.
pub fn render(label: &str, done: u64, total: Option<u64>, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    let rate = if seconds > 0.0 {
        done as f64 / seconds / 1e9
    } else {
        0.0
    };
    match total {
        Some(total) if total > 0 => {
            let fraction = (done as f64 / total as f64).clamp(0.0, 1.0);
            let filled = ((fraction * BAR_WIDTH as f64) as usize).min(BAR_WIDTH);
            format!(
                "{label} [{}{}] {:>3}%  {} / {}  {rate:.2} GB/s",
                "#".repeat(filled),
                ".".repeat(BAR_WIDTH - filled),
                (fraction * 100.0) as u32,
                bytes(done),
                bytes(total),
            )
        }
        _ => format!("{label} {}  {rate:.2} GB/s", bytes(done)),
    }
}

fn bytes(count: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = count as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let name = UNITS.get(unit).copied().unwrap_or("B");
    if unit == 0 {
        format!("{count} B")
    } else {
        format!("{value:.1} {name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_bar_for_known_totals_and_a_count_otherwise() {
        let line = render(
            "encrypting big",
            512 << 20,
            Some(1 << 30),
            Duration::from_secs(1),
        );
        assert_eq!(
            line,
            "encrypting big [###############...............]  50%  512.0 MiB / 1.0 GiB  0.54 GB/s"
        );
        let line = render("decrypting stdin", 1500, None, Duration::from_secs(2));
        assert_eq!(line, "decrypting stdin 1.5 KiB  0.00 GB/s");
        // More than the total (a growing file) stays at 100%.
        assert!(render("x", 20, Some(10), Duration::ZERO).contains("100%"));
    }

    #[test]
    fn never_draws_when_disabled() {
        let mut progress = Progress::new("x".into(), Some(10), false);
        progress.started -= Duration::from_secs(5);
        progress.advance(5);
        assert!(progress.last_draw.is_none());
        assert_eq!(progress.done, 5);
    }
}
