//! Every benchmark runs once, in one tiny round, so that a change elsewhere in the
//! workspace that breaks a benchmark's code path fails the tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod side_by_side;

use b24_bench::{run, Settings};

#[test]
fn every_benchmark_runs_one_tiny_round() {
    let settings = Settings::smoke();
    let mut steps = Vec::new();
    let report = run(&settings, "test", &mut |s| steps.push(s.to_owned())).unwrap();
    assert_eq!(steps.len(), 5, "{steps:?}");

    assert_eq!(report.request_building.len(), 2);
    assert_eq!(report.engine_overhead.len(), 2);
    assert_eq!(report.end_to_end.len(), 2);
    let comparisons: Vec<_> = report.comparisons().collect();
    assert_eq!(comparisons.len(), 7);
    for c in &comparisons {
        assert_eq!(c.rounds(), 1, "{c:?}");
        let r = c.median_ratio();
        assert!(r.is_finite() && r > 0.0, "{c:?}");
        assert!(c.baseline_iterations >= 1 && c.subject_iterations >= 1);
        assert!(
            !c.baseline_median().is_zero() && !c.subject_median().is_zero(),
            "{c:?}"
        );
    }

    // Four limiter runs: two presets, with and without delayed drivers.
    assert_eq!(report.limiter.len(), 4);
    for run in &report.limiter {
        assert_eq!(run.rejected, 0, "{run:?}");
        assert!(run.sends <= run.theoretical, "{run:?}");
        assert!(run.ratio() > 0.99, "{run:?}");
        assert!(run.peak_level <= f64::from(run.burst), "{run:?}");
    }

    let md = report.to_markdown();
    for heading in [
        "## This run",
        "## 1. Request building",
        "## 2. Response parsing",
        "## 3. Engine overhead",
        "## 4. End to end over loopback",
        "## 5. Limiter throughput",
        "## 6. Side by side, in separate processes",
        "(benchmarks-side-by-side.md)",
        "| command | `test` |",
        "| rounds | 1 per comparison, each of 1 alternating slices per side |",
    ] {
        assert!(md.contains(heading), "missing {heading:?} in\n{md}");
    }
    // Neither the emulator's webhook secret nor the made-up one leaks into the text.
    assert!(!md.contains(b24_bench::fixtures::WEBHOOK_URL));
    assert!(!md.contains("/rest/1/"));
}
