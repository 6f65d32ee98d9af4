//! `event.bind`, `event.unbind`, `event.get` and the offline queue
//! (`event.offline.get`, `.clear`, `.error`, `.list`), all classic.
//!
//! Every one of them needs OAuth app authorization: an incoming webhook gets
//! `WRONG_AUTH_TYPE`. The offline methods also need a portal administrator.

use b24_types::events::{
    EventBinding, OfflineBatch, OfflineEvent, OfflineMessageId, ProcessId, UnbindResult,
};
use b24_types::{OfflineEventId, UserId};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use super::text::decode_bool;
use crate::error::{Error, InputError};
use crate::method::Method;
use crate::response::decode_json;

/// Checks and upper-cases an event name (`onTaskCommentAdd` → `ONTASKCOMMENTADD`).
fn event_name(name: &str) -> Result<String, InputError> {
    let name = name.trim();
    if name.is_empty()
        || name.len() > 128
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(InputError::param(
            "event",
            "an event name is 1 to 128 ASCII letters, digits and `_`",
        ));
    }
    Ok(name.to_ascii_uppercase())
}

/// Checks a handler URL: absolute `http` or `https` with a host.
fn handler_url(url: &str) -> Result<String, InputError> {
    let url = url.trim();
    let bad = || InputError::param("handler", "must be an absolute http or https URL");
    let uri: http::Uri = url.parse().map_err(|_| bad())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let host_ok = uri.host().is_some_and(|h| !h.is_empty());
    if scheme_ok && host_ok {
        Ok(url.to_owned())
    } else {
        Err(bad())
    }
}

/// Checks a process id: 1 to 255 printable ASCII characters.
fn process_id(id: &ProcessId) -> Result<(), InputError> {
    let s = id.as_str();
    if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(InputError::param(
            "process_id",
            "a process id is 1 to 255 printable ASCII characters",
        ));
    }
    Ok(())
}

/// Checks offline message ids: the portal takes exactly 32 characters each.
fn message_ids(field: &str, ids: &[OfflineMessageId]) -> Result<(), InputError> {
    if ids.iter().any(|m| m.as_str().trim().chars().count() != 32) {
        return Err(InputError::param(
            field,
            "an offline MESSAGE_ID is exactly 32 characters",
        ));
    }
    Ok(())
}

/// `event.bind`: binds a handler URL (online) or the offline queue to an event.
///
/// Body: `{"event":"ONTASKCOMMENTADD","handler":"https://..","event_type":"online"}`.
/// Output: `true`. Binding the same handler twice is refused with `ERROR_CORE`
/// ("Handler already binded"). Bindings are removed when the app is reinstalled or
/// updated, so bind again in each version's installer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventBind {
    event: String,
    handler: Option<String>,
    auth_type: Option<UserId>,
    connector: Option<String>,
}

impl EventBind {
    /// The method name.
    pub const NAME: &'static str = "event.bind";

    /// Binds `handler` (an absolute `http`/`https` URL the portal can reach) to
    /// `event`: the portal POSTs every occurrence there.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] for an invalid event name or handler URL.
    pub fn online(event: &str, handler: &str) -> Result<Self, InputError> {
        Ok(Self {
            event: event_name(event)?,
            handler: Some(handler_url(handler)?),
            auth_type: None,
            connector: None,
        })
    }

    /// Binds the offline queue to `event`: occurrences wait for
    /// [`EventOfflineGet`]. Needs a portal administrator.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] for an invalid event name.
    pub fn offline(event: &str) -> Result<Self, InputError> {
        Ok(Self {
            event: event_name(event)?,
            handler: None,
            auth_type: None,
            connector: None,
        })
    }

    /// Sends the tokens of this user with every event (`auth_type`), rather than
    /// those of the user whose action fired it. A non-administrator may name only
    /// themselves.
    pub fn auth_type(mut self, user: UserId) -> Self {
        self.auth_type = Some(user);
        self
    }

    /// Offline only: a separate queue for this connector (`auth_connector`).
    /// Changes your app makes with the same connector are not queued to it.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] for an empty connector or one of more than 255
    /// characters.
    pub fn connector(mut self, connector: &str) -> Result<Self, InputError> {
        if connector.is_empty() || connector.len() > 255 {
            return Err(InputError::param(
                "auth_connector",
                "a connector is 1 to 255 characters",
            ));
        }
        self.connector = Some(connector.to_owned());
        Ok(self)
    }

    /// The event name (upper case).
    pub fn event(&self) -> &str {
        &self.event
    }

    /// The handler URL, for an online binding.
    pub fn handler(&self) -> Option<&str> {
        self.handler.as_deref()
    }
}

impl Method for EventBind {
    type Output = bool;
    method_identity!(Classic, Unsafe);
    fn params(&self) -> Result<Map<String, Value>, Error> {
        let mut p = Map::new();
        p.insert("event".to_owned(), json!(self.event));
        match &self.handler {
            Some(h) => {
                p.insert("handler".to_owned(), json!(h));
                p.insert("event_type".to_owned(), json!("online"));
            }
            None => {
                p.insert("event_type".to_owned(), json!("offline"));
            }
        }
        if let Some(user) = self.auth_type {
            p.insert("auth_type".to_owned(), json!(user));
        }
        if let Some(c) = &self.connector {
            p.insert("auth_connector".to_owned(), json!(c));
        }
        Ok(p)
    }
    fn decode(&self, result: &RawValue) -> Result<bool, Error> {
        decode_bool(result)
    }
}

/// `event.unbind`: removes bindings. Output: how many were removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventUnbind {
    event: String,
    handler: Option<String>,
    auth_type: Option<UserId>,
}

impl EventUnbind {
    /// The method name.
    pub const NAME: &'static str = "event.unbind";

    /// Removes the online binding of `handler` to `event`.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] for an invalid event name or handler URL.
    pub fn online(event: &str, handler: &str) -> Result<Self, InputError> {
        Ok(Self {
            event: event_name(event)?,
            handler: Some(handler_url(handler)?),
            auth_type: None,
        })
    }

    /// Removes the offline binding of `event`.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] for an invalid event name.
    pub fn offline(event: &str) -> Result<Self, InputError> {
        Ok(Self {
            event: event_name(event)?,
            handler: None,
            auth_type: None,
        })
    }

    /// Only the binding made with this `auth_type`.
    pub fn auth_type(mut self, user: UserId) -> Self {
        self.auth_type = Some(user);
        self
    }
}

impl Method for EventUnbind {
    type Output = UnbindResult;
    // Removing what is already gone changes nothing.
    method_identity!(Classic, Safe);
    fn params(&self) -> Result<Map<String, Value>, Error> {
        let mut p = Map::new();
        p.insert("event".to_owned(), json!(self.event));
        match &self.handler {
            Some(h) => {
                p.insert("handler".to_owned(), json!(h));
                p.insert("event_type".to_owned(), json!("online"));
            }
            None => {
                p.insert("event_type".to_owned(), json!("offline"));
            }
        }
        if let Some(user) = self.auth_type {
            p.insert("auth_type".to_owned(), json!(user));
        }
        Ok(p)
    }
    fn decode(&self, result: &RawValue) -> Result<UnbindResult, Error> {
        decode_json(result)
    }
}

/// `event.get`: the app's bindings (a non-administrator sees their own).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventGet;

impl EventGet {
    /// The method name.
    pub const NAME: &'static str = "event.get";

    /// The call.
    pub fn new() -> Self {
        Self
    }
}

impl Method for EventGet {
    type Output = Vec<EventBinding>;
    method_identity!(Classic, Safe);
    fn params(&self) -> Result<Map<String, Value>, Error> {
        Ok(Map::new())
    }
    fn decode(&self, result: &RawValue) -> Result<Vec<EventBinding>, Error> {
        decode_json(result)
    }
}

/// The fields the offline methods filter and order by.
const OFFLINE_FIELDS: [&str; 4] = ["ID", "TIMESTAMP_X", "EVENT_NAME", "MESSAGE_ID"];
/// `event.offline.list` also takes these.
const OFFLINE_LIST_FIELDS: [&str; 6] = [
    "ID",
    "TIMESTAMP_X",
    "EVENT_NAME",
    "MESSAGE_ID",
    "PROCESS_ID",
    "ERROR",
];

/// Checks a filter key: an optional operator (`=`, `!`, `>`, `>=`, `<`, `<=`, `!=`,
/// `%`) and one of `fields`.
fn filter_key(key: &str, fields: &[&str]) -> Result<String, InputError> {
    let field = key.trim_start_matches(['=', '!', '<', '>', '%', '@']);
    let op_len = key.len() - field.len();
    let field_upper = field.to_ascii_uppercase();
    if op_len > 2 || !fields.contains(&field_upper.as_str()) {
        return Err(InputError::param(
            "filter",
            format!(
                "a filter key is an optional operator and one of {}",
                fields.join(", ")
            ),
        ));
    }
    Ok(format!(
        "{}{field_upper}",
        key.get(..op_len).unwrap_or_default()
    ))
}

/// A filter value: a string, number or boolean.
fn filter_value(value: Value) -> Result<Value, InputError> {
    match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(value),
        _ => Err(InputError::param(
            "filter",
            "a filter value is a string or a number",
        )),
    }
}

/// Ascending or descending, for the offline methods' `order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OfflineOrder {
    /// `ASC`.
    Asc,
    /// `DESC`.
    Desc,
}

impl OfflineOrder {
    fn as_str(self) -> &'static str {
        match self {
            OfflineOrder::Asc => "ASC",
            OfflineOrder::Desc => "DESC",
        }
    }
}

/// How [`EventOfflineGet`] treats the rows it returns.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Take {
    /// `clear=1`: delete them as they are read (at most once).
    Delete,
    /// `clear=0`: reserve them under a new process id.
    Reserve,
    /// `process_id=..&clear=0`: read a reserved batch again.
    Reread(ProcessId),
}

/// `event.offline.get`: takes the next rows of the app's offline queue.
///
/// Three ways, one per constructor:
///
/// - [`EventOfflineGet::reserve`] (`clear=0`): the rows are hidden from other calls
///   under a new `process_id` and stay queued until
///   [`EventOfflineClear`] names that batch. This is the at-least-once way: keep the
///   process id until the batch is handled and cleared. On the cloud it needs the
///   `rest_offline_extended` feature (`WRONG_LICENSE` otherwise).
/// - [`EventOfflineGet::take`] (`clear=1`, the portal's default): the rows are
///   deleted as they are read, so a crash before they are handled loses them.
/// - [`EventOfflineGet::reread`] (`process_id` with `clear=0`): reads a reserved
///   batch again, say after a crash. Without `clear=0` the portal would delete the
///   batch as it reads it.
///
/// Concurrent calls get disjoint batches. Output: `{process_id, events}`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventOfflineGet {
    take: Take,
    limit: Option<u32>,
    errors: bool,
    filter: Map<String, Value>,
    order: Vec<(String, OfflineOrder)>,
}

impl EventOfflineGet {
    /// The method name.
    pub const NAME: &'static str = "event.offline.get";

    fn with(take: Take) -> Self {
        Self {
            take,
            limit: None,
            errors: false,
            filter: Map::new(),
            order: Vec::new(),
        }
    }

    /// Reserves the next rows under a new process id (`clear=0`).
    pub fn reserve() -> Self {
        Self::with(Take::Reserve)
    }

    /// Takes and deletes the next rows (`clear=1`): at most once.
    pub fn take() -> Self {
        Self::with(Take::Delete)
    }

    /// Reads the reserved batch `process_id` again, keeping it (`clear=0`).
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`process_id`) for an empty or malformed id.
    pub fn reread(process_id: ProcessId) -> Result<Self, InputError> {
        self::process_id(&process_id)?;
        Ok(Self::with(Take::Reread(process_id)))
    }

    /// At most `limit` rows (the portal's default is 50).
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`limit`) for 0.
    pub fn limit(mut self, limit: u32) -> Result<Self, InputError> {
        if limit == 0 {
            return Err(InputError::param("limit", "must be positive"));
        }
        self.limit = Some(limit);
        Ok(self)
    }

    /// Rows marked as failed with [`EventOfflineError`] (`error=1`) instead of the
    /// others.
    pub fn errors(mut self, errors: bool) -> Self {
        self.errors = errors;
        self
    }

    /// Only rows of this event (`filter[=EVENT_NAME]`).
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] for an invalid event name.
    pub fn event(self, name: &str) -> Result<Self, InputError> {
        let name = event_name(name)?;
        self.filter("=EVENT_NAME", name)
    }

    /// A filter condition: an operator and one of `ID`, `TIMESTAMP_X`, `EVENT_NAME`,
    /// `MESSAGE_ID` (`">ID"`, `"=EVENT_NAME"`), and a string or number.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`filter`) for another field or a list or map value.
    pub fn filter(mut self, key: &str, value: impl Into<Value>) -> Result<Self, InputError> {
        let key = filter_key(key, &OFFLINE_FIELDS)?;
        self.filter.insert(key, filter_value(value.into())?);
        Ok(self)
    }

    /// Sorts by one of `ID`, `TIMESTAMP_X`, `EVENT_NAME`, `MESSAGE_ID` (the
    /// portal's default is `TIMESTAMP_X` ascending).
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`order`) for another field.
    pub fn order(mut self, field: &str, direction: OfflineOrder) -> Result<Self, InputError> {
        let upper = field.to_ascii_uppercase();
        if !OFFLINE_FIELDS.contains(&upper.as_str()) {
            return Err(InputError::param(
                "order",
                "order by ID, TIMESTAMP_X, EVENT_NAME or MESSAGE_ID",
            ));
        }
        self.order.push((upper, direction));
        Ok(self)
    }

    /// The batch read again, for [`EventOfflineGet::reread`].
    pub fn process_id(&self) -> Option<&ProcessId> {
        match &self.take {
            Take::Reread(p) => Some(p),
            Take::Delete | Take::Reserve => None,
        }
    }

    /// True when the rows stay queued until cleared (`clear=0`).
    pub fn keeps_rows(&self) -> bool {
        !matches!(self.take, Take::Delete)
    }
}

impl Method for EventOfflineGet {
    type Output = OfflineBatch;
    fn name(&self) -> &str {
        Self::NAME
    }
    fn api(&self) -> crate::api::Api {
        crate::api::Api::Classic
    }
    fn repeat(&self) -> crate::method::Repeat {
        // Taking or reserving rows changes the queue: a repeat takes another batch,
        // and the one the lost answer held is deleted or hidden. Reading a reserved
        // batch again changes nothing.
        match self.take {
            Take::Reread(_) => crate::method::Repeat::Safe,
            Take::Delete | Take::Reserve => crate::method::Repeat::Unsafe,
        }
    }
    fn params(&self) -> Result<Map<String, Value>, Error> {
        let mut p = Map::new();
        match &self.take {
            Take::Delete => {
                p.insert("clear".to_owned(), json!(1));
            }
            Take::Reserve => {
                p.insert("clear".to_owned(), json!(0));
            }
            Take::Reread(id) => {
                p.insert("clear".to_owned(), json!(0));
                p.insert("process_id".to_owned(), json!(id.as_str()));
            }
        }
        if let Some(limit) = self.limit {
            p.insert("limit".to_owned(), json!(limit));
        }
        if self.errors {
            p.insert("error".to_owned(), json!(1));
        }
        if !self.filter.is_empty() {
            p.insert("filter".to_owned(), Value::Object(self.filter.clone()));
        }
        if !self.order.is_empty() {
            let order: Map<String, Value> = self
                .order
                .iter()
                .map(|(f, d)| (f.clone(), json!(d.as_str())))
                .collect();
            p.insert("order".to_owned(), Value::Object(order));
        }
        Ok(p)
    }
    fn decode(&self, result: &RawValue) -> Result<OfflineBatch, Error> {
        decode_json(result)
    }
}

/// `event.offline.clear`: deletes a reserved batch once it is handled, or some of
/// its rows. Output: `true`. Clearing a batch twice is harmless.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventOfflineClear {
    process_id: ProcessId,
    ids: Vec<OfflineEventId>,
    message_ids: Vec<OfflineMessageId>,
}

impl EventOfflineClear {
    /// The method name.
    pub const NAME: &'static str = "event.offline.clear";

    /// Clears the whole batch `process_id`.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`process_id`) for an empty or malformed id.
    pub fn batch(process_id: ProcessId) -> Result<Self, InputError> {
        self::process_id(&process_id)?;
        Ok(Self {
            process_id,
            ids: Vec::new(),
            message_ids: Vec::new(),
        })
    }

    /// Clears only these rows of the batch (`id[]`).
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`id`) for an empty list, or when message ids were given
    /// too (the portal would ignore one of the two lists).
    pub fn rows(
        mut self,
        ids: impl IntoIterator<Item = OfflineEventId>,
    ) -> Result<Self, InputError> {
        self.ids = ids.into_iter().collect();
        if self.ids.is_empty() {
            return Err(InputError::param("id", "name at least one row"));
        }
        if !self.message_ids.is_empty() {
            return Err(InputError::param(
                "id",
                "give row ids or message ids, not both",
            ));
        }
        Ok(self)
    }

    /// Clears only the rows with these `MESSAGE_ID`s (`message_id[]`).
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`message_id`) for an empty list, an id that is not 32
    /// characters, or when row ids were given too.
    pub fn messages(
        mut self,
        ids: impl IntoIterator<Item = OfflineMessageId>,
    ) -> Result<Self, InputError> {
        self.message_ids = ids.into_iter().collect();
        if self.message_ids.is_empty() {
            return Err(InputError::param("message_id", "name at least one message"));
        }
        message_ids("message_id", &self.message_ids)?;
        if !self.ids.is_empty() {
            return Err(InputError::param(
                "message_id",
                "give row ids or message ids, not both",
            ));
        }
        Ok(self)
    }

    /// The batch.
    pub fn process_id(&self) -> &ProcessId {
        &self.process_id
    }
}

impl Method for EventOfflineClear {
    type Output = bool;
    method_identity!(Classic, Safe);
    fn params(&self) -> Result<Map<String, Value>, Error> {
        let mut p = Map::new();
        p.insert("process_id".to_owned(), json!(self.process_id.as_str()));
        if !self.ids.is_empty() {
            p.insert("id".to_owned(), json!(self.ids));
        }
        if !self.message_ids.is_empty() {
            p.insert("message_id".to_owned(), json!(self.message_ids));
        }
        Ok(p)
    }
    fn decode(&self, result: &RawValue) -> Result<bool, Error> {
        decode_bool(result)
    }
}

/// `event.offline.error`: marks rows of a batch as failed. They leave the batch and
/// are returned only by [`EventOfflineGet::errors`]. Output: `true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventOfflineError {
    process_id: ProcessId,
    message_ids: Vec<OfflineMessageId>,
}

impl EventOfflineError {
    /// The method name.
    pub const NAME: &'static str = "event.offline.error";

    /// Marks the rows with these `MESSAGE_ID`s of batch `process_id` as failed.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] for a malformed process id, an empty list, or an id
    /// that is not 32 characters.
    pub fn new(
        process_id: ProcessId,
        ids: impl IntoIterator<Item = OfflineMessageId>,
    ) -> Result<Self, InputError> {
        self::process_id(&process_id)?;
        let message_ids: Vec<OfflineMessageId> = ids.into_iter().collect();
        if message_ids.is_empty() {
            return Err(InputError::param("message_id", "name at least one message"));
        }
        message_ids_ok(&message_ids)?;
        Ok(Self {
            process_id,
            message_ids,
        })
    }
}

fn message_ids_ok(ids: &[OfflineMessageId]) -> Result<(), InputError> {
    message_ids("message_id", ids)
}

impl Method for EventOfflineError {
    type Output = bool;
    method_identity!(Classic, Safe);
    fn params(&self) -> Result<Map<String, Value>, Error> {
        let mut p = Map::new();
        p.insert("process_id".to_owned(), json!(self.process_id.as_str()));
        p.insert("message_id".to_owned(), json!(self.message_ids));
        Ok(p)
    }
    fn decode(&self, result: &RawValue) -> Result<bool, Error> {
        decode_bool(result)
    }
}

/// `event.offline.list`: reads the queue without taking anything, 50 rows a page,
/// reserved and failed rows included (with `PROCESS_ID` and `ERROR`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventOfflineList {
    filter: Map<String, Value>,
    order: Vec<(String, OfflineOrder)>,
    start: Option<u64>,
}

impl EventOfflineList {
    /// The method name.
    pub const NAME: &'static str = "event.offline.list";

    /// The first page, by `ID` ascending.
    pub fn new() -> Self {
        Self::default()
    }

    /// A filter condition on `ID`, `TIMESTAMP_X`, `EVENT_NAME`, `MESSAGE_ID`,
    /// `PROCESS_ID` or `ERROR`, with an optional operator (`"!PROCESS_ID"`).
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`filter`) for another field or a list or map value.
    pub fn filter(mut self, key: &str, value: impl Into<Value>) -> Result<Self, InputError> {
        let key = filter_key(key, &OFFLINE_LIST_FIELDS)?;
        self.filter.insert(key, filter_value(value.into())?);
        Ok(self)
    }

    /// Sorts by one of the filter fields.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`order`) for another field.
    pub fn order(mut self, field: &str, direction: OfflineOrder) -> Result<Self, InputError> {
        let upper = field.to_ascii_uppercase();
        if !OFFLINE_LIST_FIELDS.contains(&upper.as_str()) {
            return Err(InputError::param(
                "order",
                "not a field of the offline queue",
            ));
        }
        self.order.push((upper, direction));
        Ok(self)
    }

    /// Starts at row `start` of the result (pages of 50).
    pub fn start(mut self, start: u64) -> Self {
        self.start = Some(start);
        self
    }
}

impl Method for EventOfflineList {
    type Output = Vec<OfflineEvent>;
    method_identity!(Classic, Safe);
    fn params(&self) -> Result<Map<String, Value>, Error> {
        let mut p = Map::new();
        if !self.filter.is_empty() {
            p.insert("filter".to_owned(), Value::Object(self.filter.clone()));
        }
        if !self.order.is_empty() {
            let order: Map<String, Value> = self
                .order
                .iter()
                .map(|(f, d)| (f.clone(), json!(d.as_str())))
                .collect();
            p.insert("order".to_owned(), Value::Object(order));
        }
        if let Some(start) = self.start {
            p.insert("start".to_owned(), json!(start));
        }
        Ok(p)
    }
    fn decode(&self, result: &RawValue) -> Result<Vec<OfflineEvent>, Error> {
        decode_json(result)
    }
}
