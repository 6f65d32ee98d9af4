//! Keyset paging policy: which page is asked for next, which results of a page are
//! returned, and when paging ends.

use b24_core::methods::{
    Condition, Direction, FilterField, SelectField, SortField, TaskResultList,
};
use b24_core::paging::{KeysetPager, PagingError};
use b24_core::types::{ResultId, ResultStatus, TaskId, TaskResult};
use b24_core::Method;
use proptest::prelude::*;
use serde_json::{json, Value};

fn task() -> TaskId {
    TaskId::new(51).unwrap()
}

fn rid(n: u64) -> ResultId {
    ResultId::new(n).unwrap()
}

fn result(id: u64, text: &str) -> TaskResult {
    serde_json::from_value(json!({ "id": id, "text": text })).unwrap()
}

fn page(ids: &[u64]) -> Vec<TaskResult> {
    ids.iter().map(|id| result(*id, "")).collect()
}

fn ids(items: &[TaskResult]) -> Vec<u64> {
    items.iter().map(|r| r.id.get()).collect()
}

/// The parameters the next page would send.
fn next_params(pager: &KeysetPager) -> Value {
    Value::Object(pager.next_page().expect("a next page").params().unwrap())
}

#[test]
fn an_unsorted_page_gives_every_result_in_id_order() {
    let mut pager = KeysetPager::new(TaskResultList::for_task(task()).limit(3).unwrap());
    let fresh = pager.take_page(page(&[5, 3, 4])).unwrap();
    assert_eq!(ids(&fresh), [3, 4, 5]);
    assert_eq!(pager.last_id(), Some(rid(5)));
    // The next page asks past the page's highest id, not its last one.
    let params = next_params(&pager);
    assert_eq!(params["filter"][1], json!(["id", ">", 5]));
    assert_eq!(params["order"], json!({"id": "ASC"}));
}

#[test]
fn duplicates_within_and_across_pages_are_returned_once() {
    let mut pager = KeysetPager::new(TaskResultList::for_task(task()).limit(4).unwrap());
    let first = vec![
        result(1, "a"),
        result(2, "b"),
        result(2, "b again"),
        result(3, "c"),
    ];
    let fresh = pager.take_page(first).unwrap();
    assert_eq!(ids(&fresh), [1, 2, 3]);
    // Of two results sharing an id, the first in the page is kept.
    assert_eq!(fresh[1].text.as_deref(), Some("b"));
    // A page that repeats results already returned brings only the new ones.
    let fresh = pager.take_page(page(&[3, 2, 4, 4, 6])).unwrap();
    assert_eq!(ids(&fresh), [4, 6]);
    assert_eq!(pager.last_id(), Some(rid(6)));
}

#[test]
fn a_short_page_is_not_the_end() {
    let mut pager = KeysetPager::new(TaskResultList::for_task(task()).limit(5).unwrap());
    assert_eq!(ids(&pager.take_page(page(&[1, 2])).unwrap()), [1, 2]);
    assert!(!pager.is_finished());
    assert_eq!(next_params(&pager)["filter"][1], json!(["id", ">", 2]));
    assert_eq!(ids(&pager.take_page(page(&[3])).unwrap()), [3]);
    assert!(pager.next_page().is_some());
}

#[test]
fn only_an_empty_page_ends_paging() {
    let mut pager = KeysetPager::new(TaskResultList::for_task(task()).limit(3).unwrap());
    let mut seen = Vec::new();
    let mut answers = vec![page(&[1, 2, 3]), page(&[4, 5, 6]), page(&[7]), page(&[])].into_iter();
    while pager.next_page().is_some() {
        seen.extend(ids(&pager.take_page(answers.next().unwrap()).unwrap()));
    }
    assert_eq!(seen, [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(pager.pages(), 4, "3 + 3 + 1, then the empty page");
    assert!(pager.is_finished());
    assert!(answers.next().is_none());
    assert_eq!(pager.take_page(page(&[8])), Err(PagingError::Finished));
    assert_eq!(pager.pages(), 4);
}

#[test]
fn a_page_with_nothing_new_is_a_no_progress_error() {
    let mut pager = KeysetPager::new(TaskResultList::for_task(task()).limit(2).unwrap());
    assert_eq!(ids(&pager.take_page(page(&[1, 2])).unwrap()), [1, 2]);
    // A portal ignoring `id > 2` answers with the same page again.
    let err = pager.take_page(page(&[2, 1])).unwrap_err();
    assert_eq!(err, PagingError::NoProgress { last: rid(2) });
    assert!(err.to_string().contains("past id 2"), "{err}");
    assert!(pager.is_finished());
    assert!(pager.next_page().is_none());
    assert_eq!(pager.pages(), 2);
    assert_eq!(pager.last_id(), Some(rid(2)));
}

#[test]
fn the_first_page_is_in_keyset_form_and_keeps_filter_select_and_limit() {
    let query = TaskResultList::for_task(task())
        .filter(Condition::eq(FilterField::Status, ResultStatus::Open).unwrap())
        .select([SelectField::Id, SelectField::Text])
        .order(SortField::CreatedAt, Direction::Desc)
        .limit(10)
        .unwrap()
        .page(3)
        .unwrap()
        .offset(7);
    let pager = KeysetPager::new(query.clone());
    assert_eq!(pager.query(), &query);
    let params = next_params(&pager);
    assert_eq!(
        params,
        json!({
            "filter": [["taskId", 51], ["status", "open"]],
            "select": ["id", "text"],
            "order": {"id": "ASC"},
            "pagination": {"limit": 10},
        })
    );
}

#[test]
fn a_query_with_a_keyset_position_starts_after_it() {
    let query = TaskResultList::for_task(task()).after_id(rid(40));
    let mut pager = KeysetPager::new(query);
    assert_eq!(pager.last_id(), Some(rid(40)));
    assert_eq!(next_params(&pager)["filter"][1], json!(["id", ">", 40]));
    // Results at or before the position are not returned again.
    assert_eq!(ids(&pager.take_page(page(&[39, 41, 40])).unwrap()), [41]);
    assert_eq!(next_params(&pager)["filter"][1], json!(["id", ">", 41]));
}

#[test]
fn after_id_is_the_same_keyset_form() {
    let query = TaskResultList::for_task(task())
        .order(SortField::Status, Direction::Asc)
        .offset(5)
        .after_id(rid(9));
    let params = Value::Object(query.params().unwrap());
    assert_eq!(params["order"], json!({"id": "ASC"}));
    assert_eq!(params["filter"][1], json!(["id", ">", 9]));
    assert!(params.get("pagination").is_none());
}

proptest! {
    /// Whatever the pages hold, in whatever order: the results returned are strictly
    /// increasing, each above everything seen before, and every id above the mark on a
    /// page is returned.
    #[test]
    fn returned_ids_only_ever_increase(
        pages in prop::collection::vec(prop::collection::vec(1u64..60, 1..8), 1..10),
    ) {
        let mut pager = KeysetPager::new(TaskResultList::for_task(task()));
        let mut returned: Vec<u64> = Vec::new();
        for answer in pages {
            let mark = pager.last_id().map_or(0, ResultId::get);
            let mut expected: Vec<u64> = answer.iter().copied().filter(|id| *id > mark).collect();
            expected.sort_unstable();
            expected.dedup();
            match pager.take_page(page(&answer)) {
                Ok(fresh) => {
                    prop_assert_eq!(ids(&fresh), expected.clone());
                    prop_assert!(!fresh.is_empty());
                    returned.extend(ids(&fresh));
                }
                Err(PagingError::NoProgress { last }) => {
                    prop_assert!(expected.is_empty());
                    prop_assert_eq!(last.get(), mark);
                    prop_assert!(pager.next_page().is_none());
                    break;
                }
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }
        prop_assert!(returned.windows(2).all(|w| w[0] < w[1]), "{returned:?}");
    }
}
