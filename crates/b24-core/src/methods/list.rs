//! `tasks.task.result.list` (REST 3.0) and its filter, order, select and pagination.
//!
//! A filter is a list of items ANDed together; an item is a condition
//! `[field, op, value]` or a group `{"logic":"or"|"and","negative":bool,"conditions":[...]}`.
//! Operators are exactly `=`, `!=`, `>`, `>=`, `<`, `<=`, `in` and `between`. An `=`
//! condition is sent in the documented short form `[field, value]`.
//!
//! The server requires a `taskId` condition, so a list is built with
//! [`TaskResultList::for_task`] and cannot lack one.

use std::collections::HashSet;

use b24_types::{ResultId, ResultStatus, TaskId, TaskResult, UserId};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use crate::error::{Error, InputError};
use crate::method::Method;
use crate::response::decode_json;

/// The fields a result list can be filtered on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FilterField {
    /// `taskId`.
    TaskId,
    /// `id` (the result id).
    Id,
    /// `authorId`.
    AuthorId,
    /// `status` (`open` / `closed`).
    Status,
    /// `messageId`.
    MessageId,
}

impl FilterField {
    /// Every filterable field.
    pub const ALL: [FilterField; 5] = [
        FilterField::TaskId,
        FilterField::Id,
        FilterField::AuthorId,
        FilterField::Status,
        FilterField::MessageId,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            FilterField::TaskId => "taskId",
            FilterField::Id => "id",
            FilterField::AuthorId => "authorId",
            FilterField::Status => "status",
            FilterField::MessageId => "messageId",
        }
    }

    fn is_status(self) -> bool {
        matches!(self, FilterField::Status)
    }
}

/// A filter operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operator {
    /// `=`.
    Eq,
    /// `!=`.
    Ne,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `in` (value: a non-empty list).
    In,
    /// `between` (value: `[min, max]`).
    Between,
}

impl Operator {
    /// Every operator.
    pub const ALL: [Operator; 8] = [
        Operator::Eq,
        Operator::Ne,
        Operator::Gt,
        Operator::Ge,
        Operator::Lt,
        Operator::Le,
        Operator::In,
        Operator::Between,
    ];

    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Eq => "=",
            Operator::Ne => "!=",
            Operator::Gt => ">",
            Operator::Ge => ">=",
            Operator::Lt => "<",
            Operator::Le => "<=",
            Operator::In => "in",
            Operator::Between => "between",
        }
    }
}

/// One value in a condition: an integer (ids) or a result status.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FilterValue {
    /// An integer (`taskId`, `id`, `authorId`, `messageId`).
    Int(u64),
    /// A status (`status`).
    Status(ResultStatus),
}

impl FilterValue {
    fn to_json(&self) -> Value {
        match self {
            FilterValue::Int(n) => json!(n),
            FilterValue::Status(s) => json!(s.as_str()),
        }
    }
}

impl From<u64> for FilterValue {
    fn from(n: u64) -> Self {
        FilterValue::Int(n)
    }
}
impl From<TaskId> for FilterValue {
    fn from(id: TaskId) -> Self {
        FilterValue::Int(id.get())
    }
}
impl From<ResultId> for FilterValue {
    fn from(id: ResultId) -> Self {
        FilterValue::Int(id.get())
    }
}
impl From<UserId> for FilterValue {
    fn from(id: UserId) -> Self {
        FilterValue::Int(id.get())
    }
}
impl From<b24_types::MessageId> for FilterValue {
    fn from(id: b24_types::MessageId) -> Self {
        FilterValue::Int(id.get())
    }
}
impl From<ResultStatus> for FilterValue {
    fn from(s: ResultStatus) -> Self {
        FilterValue::Status(s)
    }
}

/// The operand of a condition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Operand {
    One(FilterValue),
    Many(Vec<FilterValue>),
    Range(FilterValue, FilterValue),
}

/// A validated condition `[field, op, value]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Condition {
    field: FilterField,
    op: Operator,
    operand: Operand,
}

impl Condition {
    /// A comparison (`=`, `!=`, `>`, `>=`, `<`, `<=`).
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`filter`) when `op` is `in` or `between` (use
    /// [`Condition::one_of`] / [`Condition::between`]), when the value's kind does
    /// not fit the field (a status for `status`, an integer otherwise), or when
    /// `status` is compared with anything but `=` / `!=`.
    pub fn new(
        field: FilterField,
        op: Operator,
        value: impl Into<FilterValue>,
    ) -> Result<Self, InputError> {
        if matches!(op, Operator::In | Operator::Between) {
            return Err(InputError::param(
                "filter",
                "`in` and `between` take several values: use Condition::one_of or Condition::between",
            ));
        }
        let value = value.into();
        check_kind(field, &value)?;
        if field.is_status() && !matches!(op, Operator::Eq | Operator::Ne) {
            return Err(InputError::param(
                "filter",
                "`status` can only be compared with `=` or `!=` (or `in`)",
            ));
        }
        Ok(Self {
            field,
            op,
            operand: Operand::One(value),
        })
    }

    /// `[field, "=", value]`.
    ///
    /// # Errors
    ///
    /// As [`Condition::new`].
    pub fn eq(field: FilterField, value: impl Into<FilterValue>) -> Result<Self, InputError> {
        Self::new(field, Operator::Eq, value)
    }

    /// `[field, "in", [values...]]`.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`filter`) when the list is empty or a value's kind does
    /// not fit the field.
    pub fn one_of<V: Into<FilterValue>>(
        field: FilterField,
        values: impl IntoIterator<Item = V>,
    ) -> Result<Self, InputError> {
        let values: Vec<FilterValue> = values.into_iter().map(Into::into).collect();
        if values.is_empty() {
            return Err(InputError::param("filter", "`in` needs at least one value"));
        }
        for v in &values {
            check_kind(field, v)?;
        }
        Ok(Self {
            field,
            op: Operator::In,
            operand: Operand::Many(values),
        })
    }

    /// `[field, "between", [min, max]]` (inclusive).
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`filter`) for `status`, or when `min > max`.
    pub fn between(
        field: FilterField,
        min: impl Into<FilterValue>,
        max: impl Into<FilterValue>,
    ) -> Result<Self, InputError> {
        let (min, max) = (min.into(), max.into());
        match (&min, &max) {
            (FilterValue::Int(a), FilterValue::Int(b)) if !field.is_status() => {
                if a > b {
                    return Err(InputError::param("filter", "`between` needs min <= max"));
                }
            }
            _ => {
                return Err(InputError::param(
                    "filter",
                    "`between` takes two integers and does not apply to `status`",
                ))
            }
        }
        Ok(Self {
            field,
            op: Operator::Between,
            operand: Operand::Range(min, max),
        })
    }

    /// The field.
    pub fn field(&self) -> FilterField {
        self.field
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.op
    }

    /// The values: one for comparisons, the list for `in`, min and max for `between`.
    pub fn values(&self) -> Vec<&FilterValue> {
        match &self.operand {
            Operand::One(v) => vec![v],
            Operand::Many(vs) => vs.iter().collect(),
            Operand::Range(a, b) => vec![a, b],
        }
    }

    /// The wire form: `[field, value]` for `=`, else `[field, op, value]`.
    pub fn to_json(&self) -> Value {
        let value = match &self.operand {
            Operand::One(v) => v.to_json(),
            Operand::Many(vs) => Value::Array(vs.iter().map(FilterValue::to_json).collect()),
            Operand::Range(a, b) => json!([a.to_json(), b.to_json()]),
        };
        if self.op == Operator::Eq {
            json!([self.field.as_str(), value])
        } else {
            json!([self.field.as_str(), self.op.as_str(), value])
        }
    }
}

fn check_kind(field: FilterField, value: &FilterValue) -> Result<(), InputError> {
    match (field.is_status(), value) {
        (true, FilterValue::Status(_)) | (false, FilterValue::Int(_)) => Ok(()),
        (true, _) => Err(InputError::param(
            "filter",
            "`status` takes a status value (open or closed)",
        )),
        (false, _) => Err(InputError::param(
            "filter",
            format!("`{}` takes an integer value", field.as_str()),
        )),
    }
}

/// How a group combines its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Logic {
    /// All items must hold.
    And,
    /// At least one item must hold.
    Or,
}

impl Logic {
    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Logic::And => "and",
            Logic::Or => "or",
        }
    }
}

/// A filter item: a condition or a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FilterItem {
    /// A condition.
    Condition(Condition),
    /// A group.
    Group(FilterGroup),
}

impl FilterItem {
    fn to_json(&self) -> Value {
        match self {
            FilterItem::Condition(c) => c.to_json(),
            FilterItem::Group(g) => g.to_json(),
        }
    }
}

impl From<Condition> for FilterItem {
    fn from(c: Condition) -> Self {
        FilterItem::Condition(c)
    }
}

impl From<FilterGroup> for FilterItem {
    fn from(g: FilterGroup) -> Self {
        FilterItem::Group(g)
    }
}

/// A group of filter items: `{"logic":"or","negative":false,"conditions":[...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FilterGroup {
    logic: Logic,
    negative: bool,
    items: Vec<FilterItem>,
}

impl FilterGroup {
    /// A group of items joined by `logic`.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`filter`) when there are no items.
    pub fn new<I: Into<FilterItem>>(
        logic: Logic,
        items: impl IntoIterator<Item = I>,
    ) -> Result<Self, InputError> {
        let items: Vec<FilterItem> = items.into_iter().map(Into::into).collect();
        if items.is_empty() {
            return Err(InputError::param(
                "filter",
                "a group needs at least one condition",
            ));
        }
        Ok(Self {
            logic,
            negative: false,
            items,
        })
    }

    /// `or` of the items.
    ///
    /// # Errors
    ///
    /// As [`FilterGroup::new`].
    pub fn any<I: Into<FilterItem>>(
        items: impl IntoIterator<Item = I>,
    ) -> Result<Self, InputError> {
        Self::new(Logic::Or, items)
    }

    /// `and` of the items.
    ///
    /// # Errors
    ///
    /// As [`FilterGroup::new`].
    pub fn all<I: Into<FilterItem>>(
        items: impl IntoIterator<Item = I>,
    ) -> Result<Self, InputError> {
        Self::new(Logic::And, items)
    }

    /// Negates the group (`"negative": true`).
    #[must_use]
    pub fn negate(mut self) -> Self {
        self.negative = !self.negative;
        self
    }

    /// The logic.
    pub fn logic(&self) -> Logic {
        self.logic
    }

    /// True when negated.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// The items.
    pub fn items(&self) -> &[FilterItem] {
        &self.items
    }

    /// The wire form.
    pub fn to_json(&self) -> Value {
        json!({
            "logic": self.logic.as_str(),
            "negative": self.negative,
            "conditions": self.items.iter().map(FilterItem::to_json).collect::<Vec<_>>(),
        })
    }
}

/// The fields a result list can be sorted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SortField {
    /// `id`.
    Id,
    /// `authorId`.
    AuthorId,
    /// `createdAt`.
    CreatedAt,
    /// `updatedAt`.
    UpdatedAt,
    /// `status`.
    Status,
    /// `messageId`.
    MessageId,
}

impl SortField {
    /// Every sortable field.
    pub const ALL: [SortField; 6] = [
        SortField::Id,
        SortField::AuthorId,
        SortField::CreatedAt,
        SortField::UpdatedAt,
        SortField::Status,
        SortField::MessageId,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SortField::Id => "id",
            SortField::AuthorId => "authorId",
            SortField::CreatedAt => "createdAt",
            SortField::UpdatedAt => "updatedAt",
            SortField::Status => "status",
            SortField::MessageId => "messageId",
        }
    }
}

/// A sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

impl Direction {
    /// `ASC` or `DESC`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Asc => "ASC",
            Direction::Desc => "DESC",
        }
    }
}

/// The fields a result list can return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SelectField {
    /// `id`.
    Id,
    /// `taskId`.
    TaskId,
    /// `text`.
    Text,
    /// `authorId`.
    AuthorId,
    /// `author` (the user object; not returned unless selected).
    Author,
    /// `createdAt`.
    CreatedAt,
    /// `updatedAt`.
    UpdatedAt,
    /// `status`.
    Status,
    /// `fileIds`.
    FileIds,
    /// `rights`.
    Rights,
    /// `messageId`.
    MessageId,
}

impl SelectField {
    /// Every selectable field.
    pub const ALL: [SelectField; 11] = [
        SelectField::Id,
        SelectField::TaskId,
        SelectField::Text,
        SelectField::AuthorId,
        SelectField::Author,
        SelectField::CreatedAt,
        SelectField::UpdatedAt,
        SelectField::Status,
        SelectField::FileIds,
        SelectField::Rights,
        SelectField::MessageId,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SelectField::Id => "id",
            SelectField::TaskId => "taskId",
            SelectField::Text => "text",
            SelectField::AuthorId => "authorId",
            SelectField::Author => "author",
            SelectField::CreatedAt => "createdAt",
            SelectField::UpdatedAt => "updatedAt",
            SelectField::Status => "status",
            SelectField::FileIds => "fileIds",
            SelectField::Rights => "rights",
            SelectField::MessageId => "messageId",
        }
    }
}

/// `tasks.task.result.list`: one page of a task's results.
///
/// ```
/// use b24_core::methods::{Condition, Direction, FilterField, SortField, TaskResultList};
/// use b24_core::types::{ResultStatus, TaskId};
///
/// let list = TaskResultList::for_task(TaskId::new(51)?)
///     .filter(Condition::eq(FilterField::Status, ResultStatus::Open)?)
///     .order(SortField::CreatedAt, Direction::Desc)
///     .limit(10)?;
/// assert_eq!(list.page_size(), 10);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct TaskResultList {
    task_id: TaskId,
    filter: Vec<FilterItem>,
    after: Option<ResultId>,
    order: Vec<(SortField, Direction)>,
    select: Vec<SelectField>,
    limit: Option<u32>,
    offset: Option<u64>,
    page: Option<u64>,
}

impl TaskResultList {
    /// The method name.
    pub const NAME: &'static str = "tasks.task.result.list";
    /// The page size the server uses when none is given.
    pub const DEFAULT_LIMIT: u32 = 50;
    /// The largest page size.
    pub const MAX_LIMIT: u32 = 1000;

    /// The results of one task (the required `taskId` condition).
    pub fn for_task(task_id: TaskId) -> Self {
        Self {
            task_id,
            filter: Vec::new(),
            after: None,
            order: Vec::new(),
            select: Vec::new(),
            limit: None,
            offset: None,
            page: None,
        }
    }

    /// Adds a filter item, ANDed with the others.
    pub fn filter(mut self, item: impl Into<FilterItem>) -> Self {
        self.filter.push(item.into());
        self
    }

    /// Sorts by `field` (after any earlier sort keys; a repeated field moves to the end
    /// with its new direction).
    pub fn order(mut self, field: SortField, direction: Direction) -> Self {
        self.order.retain(|(f, _)| *f != field);
        self.order.push((field, direction));
        self
    }

    /// Returns only these fields (duplicates dropped). Without a select the server
    /// returns every field except `author`.
    pub fn select(mut self, fields: impl IntoIterator<Item = SelectField>) -> Self {
        let mut seen: HashSet<SelectField> = self.select.iter().copied().collect();
        for f in fields {
            if seen.insert(f) {
                self.select.push(f);
            }
        }
        self
    }

    /// The page size, 1 to 1000.
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`pagination.limit`) outside 1..=1000.
    pub fn limit(mut self, limit: u32) -> Result<Self, InputError> {
        if limit == 0 || limit > Self::MAX_LIMIT {
            return Err(InputError::param(
                "pagination.limit",
                "must be from 1 to 1000",
            ));
        }
        self.limit = Some(limit);
        Ok(self)
    }

    /// Skips this many results (ignored by the server when a page is given).
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    /// The page number, from 1 (offset = (page - 1) × limit).
    ///
    /// # Errors
    ///
    /// [`InputError::Param`] (`pagination.page`) for page 0.
    pub fn page(mut self, page: u64) -> Result<Self, InputError> {
        if page == 0 {
            return Err(InputError::param("pagination.page", "pages count from 1"));
        }
        self.page = Some(page);
        Ok(self)
    }

    /// Keyset paging: only results with an id greater than `last`, ordered by id
    /// ascending. Replaces an earlier `after_id` and any other sort order, and drops
    /// offset and page. [`KeysetPager`](crate::paging::KeysetPager) pages a whole
    /// list this way.
    pub fn after_id(self, last: ResultId) -> Self {
        self.keyset_page(Some(last))
    }

    /// The keyset form of this query: ordered by id ascending only, without offset or
    /// page, after `last` when given (else after the query's own position, if any).
    pub(crate) fn keyset_page(mut self, last: Option<ResultId>) -> Self {
        if last.is_some() {
            self.after = last;
        }
        self.order = vec![(SortField::Id, Direction::Asc)];
        self.offset = None;
        self.page = None;
        self
    }

    /// The page size that will be asked for (the default 50 when none was set).
    ///
    /// A shorter page does **not** prove the end of the list: portals cap page sizes
    /// silently, below the requested limit. Page with [`after_id`](Self::after_id)
    /// until a page comes back empty, as [`KeysetPager`](crate::paging::KeysetPager)
    /// does.
    pub fn page_size(&self) -> u32 {
        self.limit.unwrap_or(Self::DEFAULT_LIMIT)
    }

    /// The task.
    pub fn task_id(&self) -> TaskId {
        self.task_id
    }

    /// The keyset position, if set.
    pub fn after(&self) -> Option<ResultId> {
        self.after
    }

    /// The filter as sent: the `taskId` condition, the added items, then the keyset
    /// condition.
    pub fn filter_json(&self) -> Value {
        let mut items = Vec::with_capacity(self.filter.len() + 2);
        items.push(json!(["taskId", self.task_id]));
        items.extend(self.filter.iter().map(FilterItem::to_json));
        if let Some(after) = self.after {
            items.push(json!(["id", ">", after]));
        }
        Value::Array(items)
    }
}

impl Method for TaskResultList {
    type Output = Vec<TaskResult>;
    method_identity!(V3, Safe);
    fn params(&self) -> Result<Map<String, Value>, Error> {
        let mut params = Map::new();
        params.insert("filter".to_owned(), self.filter_json());
        if !self.select.is_empty() {
            params.insert(
                "select".to_owned(),
                Value::Array(self.select.iter().map(|f| json!(f.as_str())).collect()),
            );
        }
        if !self.order.is_empty() {
            let order: Map<String, Value> = self
                .order
                .iter()
                .map(|(f, d)| (f.as_str().to_owned(), json!(d.as_str())))
                .collect();
            params.insert("order".to_owned(), Value::Object(order));
        }
        let mut pagination = Map::new();
        if let Some(limit) = self.limit {
            pagination.insert("limit".to_owned(), json!(limit));
        }
        if let Some(offset) = self.offset {
            pagination.insert("offset".to_owned(), json!(offset));
        }
        if let Some(page) = self.page {
            pagination.insert("page".to_owned(), json!(page));
        }
        if !pagination.is_empty() {
            params.insert("pagination".to_owned(), Value::Object(pagination));
        }
        Ok(params)
    }
    fn decode(&self, result: &RawValue) -> Result<Vec<TaskResult>, Error> {
        decode_json::<b24_types::ItemsResult<TaskResult>>(result).map(|r| r.items)
    }
    fn decode_body(&self, body: &[u8]) -> Option<(Vec<TaskResult>, Option<b24_types::Time>)> {
        crate::response::decode_items_body(body)
    }
}
