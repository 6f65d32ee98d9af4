//! The classic batch's per-command `result_time`, charged by the engine to each
//! command's own method (`Method::command_times`), and a planned bulk batch
//! run through an `Exchange`.

use b24_core::bulk::{BatchOutput, Bulk, Outcome, Step};
use b24_core::engine::{BudgetVerdict, Exchange, PortalState};
use b24_core::methods::{
    ClassicBatch, ClassicCommand, DialogId, ImDialogMessagesGet, ImMessageAdd,
};
use b24_core::types::ChatId;
use b24_core::Method;

use crate::engine_support::{answer, drive, t0, verdict, webhook};

fn message(text: &str) -> ClassicCommand {
    let dialog = DialogId::chat(ChatId::new(58).unwrap());
    ClassicCommand::from_method(&ImMessageAdd::new(dialog, text).unwrap()).unwrap()
}

fn read() -> ClassicCommand {
    let dialog = DialogId::chat(ChatId::new(58).unwrap());
    ClassicCommand::from_method(&ImDialogMessagesGet::new(dialog)).unwrap()
}

/// A classic batch answer: `a` and `b` are `im.message.add` (the later one reports
/// 478 s spent), `r` is `im.dialog.messages.get` (10 s).
fn answer_body(reset: u64) -> String {
    format!(
        r#"{{"result":{{"result":{{"a":1,"r":{{"messages":[]}},"b":2}},"result_error":[],"result_total":[],"result_next":[],
        "result_time":{{"a":{{"operating":470.0,"operating_reset_at":{reset},"processing":4.0}},
                        "r":{{"operating":10.0,"operating_reset_at":{reset},"processing":0.1}},
                        "b":{{"operating":478.0,"operating_reset_at":{reset},"processing":8.0}}}}}},
        "time":{{"operating":0,"operating_reset_at":{reset}}}}}"#
    )
}

#[test]
fn each_command_time_is_charged_to_its_own_method() {
    let reset = t0().as_unix_secs() + 300;
    let batch = ClassicBatch::new()
        .push("a", message("one"))
        .unwrap()
        .push("r", read())
        .unwrap()
        .push("b", message("two"))
        .unwrap();
    let out = batch.command_times(&{
        let mut r = b24_core::methods::ClassicBatchResult::default();
        for (k, op) in [("a", 470.0), ("r", 10.0), ("b", 478.0)] {
            let mut t = b24_core::types::Time::new();
            t.operating = Some(op);
            t.operating_reset_at = Some(reset as f64);
            r.times.insert(k.to_owned(), t);
        }
        r
    });
    // One figure per method, its latest.
    let figures: Vec<(&str, Option<f64>)> =
        out.iter().map(|(m, t)| (m.as_str(), t.operating)).collect();
    assert_eq!(
        figures,
        [
            ("im.message.add", Some(478.0)),
            ("im.dialog.messages.get", Some(10.0))
        ]
    );

    let state = PortalState::new(1);
    let ex = Exchange::new(&webhook(), batch, &state).unwrap();
    let run = drive(ex, vec![answer(200, &answer_body(reset))], t0());
    let reply = run.result.unwrap();
    assert_eq!(reply.result.decode::<u64>("b").unwrap(), 2);
    // 478 s is past the 475 s hold line: the method is held until the reset + 1 s.
    assert_eq!(
        verdict(&state, "im.message.add", run.now),
        BudgetVerdict::Hold {
            until: b24_core::engine::Timestamp::from_unix_secs(reset + 1)
        }
    );
    assert_eq!(
        verdict(&state, "im.dialog.messages.get", run.now),
        BudgetVerdict::Go
    );
    // The outer call is not counted.
    assert_eq!(verdict(&state, "batch", run.now), BudgetVerdict::Go);
}

#[test]
fn a_planned_batch_runs_through_the_exchange_and_charges_its_commands() {
    let reset = t0().as_unix_secs() + 300;
    let mut bulk = Bulk::new();
    let dialog = DialogId::chat(ChatId::new(58).unwrap());
    for text in ["one", "two"] {
        bulk.push(
            b24_core::methods::RawCall::new("im.message.add", b24_core::Api::Classic)
                .unwrap()
                .with_params(
                    ClassicCommand::from_method(&ImMessageAdd::new(dialog, text).unwrap())
                        .unwrap()
                        .params()
                        .clone(),
                ),
        )
        .unwrap();
    }
    let Step::Send(batch) = bulk.next_step(t0()) else {
        panic!("a batch")
    };
    let id = batch.id();
    let state = PortalState::new(1);
    let ex = Exchange::new(&webhook(), batch, &state).unwrap();
    let body = format!(
        r#"{{"result":{{"result":{{"_0":11,"_1":12}},"result_error":[],"result_total":[],"result_next":[],
        "result_time":{{"_0":{{"operating":476.0,"operating_reset_at":{reset},"processing":1.0}},"_1":{{"operating":477.0,"operating_reset_at":{reset},"processing":1.0}}}}}},"time":{{}}}}"#
    );
    let run = drive(ex, vec![answer(200, &body)], t0());
    assert!(matches!(run.result, Ok(ref r) if matches!(r.result, BatchOutput::Classic(_))));
    assert!(matches!(
        verdict(&state, "im.message.add", run.now),
        BudgetVerdict::Hold { .. }
    ));
    bulk.complete(id, run.result, None, run.now);
    let outcomes: Vec<_> = std::iter::from_fn(|| bulk.next_outcome()).collect();
    assert!(matches!(outcomes[0].outcome, Outcome::Done(ref v) if *v == 11));
    assert!(matches!(outcomes[1].outcome, Outcome::Done(ref v) if *v == 12));
}
