//! Serialise → deserialise → equal, for every DTO.

use b24_types::{
    ApiError, ChatId, ClassicErrorBody, DateTime, Envelope, ErrorCode, ErrorShape, FileId,
    ItemResult, ItemsResult, MessageId, ResultId, TaskId, TaskResult, Time, UserId, V3ErrorBody,
};
use proptest::prelude::*;

use crate::strategies::*;

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
    let json = serde_json::to_string(value).unwrap();
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

macro_rules! id_props {
    ($($name:ident: $ty:ty,)*) => {$(
        proptest! {
            #[test]
            fn $name(v in positive()) {
                let id = <$ty>::new(v).unwrap();
                prop_assert_eq!(round_trip(&id), id);
                let from_string: $ty = serde_json::from_value(serde_json::Value::String(v.to_string())).unwrap();
                prop_assert_eq!(from_string, id);
                prop_assert_eq!(id.to_string().parse::<$ty>().unwrap(), id);
                prop_assert_eq!(serde_json::to_value(id).unwrap(), serde_json::json!(v));
            }
        }
    )*};
}

id_props! {
    task_id: TaskId,
    result_id: ResultId,
    message_id: MessageId,
    user_id: UserId,
    file_id: FileId,
    chat_id: ChatId,
}

proptest! {
    #[test]
    fn task_result_round_trips(r in task_result()) {
        prop_assert_eq!(round_trip(&r), r.clone());
        let env = Envelope::new(ItemResult::new(r.clone()), None);
        prop_assert_eq!(round_trip(&env), env);
        let list = Envelope::new(ItemsResult::new(vec![r.clone(), r]), None);
        prop_assert_eq!(round_trip(&list), list);
    }

    #[test]
    fn time_round_trips(t in time()) {
        prop_assert_eq!(round_trip(&t), t);
    }

    #[test]
    fn datetime_round_trips(d in datetime()) {
        prop_assert_eq!(round_trip(&d), d.clone());
        let reparsed = DateTime::parse(d.as_str()).unwrap();
        prop_assert_eq!(reparsed.unix_timestamp().unwrap(), d.unix_timestamp().unwrap());
    }

    #[test]
    fn from_unix_never_panics_and_always_parses(unix in any::<i64>(), offset in any::<i32>()) {
        let d = DateTime::from_unix(unix, offset);
        let ts = DateTime::parse(d.as_str()).unwrap().unix_timestamp().unwrap();
        // Inside the four-digit years and with a whole-minute offset the instant is kept.
        if (-62_000_000_000..=253_000_000_000).contains(&unix) && offset.abs() < 86_340 {
            prop_assert_eq!(ts, unix, "{}", d);
        }
    }

    #[test]
    fn error_code_round_trips(c in error_code()) {
        prop_assert_eq!(round_trip(&c), c.clone());
        prop_assert_eq!(c.as_str().parse::<ErrorCode>().unwrap(), c.clone());
        prop_assert_eq!(ErrorCode::from_wire(&c.to_string()), c);
    }

    #[test]
    fn api_error_bodies_round_trip(e in api_error()) {
        let body = e.to_body();
        let back: ApiError = match e.shape {
            ErrorShape::V3 => serde_json::from_value::<V3ErrorBody>(body).unwrap().into_api_error(e.status),
            ErrorShape::Classic => serde_json::from_value::<ClassicErrorBody>(body).unwrap().into_api_error(e.status),
            _ => unreachable!(),
        };
        prop_assert_eq!(back, e);
    }

    #[test]
    fn arbitrary_json_never_panics(s in "\\PC{0,200}") {
        let _ = serde_json::from_str::<TaskResult>(&s);
        let _ = serde_json::from_str::<Time>(&s);
        let _ = serde_json::from_str::<V3ErrorBody>(&s);
        let _ = serde_json::from_str::<ClassicErrorBody>(&s);
        let _ = DateTime::parse(&s).map(|d| d.unix_timestamp());
    }
}
