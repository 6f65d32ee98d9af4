//! The markdown report: the text of `docs/benchmarks.md`.

use std::fmt::Write as _;
use std::time::Duration;

use crate::limiter::LimiterRun;
use crate::machine::MachineFacts;
use crate::measure::Comparison;
use crate::settings::Settings;

/// Everything one run measured, with the facts of the run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Report {
    /// The settings used.
    pub settings: Settings,
    /// The command that made the report.
    pub command: String,
    /// Date, machine and toolchain.
    pub facts: MachineFacts,
    /// Benchmark 1: webhook, then OAuth.
    pub request_building: Vec<Comparison>,
    /// Benchmark 2.
    pub response_parsing: Comparison,
    /// Benchmark 3: against the codec per attempt, then per call.
    pub engine_overhead: Vec<Comparison>,
    /// Benchmark 4: sequential, then concurrent.
    pub end_to_end: Vec<Comparison>,
    /// Benchmark 5: one run per preset and kind of driver.
    pub limiter: Vec<LimiterRun>,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

impl Report {
    /// Every comparison, in report order.
    pub fn comparisons(&self) -> impl Iterator<Item = &Comparison> {
        self.request_building
            .iter()
            .chain(std::iter::once(&self.response_parsing))
            .chain(&self.engine_overhead)
            .chain(&self.end_to_end)
    }

    /// The report as markdown.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        self.write_intro(&mut out);
        self.write_facts(&mut out);
        section(
            &mut out,
            "1. Request building",
            "The request of one attempt of `tasks.task.result.addfromchatmessage`, with an \
             `Idempotency-Key`. The subject reuses a `PreparedCall` (parameters validated and \
             the body serialised once; an OAuth body with the token spliced in is cached per \
             token), as the engine does on every attempt; the baseline calls `build_request`, \
             which does all of it again. Ratio = reused / rebuilt: below 1 is what a retry \
             saves by not rebuilding.",
            &self.request_building,
        );
        section(
            &mut out,
            "2. Response parsing",
            "A `tasks.task.result.list` answer of 50 results made with the b24-types \
             serialisation. The subject is `parse_response` (looks for `error` in every body \
             whatever the status, reads the `Idempotent-Replayed` header and the `time` object \
             leniently, decodes in one pass and works out a JSON path only when a decode \
             fails); the baseline is a bare \
             `serde_json::from_slice` into `Envelope<ItemsResult<TaskResult>>`. Ratio = codec \
             / bare serde: the price of those checks.",
            std::slice::from_ref(&self.response_parsing),
        );
        section(
            &mut out,
            "3. Engine overhead",
            "One whole `Exchange` of `addfromchatmessage` against a canned in-memory 200 \
             answer: `new` (prepares the call, generates the idempotency key), `poll` (budget \
             check, limiter slot, request), `handle_response` (parse, budget bookkeeping, \
             classification), `poll` to `Done`, events drained after each step. Baselines: \
             the codec alone on the same answer, per attempt (a call prepared once) and per \
             call (`build_request` from scratch). Ratio = engine / codec.",
            &self.engine_overhead,
        );
        section(
            &mut out,
            "4. End to end over loopback",
            "`tasks.task.get` (task 51 with its chat) against b24-emulator served over plain \
             HTTP on 127.0.0.1 with a bucket no run can fill. Subject: the b24-hyper `Client` \
             (engine, surface, attempt timeout, body cap). Baseline: a bare hyper-util legacy \
             client with b24-hyper's default pool settings, sending the identical request \
             built once by the core and reading the body to bytes. Same emulator, same tokio \
             runtime (2 worker threads). Times are per call: latency when one call runs at a \
             time, the inverse of throughput when several are in flight. Ratio = b24-hyper / \
             bare hyper: what the engine and the surface add to a real exchange.",
            &self.end_to_end,
        );
        self.write_limiter(&mut out);
        write_side_by_side(&mut out);
        out
    }

    fn write_intro(&self, out: &mut String) {
        let _ = writeln!(out, "# Benchmarks\n");
        let _ = writeln!(
            out,
            "What the b24 layers cost, measured by the `b24-bench` crate. This file is \
             generated: run the command below to make it again.\n"
        );
        let _ = writeln!(out, "```sh\ncargo xtask bench\n# which runs:\ncargo run --release -p b24-bench -- --write docs/benchmarks.md\n```\n");
        let _ = writeln!(
            out,
            "**Why ratios.** The figures are often made on a small shared machine (the table \
             below says which), where absolute times move with whatever else runs. So every \
             figure is a ratio of a \
             subject to a baseline measured in the same run: both are first calibrated to a \
             sample of about the same length (which also warms them up), then run in \
             rounds, each made of alternating slices of both sides (which side goes first \
             alternates too), and each round gives one ratio of the times per iteration. A \
             slow patch on the machine hits both sides of a round alike. The tables give the median ratio, \
             the spread (smallest to largest per-round ratio) and, for context only, the \
             median absolute times per iteration.\n"
        );
        let _ = writeln!(
            out,
            "**Reading a ratio.** Below 1 the subject is cheaper than its baseline, above 1 \
             dearer: 1.25 means 25 % more time than the baseline, 0.40 means 60 % less. A \
             wide spread means the machine was noisy during that comparison.\n"
        );
    }

    fn write_facts(&self, out: &mut String) {
        let f = &self.facts;
        let s = &self.settings;
        let _ = writeln!(out, "## This run\n");
        let _ = writeln!(out, "| | |\n|---|---|");
        let _ = writeln!(out, "| command | `{}` |", self.command);
        let _ = writeln!(out, "| date | {} |", f.date);
        let _ = writeln!(out, "| CPUs (`nproc`) | {} |", f.cpus);
        if let Some(model) = &f.cpu_model {
            let _ = writeln!(out, "| CPU | {model} |");
        }
        let _ = writeln!(out, "| OS | {} |", f.os);
        let _ = writeln!(out, "| toolchain | {} |", f.rustc);
        let _ = writeln!(out, "| profile | {} |", f.profile);
        if let Some(load) = &f.load_at_start {
            let _ = writeln!(out, "| load average (1 min) at start | {load} |");
        }
        let _ = writeln!(
            out,
            "| rounds | {} per comparison, each of {} alternating slices per side |",
            s.rounds,
            s.slices.max(1)
        );
        let _ = writeln!(
            out,
            "| sample length | {} in-process, {} over loopback (per side, per round) |",
            fmt_duration(s.sample_time),
            fmt_duration(s.loopback_sample_time)
        );
        let _ = writeln!(
            out,
            "| wall time of the run | {:.1} s |\n",
            self.elapsed.as_secs_f64()
        );
    }

    fn write_limiter(&self, out: &mut String) {
        let _ = writeln!(out, "## 5. Limiter throughput\n");
        let _ = writeln!(
            out,
            "The core's `LeakyBucket` with the standard (50, 2/s) and enterprise (250, 5/s) \
             presets and their default safety margin, driven by work that is always waiting, \
             in simulated time: each driver reserves a slot, sleeps to it, sends, and reserves \
             the next once the answer is back. One driver with no network delay (arrivals \
             exactly at the slots), and {} drivers whose requests take a random 20 to 150 ms \
             to arrive (fixed seed), so that arrivals bunch and overtake each other. The \
             theoretical maximum is what the portal's bucket lets through from empty: \
             burst + rate × time. Every send is fed to a simulation of the portal's bucket on \
             its own clock, which counts a request as rejected when it would take the counter \
             past the burst (the strict reading of the rule); the expected count is 0. These \
             figures are simulated, not timed, so they come out the same on every machine.\n",
            self.settings.concurrency.max(1)
        );
        let _ = writeln!(
            out,
            "| preset | bucket | client margin | drivers | one-way delay | simulated time | sends | theoretical max | achieved / theoretical | rejected by the portal | portal counter peak |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
        for r in &self.limiter {
            let delay = if r.delay_ms == (0, 0) {
                "none".to_owned()
            } else {
                format!("{}–{} ms", r.delay_ms.0, r.delay_ms.1)
            };
            let _ = writeln!(
                out,
                "| {} | {} at {}/s | {} | {} | {} | {:.0} min | {} | {} | {:.4} | {} | {:.2} |",
                r.preset,
                r.burst,
                r.per_second,
                r.margin,
                r.drivers,
                delay,
                r.window.as_secs_f64() / 60.0,
                r.sends,
                r.theoretical,
                r.ratio(),
                r.rejected,
                r.peak_level,
            );
        }
        out.push('\n');
    }
}

/// The pointer to the side-by-side figures, which have their own generated file: they
/// take minutes rather than seconds, run every client in its own process, and give
/// absolute rates beside the ratios, so `cargo xtask bench` does not make them.
fn write_side_by_side(out: &mut String) {
    let _ = writeln!(out, "## 6. Side by side, in separate processes\n");
    let _ = writeln!(
        out,
        "b24-hyper against bare hyper (body discarded, or parsed into a \
         `serde_json::Value`) and reqwest with a typed serde struct, each client in its own \
         process pinned to one core, against a fixed-answer HTTPS server pinned to the \
         other, over HTTP/1.1 and HTTP/2 with 1, 32 and 128 calls in flight: calls per \
         second and CPU per call, with the speed goals and whether they are met. Those \
         figures are in their own generated file, \
         [benchmarks-side-by-side.md](benchmarks-side-by-side.md), made by a separate \
         command that takes a few minutes:\n"
    );
    let _ = writeln!(
        out,
        "```sh\ncargo run --release -p b24-bench --bin side-by-side -- --write docs/benchmarks-side-by-side.md\n```\n"
    );
}

fn section(out: &mut String, title: &str, text: &str, rows: &[Comparison]) {
    let _ = writeln!(out, "## {title}\n\n{text}\n");
    let _ = writeln!(
        out,
        "| case | baseline | subject | ratio (median) | spread (min–max) | baseline median | subject median | in words |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for c in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | **{:.3}** | {:.3}–{:.3} | {} | {} | {} |",
            c.labels.case,
            c.labels.baseline,
            c.labels.subject,
            c.median_ratio(),
            c.min_ratio(),
            c.max_ratio(),
            fmt_duration(c.baseline_median()),
            fmt_duration(c.subject_median()),
            in_words(c.median_ratio()),
        );
    }
    out.push('\n');
}

/// A ratio as "N % less/more time than the baseline".
pub fn in_words(ratio: f64) -> String {
    if !ratio.is_finite() {
        return "not measured".to_owned();
    }
    let pct = (ratio - 1.0) * 100.0;
    if pct.abs() < 0.5 {
        "the same time as the baseline".to_owned()
    } else if pct < 0.0 {
        format!("{:.0} % less time than the baseline", -pct)
    } else {
        format!("{pct:.0} % more time than the baseline")
    }
}

/// A duration with a unit that suits it (ns, µs, ms, s).
pub fn fmt_duration(d: Duration) -> String {
    let ns = d.as_secs_f64() * 1e9;
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1_000_000_000.0 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_in_benchmarks_md_points_to_the_side_by_side_figures() {
        let mut section = String::new();
        write_side_by_side(&mut section);
        let doc = include_str!("../../../docs/benchmarks.md");
        assert!(doc.contains(&section), "regenerate docs/benchmarks.md");
    }

    #[test]
    fn words_and_units() {
        assert_eq!(in_words(0.4), "60 % less time than the baseline");
        assert_eq!(in_words(1.25), "25 % more time than the baseline");
        assert_eq!(in_words(1.001), "the same time as the baseline");
        assert_eq!(fmt_duration(Duration::from_nanos(512)), "512 ns");
        assert_eq!(fmt_duration(Duration::from_nanos(1_500)), "1.50 µs");
        assert_eq!(fmt_duration(Duration::from_micros(2_250)), "2.25 ms");
    }
}
