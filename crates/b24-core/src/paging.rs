//! Keyset paging of `tasks.task.result.list`, without IO: which page to ask for next,
//! which results of an answered page are new, and when the list is over.
//!
//! [`KeysetPager`] holds the policy; a transport only sends the method
//! [`next_page`](KeysetPager::next_page) gives and hands the page's results to
//! [`take_page`](KeysetPager::take_page):
//!
//! ```
//! use b24_core::methods::TaskResultList;
//! use b24_core::paging::KeysetPager;
//! use b24_core::types::{TaskId, TaskResult};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut pager = KeysetPager::new(TaskResultList::for_task(TaskId::new(51)?).limit(3)?);
//! let page = |ids: &[u64]| -> Vec<TaskResult> {
//!     ids.iter()
//!         .map(|id| serde_json::from_value(serde_json::json!({ "id": id })).unwrap())
//!         .collect()
//! };
//! let mut seen = Vec::new();
//! // The portal answers out of order, then with a short page, then with nothing.
//! let mut answers = vec![page(&[5, 3, 4]), page(&[6]), page(&[])].into_iter();
//! while let Some(method) = pager.next_page() {
//!     // A transport sends `method` (a `TaskResultList`) and decodes its result here.
//!     let _ = method;
//!     let items = answers.next().expect("scripted");
//!     seen.extend(pager.take_page(items)?.into_iter().map(|r| r.id.get()));
//! }
//! assert_eq!(seen, [3, 4, 5, 6]);
//! assert_eq!(pager.pages(), 3);
//! # Ok(())
//! # }
//! ```
//!
//! # The rules
//!
//! - Every page asks for the results after the highest id seen so far (`id > last`),
//!   ordered by id ascending, with the query's filter, select and limit; the query's
//!   own order, offset and page are dropped (they would fight the keyset).
//! - From each page, every result above that high-water mark is new: they are
//!   returned in id order, each id once, whatever order the page came in. The mark
//!   then moves to the page's highest id.
//! - **Only an empty page ends the list.** A short page does not: portals cap page
//!   sizes silently, below the limit asked for, so a short page says nothing about
//!   what is left.
//! - A non-empty page with nothing above the mark (a portal ignoring the keyset
//!   condition) is [`PagingError::NoProgress`]: asking again would bring the same page
//!   forever. The pager ends there.

use b24_types::{ResultId, TaskResult};

use crate::methods::TaskResultList;

/// Why keyset paging stopped before an empty page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PagingError {
    /// A page held results, but none with an id above the highest id already seen:
    /// the portal ignored the keyset condition, and asking again would never end.
    /// Results returned before stand; a new list from
    /// [`TaskResultList::after_id`]`(last)` would ask the same question again.
    #[error("a page held no result past id {last}: the list does not advance")]
    NoProgress {
        /// The highest id seen.
        last: ResultId,
    },
    /// A page was handed in after the pager had ended (an empty page or an error):
    /// no page was asked for.
    #[error("the list has ended: no page was asked for")]
    Finished,
}

/// Where the pager is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Another page is to be asked for.
    Paging,
    /// An empty page came back: every result was returned.
    Complete,
    /// Paging stopped on an error.
    Failed,
}

/// Keyset paging of one result list: the policy a result stream follows, as data.
///
/// Made from the caller's query; the query's keyset position
/// ([`TaskResultList::after_id`]), if any, is where it starts. See the
/// [module docs](self) for the rules.
#[derive(Debug, Clone)]
#[must_use]
pub struct KeysetPager {
    query: TaskResultList,
    last: Option<ResultId>,
    pages: u64,
    phase: Phase,
}

impl KeysetPager {
    /// A pager over every result of `query`, after its keyset position if it has one.
    pub fn new(query: TaskResultList) -> Self {
        let last = query.after();
        Self {
            query,
            last,
            pages: 0,
            phase: Phase::Paging,
        }
    }

    /// The method of the next page (`id > last`, order `id ASC`, no offset or page),
    /// or `None` once the list has ended.
    pub fn next_page(&self) -> Option<TaskResultList> {
        match self.phase {
            Phase::Paging => Some(self.query.clone().keyset_page(self.last)),
            Phase::Complete | Phase::Failed => None,
        }
    }

    /// Takes the results of the page last asked for and returns the new ones: every
    /// result with an id above the highest seen before, in id order, each id once. An
    /// empty page ends the list (and returns nothing).
    ///
    /// # Errors
    ///
    /// [`PagingError::NoProgress`] when a non-empty page brings nothing new (the
    /// pager ends); [`PagingError::Finished`] when the pager had already ended.
    pub fn take_page(&mut self, items: Vec<TaskResult>) -> Result<Vec<TaskResult>, PagingError> {
        if self.phase != Phase::Paging {
            return Err(PagingError::Finished);
        }
        self.pages = self.pages.saturating_add(1);
        if items.is_empty() {
            self.phase = Phase::Complete;
            return Ok(items);
        }
        let mut fresh: Vec<TaskResult> = items
            .into_iter()
            .filter(|item| self.last.is_none_or(|last| item.id > last))
            .collect();
        // Stable: of results sharing an id, the first in the page is kept.
        fresh.sort_by_key(|item| item.id);
        fresh.dedup_by_key(|item| item.id);
        match fresh.last() {
            Some(highest) => {
                self.last = Some(highest.id);
                Ok(fresh)
            }
            None => {
                self.phase = Phase::Failed;
                Err(match self.last {
                    Some(last) => PagingError::NoProgress { last },
                    // Unreachable: with no mark every result of a non-empty page is new.
                    None => PagingError::Finished,
                })
            }
        }
    }

    /// The highest id returned so far (or the query's starting position): where a new
    /// list would resume with [`TaskResultList::after_id`].
    pub fn last_id(&self) -> Option<ResultId> {
        self.last
    }

    /// Pages taken so far, the final empty one included.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// True once the list has ended: an empty page, or an error.
    pub fn is_finished(&self) -> bool {
        self.phase != Phase::Paging
    }

    /// The caller's query, as given.
    pub fn query(&self) -> &TaskResultList {
        &self.query
    }
}
