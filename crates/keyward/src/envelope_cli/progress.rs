//! The progress bar of `keyward encrypt`/`decrypt`, on stderr (indicatif).
//!
//! It is drawn only when stderr is a terminal and `--quiet` is not given, so
//! scripts and logs never see carriage returns. A small input never shows a
//! bar: the bar stays hidden until [`SHOW_AFTER`] has passed, so it appears
//! exactly for the inputs large (or slow) enough for someone to wait on.

use std::io::{self, IsTerminal, Read};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressState, ProgressStyle};

/// No bar for operations shorter than this.
const SHOW_AFTER: Duration = Duration::from_millis(500);
/// Redraws per second, at most.
const REDRAWS_PER_SECOND: u8 = 10;
/// `LABEL [#####.....]  45%  460.00 MiB / 1.00 GiB  1.20 GB/s`.
const KNOWN_TOTAL: &str =
    "{msg} [{bar:30}] {percent:>3}%  {binary_bytes} / {binary_total_bytes}  {rate}";
/// `LABEL 460.00 MiB  1.20 GB/s`, when the total is unknown (stdin).
const UNKNOWN_TOTAL: &str = "{msg} {binary_bytes}  {rate}";

/// Progress over one input: `total` bytes if known (a file), else unknown
/// (stdin).
pub struct Progress {
    bar: ProgressBar,
    started: Instant,
    /// The bar is to be drawn once [`SHOW_AFTER`] has passed.
    show_later: bool,
}

impl Progress {
    /// Progress for `label`; shown only if `show` and stderr is a terminal.
    pub fn new(label: String, total: Option<u64>, show: bool) -> Progress {
        let (total, template) = match total {
            Some(total) if total > 0 => (Some(total), KNOWN_TOTAL),
            _ => (None, UNKNOWN_TOTAL),
        };
        // The templates are constants (a test parses them); a bar without
        // its style would still count.
        let style = style(template).unwrap_or_else(|_| ProgressStyle::default_bar());
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden())
            .with_style(style)
            .with_message(label)
            // A bar dropped on an error is erased, so the message starts clean.
            .with_finish(ProgressFinish::AndClear);
        Progress {
            bar,
            started: Instant::now(),
            show_later: show && io::stderr().is_terminal(),
        }
    }

    fn advance(&mut self, bytes: usize) {
        self.bar.inc(bytes as u64);
        if self.show_later && self.started.elapsed() >= SHOW_AFTER {
            self.show_later = false;
            self.bar
                .set_draw_target(ProgressDrawTarget::stderr_with_hz(REDRAWS_PER_SECOND));
            self.bar.tick();
        }
    }

    /// Erases the bar, if one was drawn, so the next message starts clean.
    pub fn finish(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// The bar's style: `template` with `{rate}`, the average rate so far in
/// GB/s (decimal), and `#` and `.` for the bar.
fn style(template: &str) -> Result<ProgressStyle, indicatif::style::TemplateError> {
    Ok(ProgressStyle::with_template(template)?
        .progress_chars("#.")
        .with_key(
            "rate",
            |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                let seconds = state.elapsed().as_secs_f64();
                let rate = if seconds > 0.0 {
                    state.pos() as f64 / seconds / 1e9
                } else {
                    0.0
                };
                let _ = write!(out, "{rate:.2} GB/s");
            },
        ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_templates_parse() {
        assert!(style(KNOWN_TOTAL).is_ok());
        assert!(style(UNKNOWN_TOTAL).is_ok());
    }

    #[test]
    fn never_draws_when_disabled() {
        let mut progress = Progress::new("x".into(), Some(10), false);
        progress.started -= Duration::from_secs(5);
        progress.advance(5);
        assert!(progress.bar.is_hidden());
        assert_eq!(progress.bar.position(), 5);
    }
}
