//! The side-by-side benchmark in a tiny run: every client process of every cell gets
//! right answers, the server sees each call once, and the report has every cell.

use std::path::Path;
use std::time::{Duration, Instant};

use b24_bench::side_by_side::{self, ClientKind, Protocol, SideSettings, Verdict};

#[test]
fn side_by_side_runs_every_cell_in_a_tiny_round() {
    let exe = Path::new(env!("CARGO_BIN_EXE_side-by-side"));
    let settings = SideSettings::tiny();
    let started = Instant::now();
    let mut steps = Vec::new();
    let report = side_by_side::run(&settings, exe, "test", &mut |s| steps.push(s.to_owned()))
        .unwrap_or_else(|e| panic!("side by side: {e}\nsteps: {steps:#?}"));
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );

    // 4 clients × 2 concurrencies × 2 protocols, one round.
    assert_eq!(settings.concurrencies, vec![1, 4]);
    assert_eq!(report.runs.len(), 16);
    for run in &report.runs {
        let o = &run.outcome;
        assert_eq!((o.calls, o.ok, o.warmup), (200, 200, 20), "{run:?}");
        assert_eq!(o.kind, run.kind.as_arg());
        assert!(o.wall_ns > 0 && o.calls_per_sec() > 0.0, "{run:?}");
        assert!(o.cpu_us_per_call() > 0.0, "{run:?}");
        // The server saw every warm-up and measured call once, over the right
        // protocol, each with an Idempotency-Key.
        for (seen, calls) in [(&run.server_warmup, 20), (&run.server, 200)] {
            assert_eq!(seen.requests(), calls, "{run:?}");
            assert_eq!(seen.requests_over(run.protocol), calls, "{run:?}");
            assert_eq!(seen.with_idempotency_key, calls, "{run:?}");
            assert_eq!((seen.not_post, seen.tls_failures), (0, 0), "{run:?}");
        }
        assert!(run.connections() >= 1, "{run:?}");
        assert_eq!(run.tries, 1, "the tiny run never repeats: {run:?}");
        assert!(run.server.cpu_ns > 0, "{run:?}");
    }

    let cells = report.cells();
    assert_eq!(cells.len(), 16);
    let md = report.to_markdown();
    for p in Protocol::ALL {
        for c in [1, 4] {
            for kind in ClientKind::ALL {
                let cell = report.cell(kind, p, c).expect("every cell measured");
                assert_eq!((cell.ok, cell.calls), (200, 200));
                let row = format!(
                    "| {c} | {} | {:.0} |",
                    kind.label(),
                    cell.calls_per_sec.median
                );
                assert!(md.contains(&row), "missing {row:?} in\n{md}");
            }
        }
    }
    for heading in [
        "# Side by side",
        "## This run",
        "## Goals",
        "## HTTP/2 (one multiplexed connection) or the HTTP/1.1 pool",
        "## Figures per cell",
        "### HTTP/1.1",
        "### HTTP/2",
        "## b24-hyper against each baseline",
        "| command | `test` |",
        "| client processes | 16 started, 16 kept (one per cell and round) |",
        "## Every run",
    ] {
        assert!(md.contains(heading), "missing {heading:?} in\n{md}");
    }
    // c = 32 is not in the tiny run: those goals say so; the c = 1 goals are decided.
    let goals = report.goals();
    assert_eq!(goals.len(), 6);
    for g in &goals {
        if g.what.starts_with("c = 32") {
            assert_eq!(g.verdict, Verdict::NotMeasured, "{g:?}");
        } else {
            assert_ne!(g.verdict, Verdict::NotMeasured, "{g:?}");
        }
    }
    // The webhook secret never reaches the report.
    assert!(!md.contains("/rest/1/"));
}
