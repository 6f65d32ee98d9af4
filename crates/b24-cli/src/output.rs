//! Stdout (JSON only) and stderr (notes, progress).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cli::OutputArgs;
use crate::failure::{Class, Failure};

/// Writes JSON to stdout.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Printer {
    pretty: bool,
}

impl Printer {
    /// Pretty when asked, or when stdout is a terminal and compact was not asked for.
    pub(crate) fn new(args: &OutputArgs) -> Self {
        let pretty = if args.pretty {
            true
        } else if args.compact {
            false
        } else {
            std::io::stdout().is_terminal()
        };
        Self { pretty }
    }

    /// Prints one JSON document, pretty or compact.
    ///
    /// # Errors
    ///
    /// A failure when stdout cannot be written ([`Class::PipeClosed`] when its reader
    /// went away).
    pub(crate) fn value(&self, value: &Value) -> Result<(), Failure> {
        let text = if self.pretty {
            serde_json::to_string_pretty(value)
        } else {
            serde_json::to_string(value)
        }
        .map_err(|e| Failure::new(Class::Other, format!("cannot print the result: {e}")))?;
        write_stdout(&text)
    }

    /// Prints one JSON document on one line (JSON lines).
    ///
    /// # Errors
    ///
    /// As [`value`](Self::value).
    pub(crate) fn line(&self, value: &Value) -> Result<(), Failure> {
        let text = serde_json::to_string(value)
            .map_err(|e| Failure::new(Class::Other, format!("cannot print the result: {e}")))?;
        write_stdout(&text)
    }
}

fn write_stdout(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                Failure::new(Class::PipeClosed, "stdout was closed")
            } else {
                Failure::new(Class::Other, format!("cannot write to stdout: {e}"))
            }
        })
}

/// Notes on stderr: `-v` says what is called, `-q` silences notes and progress.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Notes {
    verbose: bool,
    quiet: bool,
}

impl Notes {
    /// From the output switches.
    pub(crate) fn new(args: &OutputArgs) -> Self {
        Self {
            verbose: args.verbose,
            quiet: args.quiet,
        }
    }

    /// Prints a note when `-v` is on.
    pub(crate) fn verbose(&self, text: &str) {
        if self.verbose {
            eprintln!("b24: {text}");
        }
    }

    /// Whether progress may be shown (`--progress` forces it unless `-q`).
    pub(crate) fn progress(&self, forced: bool) -> Progress {
        let tty = std::io::stderr().is_terminal();
        let mode = if self.quiet {
            Mode::Off
        } else if tty {
            Mode::Tty
        } else if forced {
            Mode::Lines
        } else {
            Mode::Off
        };
        Progress {
            mode,
            started: Instant::now(),
            last_shown: None,
            last_pages: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Off,
    /// One line rewritten in place, only once the list takes a while.
    Tty,
    /// One line per page (`--progress` into a file or pipe).
    Lines,
}

/// Progress of a long list, on stderr.
#[derive(Debug)]
pub(crate) struct Progress {
    mode: Mode,
    started: Instant,
    last_shown: Option<Instant>,
    last_pages: u64,
}

/// A terminal sees progress only for lists that take longer than this.
const TTY_DELAY: Duration = Duration::from_millis(500);
/// And at most this often.
const TTY_EVERY: Duration = Duration::from_millis(100);

impl Progress {
    /// A result arrived from page `pages`; `count` results arrived before it.
    pub(crate) fn update(&mut self, count: u64, pages: u64) {
        match self.mode {
            Mode::Off => {}
            Mode::Lines => {
                if pages != self.last_pages {
                    // A new page began: every result of the pages before it is counted.
                    if self.last_pages > 0 {
                        eprintln!(
                            "b24: {} so far, {}",
                            plural(count, "result"),
                            plural(self.last_pages, "page")
                        );
                    }
                    self.last_pages = pages;
                }
            }
            Mode::Tty => {
                let now = Instant::now();
                let due = now.duration_since(self.started) >= TTY_DELAY
                    && self
                        .last_shown
                        .is_none_or(|at| now.duration_since(at) >= TTY_EVERY);
                if due {
                    self.last_shown = Some(now);
                    eprint!(
                        "\rb24: {}, {}…\x1b[K",
                        plural(count, "result"),
                        plural(pages, "page")
                    );
                    let _ = std::io::stderr().flush();
                }
            }
        }
    }

    /// The list failed: clears a progress line, prints no summary.
    pub(crate) fn abort(&mut self) {
        if self.mode == Mode::Tty && self.last_shown.is_some() {
            eprint!("\r\x1b[K");
            let _ = std::io::stderr().flush();
        }
    }

    /// The list ended with `count` results over `pages` pages.
    pub(crate) fn finish(&mut self, count: u64, pages: u64) {
        match self.mode {
            Mode::Off => {}
            Mode::Lines => eprintln!(
                "b24: {} in {}",
                plural(count, "result"),
                plural(pages, "page")
            ),
            Mode::Tty => {
                if self.last_shown.is_some() {
                    eprint!("\r\x1b[K");
                    let _ = std::io::stderr().flush();
                }
            }
        }
    }
}

/// `1 result`, `2 results`.
fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}
