//! Interleaved ratio measurement.
//!
//! A comparison has a baseline and a subject, each a function that runs `n`
//! iterations and returns how long they took. Both are first calibrated to about the
//! target sample time (which also warms them up). Then they run in alternating rounds
//! (baseline first in even rounds, subject first in odd ones) and each round yields
//! one ratio `subject time per iteration / baseline time per iteration`. Noise from a
//! shared machine hits both sides of a round alike, so the ratio is steadier than
//! either absolute figure; the spread of the per-round ratios shows what noise is
//! left.

use std::time::{Duration, Instant};

use crate::error::BenchError;
use crate::settings::Settings;

/// The largest iteration count a calibration may ask for.
const MAX_ITERATIONS: u64 = 1 << 36;

/// What the two sides of a comparison are.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Labels {
    /// The row's name, e.g. `webhook portal`.
    pub case: String,
    /// The baseline, e.g. `build_request from scratch`.
    pub baseline: String,
    /// The subject, e.g. `PreparedCall::request reused`.
    pub subject: String,
}

impl Labels {
    /// Labels for a row.
    pub fn new(
        case: impl Into<String>,
        baseline: impl Into<String>,
        subject: impl Into<String>,
    ) -> Self {
        Self {
            case: case.into(),
            baseline: baseline.into(),
            subject: subject.into(),
        }
    }
}

/// The outcome of one comparison: per-round times and ratios.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Comparison {
    /// What was compared.
    pub labels: Labels,
    /// Iterations per baseline sample.
    pub baseline_iterations: u64,
    /// Iterations per subject sample.
    pub subject_iterations: u64,
    /// Baseline nanoseconds per iteration, one per round.
    pub baseline_ns: Vec<f64>,
    /// Subject nanoseconds per iteration, one per round.
    pub subject_ns: Vec<f64>,
    /// `subject / baseline`, one per round.
    pub ratios: Vec<f64>,
}

impl Comparison {
    /// The median of the per-round ratios.
    pub fn median_ratio(&self) -> f64 {
        median(&self.ratios)
    }

    /// The smallest per-round ratio.
    pub fn min_ratio(&self) -> f64 {
        self.ratios.iter().copied().fold(f64::INFINITY, f64::min)
    }

    /// The largest per-round ratio.
    pub fn max_ratio(&self) -> f64 {
        self.ratios
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    }

    /// The median baseline time per iteration.
    pub fn baseline_median(&self) -> Duration {
        nanos(median(&self.baseline_ns))
    }

    /// The median subject time per iteration.
    pub fn subject_median(&self) -> Duration {
        nanos(median(&self.subject_ns))
    }

    /// Rounds measured.
    pub fn rounds(&self) -> usize {
        self.ratios.len()
    }
}

/// The median of a list (the mean of the middle two for an even count); NaN when
/// empty.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    match (sorted.len() % 2, sorted.get(mid), mid.checked_sub(1)) {
        (1, Some(m), _) => *m,
        (0, Some(hi), Some(lo)) => sorted.get(lo).map_or(f64::NAN, |lo| (lo + hi) / 2.0),
        _ => f64::NAN,
    }
}

fn nanos(ns: f64) -> Duration {
    if ns.is_finite() && ns >= 0.0 {
        Duration::from_secs_f64(ns / 1e9)
    } else {
        Duration::ZERO
    }
}

/// Runs `f` `n` times and returns the time taken. `f` reports its own failure.
pub fn timed(
    n: u64,
    mut f: impl FnMut() -> Result<(), BenchError>,
) -> Result<Duration, BenchError> {
    let start = Instant::now();
    for _ in 0..n {
        f()?;
    }
    Ok(start.elapsed())
}

/// Calibrates both sides, then runs `settings.rounds` rounds of
/// `settings.slices` alternating slices.
///
/// `baseline(n)` and `subject(n)` run exactly `n` iterations and return their time.
///
/// # Errors
///
/// The first error either side returns.
pub fn compare(
    settings: &Settings,
    sample_time: Duration,
    labels: Labels,
    mut baseline: impl FnMut(u64) -> Result<Duration, BenchError>,
    mut subject: impl FnMut(u64) -> Result<Duration, BenchError>,
) -> Result<Comparison, BenchError> {
    let nb = calibrate(&mut baseline, sample_time)?;
    let ns = calibrate(&mut subject, sample_time)?;
    let rounds = settings.rounds.max(1);
    let mut out = Comparison {
        labels,
        baseline_iterations: nb,
        subject_iterations: ns,
        baseline_ns: Vec::with_capacity(rounds),
        subject_ns: Vec::with_capacity(rounds),
        ratios: Vec::with_capacity(rounds),
    };
    let slices = settings.slices.max(1);
    let slices_u64 = u64::try_from(slices).unwrap_or(1);
    let (nb_slice, ns_slice) = (nb.div_ceil(slices_u64), ns.div_ceil(slices_u64));
    for round in 0..rounds {
        let (mut b, mut s) = (Duration::ZERO, Duration::ZERO);
        for slice in 0..slices {
            if (round + slice).is_multiple_of(2) {
                b += baseline(nb_slice)?;
                s += subject(ns_slice)?;
            } else {
                s += subject(ns_slice)?;
                b += baseline(nb_slice)?;
            }
        }
        let b = per_iteration_ns(b, nb_slice * slices_u64);
        let s = per_iteration_ns(s, ns_slice * slices_u64);
        out.baseline_ns.push(b);
        out.subject_ns.push(s);
        out.ratios.push(if b > 0.0 { s / b } else { f64::NAN });
    }
    Ok(out)
}

#[allow(clippy::cast_precision_loss)]
fn per_iteration_ns(d: Duration, n: u64) -> f64 {
    d.as_secs_f64() * 1e9 / n.max(1) as f64
}

/// Finds an iteration count that takes about `target`: doubles from 1 until a run
/// takes an eighth of it, then scales. The runs warm caches and pools up.
fn calibrate(
    f: &mut impl FnMut(u64) -> Result<Duration, BenchError>,
    target: Duration,
) -> Result<u64, BenchError> {
    let floor = target / 8;
    let mut n: u64 = 1;
    loop {
        let took = f(n)?;
        if took >= floor || n >= MAX_ITERATIONS {
            #[allow(clippy::cast_precision_loss)]
            let per = took.as_secs_f64().max(1e-9) / n as f64;
            let want = (target.as_secs_f64() / per).ceil();
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let want = want.clamp(1.0, MAX_ITERATIONS as f64) as u64;
            return Ok(want);
        }
        n = n.saturating_mul(2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_lists() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn a_slower_subject_has_a_ratio_above_one() {
        let mut settings = Settings::smoke().with_rounds(3);
        settings.slices = 2;
        let spin = |n: u64, work: u64| {
            timed(n, || {
                let mut x = 0u64;
                for i in 0..work {
                    x = std::hint::black_box(x.wrapping_add(i));
                }
                std::hint::black_box(x);
                Ok(())
            })
        };
        let c = compare(
            &settings,
            Duration::from_millis(5),
            Labels::new("spin", "100", "1000"),
            |n| spin(n, 100),
            |n| spin(n, 1000),
        )
        .unwrap();
        assert_eq!(c.rounds(), 3);
        assert!(c.median_ratio() > 2.0, "{c:?}");
        assert!(c.min_ratio() <= c.median_ratio() && c.median_ratio() <= c.max_ratio());
    }
}
