//! [`RedisBudgetStore`]: the operating budgets of one budget scope on a host.

use std::fmt;
use std::time::{Duration, SystemTime};

use b24_core::engine::{
    combine_verdicts, operating_millis, BudgetCheck, BudgetConfig, BudgetStore, BudgetVerdict,
    StoreCall, Timestamp, MAX_RESET_AHEAD,
};
use b24_types::Time;

use crate::config::EXPIRY_MARGIN;
use crate::conn::{arg, array, eval, int, millis, Conn, OpError};
use crate::keys::HostKeys;
use crate::scripts;

/// The lines of a [`BudgetConfig`] in milliseconds, as the scripts take them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lines {
    pub(crate) hold_line: u64,
    pub(crate) slow_line: u64,
    pub(crate) max_spacing: u64,
    pub(crate) reset_margin: u64,
}

impl Lines {
    /// As [`MethodBudget::check`](b24_core::engine::MethodBudget::check) computes them.
    pub(crate) fn of(config: &BudgetConfig) -> Self {
        Self {
            hold_line: millis(config.hold_line()),
            slow_line: millis(config.slow_line()),
            max_spacing: millis(config.max_spacing),
            reset_margin: millis(config.reset_margin),
        }
    }
}

/// The operating-time budgets of one budget scope's methods (a webhook, or the OAuth
/// app) on one host, in Redis: one hash per method, holding what
/// [`MethodBudget`](b24_core::engine::MethodBudget) holds. Every operation is one
/// script, so concurrent checks from many processes reserve distinct spread slots.
///
/// `now` is the caller's wall clock, as in memory: the reset times are the portal's
/// unix times. The scripts compute in Lua numbers (doubles): times and figures are
/// exact below 2^53 ms (some 285,000 years), and the spread spacing is exact while
/// the largest spacing times the slow zone's width stays below 2^52 ms² (a spacing of
/// up to 100 days at the default 480 s limit).
pub struct RedisBudgetStore {
    conn: Conn,
    keys: HostKeys,
    scope: String,
    config: BudgetConfig,
    /// `None` only if the configuration could not be read: every operation then fails.
    lines: Lines,
}

impl RedisBudgetStore {
    pub(crate) fn new(conn: Conn, keys: HostKeys, scope: String, config: BudgetConfig) -> Self {
        Self {
            conn,
            keys,
            scope,
            lines: Lines::of(&config),
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> BudgetConfig {
        self.config
    }

    fn key(&self, method: &str) -> String {
        self.keys.budget(&self.scope, method)
    }
}

impl fmt::Debug for RedisBudgetStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBudgetStore")
            .field("keys", &self.key("*"))
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn parse_check(answer: redis::Value, methods: &[String]) -> Result<BudgetCheck, OpError> {
    const BAD: OpError = OpError::Corrupt("the budget check script's answer");
    let items = array(answer).ok_or(BAD)?;
    if items.len() != methods.len() * 3 {
        return Err(BAD);
    }
    let mut verdicts = Vec::with_capacity(methods.len());
    let mut reset_at: Option<Timestamp> = None;
    for (chunk, method) in items.chunks_exact(3).zip(methods) {
        let [kind, at, reset] = chunk else {
            return Err(BAD);
        };
        let at = int(at)
            .and_then(|n| u64::try_from(n).ok())
            .map(Timestamp::from_unix_millis)
            .ok_or(BAD)?;
        let verdict = match int(kind) {
            Some(0) => BudgetVerdict::Go,
            Some(1) => BudgetVerdict::Spread { at },
            Some(2) => BudgetVerdict::Hold { until: at },
            _ => return Err(BAD),
        };
        if let Some(reset) = int(reset).and_then(|n| u64::try_from(n).ok()) {
            let reset = Timestamp::from_unix_millis(reset);
            reset_at = Some(reset_at.map_or(reset, |r| r.max(reset)));
        }
        verdicts.push((verdict, method.as_str()));
    }
    let mut check = combine_verdicts(verdicts);
    check.reset_at = reset_at;
    Ok(check)
}

impl BudgetStore for RedisBudgetStore {
    fn check(&self, methods: &[String], now: Timestamp) -> StoreCall<BudgetCheck> {
        if methods.is_empty() {
            return StoreCall::ready(BudgetCheck::go());
        }
        let keys: Vec<String> = methods.iter().map(|m| self.key(m)).collect();
        let methods = methods.to_vec();
        let l = self.lines;
        let args = [
            arg(now.as_unix_millis()),
            arg(l.hold_line),
            arg(l.slow_line),
            arg(l.max_spacing),
            arg(l.reset_margin),
            arg(millis(EXPIRY_MARGIN)),
        ];
        StoreCall::Pending(self.conn.run("check budgets", move |mut con| async move {
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            let answer = eval(&mut con, &scripts::BUDGET_CHECK, &keys, &args).await?;
            parse_check(answer, &methods)
        }))
    }

    fn record(&self, method: &str, time: &Time, now: Timestamp) -> StoreCall<()> {
        // As MethodBudget::record: without a (readable) reset time nothing changes.
        let Some(reported) = time
            .operating_reset_at
            .and_then(Timestamp::from_unix_secs_f64)
        else {
            return StoreCall::ready(());
        };
        let lines = self.lines;
        let latest = now.saturating_add(MAX_RESET_AHEAD);
        let clamped = reported > latest;
        let reset_at = reported.min(latest);
        let operating = time.operating.map_or(0, operating_millis);
        let key = self.key(method);
        let args = [
            arg(now.as_unix_millis()),
            arg(reset_at.as_unix_millis()),
            arg(u8::from(clamped)),
            arg(latest.as_unix_millis()),
            arg(operating),
            arg(lines.reset_margin),
            arg(millis(EXPIRY_MARGIN)),
        ];
        StoreCall::Pending(self.conn.run("record a budget", move |mut con| async move {
            let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            eval(&mut con, &scripts::BUDGET_RECORD, &[key.as_str()], &args).await?;
            Ok(())
        }))
    }

    fn block(&self, methods: &[String], until: Timestamp) -> StoreCall<()> {
        if methods.is_empty() {
            return StoreCall::ready(());
        }
        // The keys must outlive the block; a block comes without `now`, so its time to
        // live is counted from this machine's clock (and never below the margin).
        let wall = Timestamp::from_system_time(SystemTime::now());
        let ttl = until
            .saturating_duration_since(wall)
            .saturating_add(EXPIRY_MARGIN);
        let keys: Vec<String> = methods.iter().map(|m| self.key(m)).collect();
        let args = [
            arg(until.as_unix_millis()),
            arg(millis(ttl.max(Duration::from_secs(1)))),
        ];
        StoreCall::Pending(self.conn.run("block budgets", move |mut con| async move {
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            eval(&mut con, &scripts::BUDGET_BLOCK, &keys, &args).await?;
            Ok(())
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_the_core_rules() {
        assert_eq!(
            Lines::of(&BudgetConfig::default()),
            Lines {
                hold_line: 415_000,
                slow_line: 336_000,
                max_spacing: 7_000,
                reset_margin: 1_000
            }
        );
        let custom = BudgetConfig::default()
            .limit(Duration::from_millis(420_500))
            .slow_from(0.123_456_789)
            .hold_margin(Duration::from_micros(2_500_250))
            .max_spacing(Duration::from_nanos(1_500_000_001))
            .reset_margin(Duration::from_millis(1_250));
        assert_eq!(
            Lines::of(&custom),
            Lines {
                hold_line: 417_999,
                slow_line: 51_913,
                max_spacing: 1_500,
                reset_margin: 1_250
            }
        );
    }
}
