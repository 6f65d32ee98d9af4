//! proptest strategies for the DTOs.

use b24_types::{
    ApiError, DateTime, ErrorCode, ErrorShape, FileId, MessageId, ResultId, ResultRights,
    ResultStatus, TaskId, TaskResult, Time, User, UserId, ValidationIssue,
};
use proptest::prelude::*;

pub(crate) fn positive() -> impl Strategy<Value = u64> {
    1..=u64::MAX
}

pub(crate) fn opt_f64() -> impl Strategy<Value = Option<f64>> {
    proptest::option::of(prop_oneof![
        (0u32..2_000_000_000).prop_map(f64::from),
        (-1.0e12f64..1.0e12f64),
        proptest::num::f64::NORMAL,
    ])
}

pub(crate) fn time() -> impl Strategy<Value = Time> {
    (
        opt_f64(),
        opt_f64(),
        opt_f64(),
        opt_f64(),
        proptest::option::of(datetime()),
        opt_f64(),
        opt_f64(),
    )
        .prop_map(
            |(start, finish, duration, processing, date, reset, operating)| {
                let mut t = Time::new();
                t.start = start;
                t.finish = finish;
                t.duration = duration;
                t.processing = processing;
                t.date_start = date.as_ref().map(|d| d.as_str().to_owned());
                t.date_finish = date.map(|d| d.as_str().to_owned());
                t.operating_reset_at = reset;
                t.operating = operating;
                t
            },
        )
}

pub(crate) fn datetime() -> impl Strategy<Value = DateTime> {
    (-2_000_000_000i64..8_000_000_000, -12i32 * 4..=14 * 4)
        .prop_map(|(unix, q)| DateTime::from_unix(unix, q * 900))
}

pub(crate) fn status() -> impl Strategy<Value = ResultStatus> {
    prop_oneof![
        Just(ResultStatus::Open),
        Just(ResultStatus::Closed),
        "[a-z_]{1,12}".prop_filter_map("known value", |s| {
            (s != "open" && s != "closed").then_some(ResultStatus::Other(s))
        }),
    ]
}

pub(crate) fn user() -> impl Strategy<Value = User> {
    (
        proptest::option::of(positive()),
        proptest::option::of("\\PC{0,20}"),
        proptest::option::of("[a-z@.]{1,20}"),
    )
        .prop_map(|(id, name, email)| {
            let mut u = User::default();
            u.id = id.map(|i| UserId::new(i).unwrap());
            u.name = name;
            u.email = email;
            u
        })
}

pub(crate) fn task_result() -> impl Strategy<Value = TaskResult> {
    (
        (
            positive(),
            proptest::option::of(positive()),
            proptest::option::of("\\PC{0,40}"),
            proptest::option::of(positive()),
        ),
        (
            proptest::option::of(user()),
            proptest::option::of(datetime()),
            proptest::option::of(datetime()),
        ),
        (
            proptest::option::of(status()),
            proptest::option::of(proptest::collection::vec(positive(), 0..4)),
            proptest::option::of((any::<bool>(), any::<bool>())),
            proptest::option::of(positive()),
        ),
    )
        .prop_map(
            |(
                (id, task, text, author_id),
                (author, created, updated),
                (status, files, rights, msg),
            )| {
                let mut r = TaskResult::new(ResultId::new(id).unwrap());
                r.task_id = task.map(|v| TaskId::new(v).unwrap());
                r.text = text;
                r.author_id = author_id.map(|v| UserId::new(v).unwrap());
                r.author = author;
                r.created_at = created;
                r.updated_at = updated;
                r.status = status;
                r.file_ids =
                    files.map(|f| f.into_iter().map(|v| FileId::new(v).unwrap()).collect());
                r.rights = rights.map(|(e, d)| ResultRights::new(e, d));
                r.message_id = msg.map(|v| MessageId::new(v).unwrap());
                r
            },
        )
}

pub(crate) fn error_code() -> impl Strategy<Value = ErrorCode> {
    prop_oneof![
        proptest::sample::select(ErrorCode::KNOWN.to_vec()),
        "[A-Za-z0-9_]{1,40}".prop_map(|s| ErrorCode::from_wire(&s)),
    ]
}

pub(crate) fn api_error() -> impl Strategy<Value = ApiError> {
    (
        100u16..600,
        error_code(),
        "\\PC{0,60}",
        proptest::collection::vec(
            (proptest::option::of("[a-zA-Z.]{1,12}"), "\\PC{0,30}"),
            0..3,
        ),
        any::<bool>(),
    )
        .prop_map(|(status, code, message, validation, v3)| {
            if v3 {
                ApiError::new(status, code, message, ErrorShape::V3).with_validation(
                    validation
                        .into_iter()
                        .map(|(field, message)| match field {
                            Some(f) => ValidationIssue::field(f, message),
                            None => ValidationIssue::general(message),
                        })
                        .collect(),
                )
            } else {
                ApiError::new(status, code, message, ErrorShape::Classic)
            }
        })
}
