//! [`ResultStream`]: every result of a list query, page by page, by keyset.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use b24_core::methods::TaskResultList;
use b24_core::{Api, Method, Portal, RawValue, Repeat};
use b24_types::{ResultId, TaskResult};
use futures_core::Stream;
use serde_json::{json, Map, Value};

use crate::client::Client;
use crate::error::Error;

type PageFuture = Pin<Box<dyn Future<Output = Result<Vec<TaskResult>, Error>> + Send>>;

/// The stream [`TaskResults::list`](crate::TaskResults::list) returns: results in
/// ascending id order, one `Err` at most (the stream ends after it).
///
/// # How paging ends
///
/// Each page is one `tasks.task.result.list` call (paced, retried and budgeted like
/// any other call) asking for the results after the last id seen (`id > last`, order
/// `id ASC`), with the query's limit as the page size.
///
/// - **Only an empty page ends the stream.** A page shorter than the page size does
///   not: portals cap page sizes silently (the server's own cap is
///   [`TaskResultList::MAX_LIMIT`], and a portal may apply a smaller one), so a short
///   page says nothing about what is left. This costs one request more than stopping
///   on a short page: a task with 7 results read 3 at a time takes 4 requests, the last
///   one empty. ([`TaskResultList::page_size`] reads "a page shorter than this is the
///   last one"; this stream deliberately does not rely on that.)
/// - **A page that does not advance is an error.** Results at or before the last id
///   seen are skipped; a non-empty page with nothing after it (a portal ignoring the
///   keyset condition) ends the stream with [`Error::Paging`] instead of asking for
///   the same page forever.
/// - **An error ends the stream** after it is yielded; results yielded before it
///   stand. To resume, start a new list with [`TaskResultList::after_id`] set to the
///   last id received.
/// - [`pages_fetched`](Self::pages_fetched) counts the pages received so far,
///   the final empty one included.
#[must_use = "streams do nothing unless polled"]
pub struct ResultStream {
    client: Client,
    portal: Portal,
    query: TaskResultList,
    last: Option<ResultId>,
    buffered: VecDeque<TaskResult>,
    pending: Option<PageFuture>,
    pages: u64,
    done: bool,
}

impl std::fmt::Debug for ResultStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultStream")
            .field("portal", &self.portal)
            .field("task_id", &self.query.task_id())
            .field("last", &self.last)
            .field("pages", &self.pages)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl ResultStream {
    pub(crate) fn new(client: Client, portal: Portal, query: TaskResultList) -> Self {
        let last = query.after();
        Self {
            client,
            portal,
            query,
            last,
            buffered: VecDeque::new(),
            pending: None,
            pages: 0,
            done: false,
        }
    }

    /// Pages received so far, the final empty one included (a page that failed is not
    /// counted).
    pub fn pages_fetched(&self) -> u64 {
        self.pages
    }

    fn fetch_next(&self) -> PageFuture {
        let page = KeysetPage(match self.last {
            Some(last) => self.query.clone().after_id(last),
            None => self.query.clone(),
        });
        let client = self.client.clone();
        let portal = self.portal.clone();
        Box::pin(async move { Ok(client.execute(&portal, page).await?.result) })
    }

    /// Takes a fetched page; false when the stream is over.
    fn take_page(&mut self, page: Vec<TaskResult>) -> Result<bool, Error> {
        self.pages = self.pages.saturating_add(1);
        if page.is_empty() {
            return Ok(false);
        }
        let mut advanced = false;
        for item in page {
            // Anything at or before the keyset position was seen already.
            if self.last.is_some_and(|last| item.id <= last) {
                continue;
            }
            self.last = Some(item.id);
            advanced = true;
            self.buffered.push_back(item);
        }
        if !advanced {
            return Err(Error::Paging {
                reason: "a page held no result past the previous page",
            });
        }
        Ok(true)
    }
}

impl Stream for ResultStream {
    type Item = Result<TaskResult, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(item) = this.buffered.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            let pending = match &mut this.pending {
                Some(p) => p,
                None => this.pending.insert(this.fetch_next()),
            };
            let outcome = match pending.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(outcome) => outcome,
            };
            this.pending = None;
            match outcome.and_then(|page| this.take_page(page)) {
                Ok(true) => {}
                Ok(false) => this.done = true,
                Err(e) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}

/// A list page ordered by id only, without offset or page: what keyset paging needs
/// whatever order the caller's query had. Every other part of the method (name, API,
/// repeat safety, idempotency and budget hooks, decoding) is the wrapped query's.
struct KeysetPage(TaskResultList);

impl Method for KeysetPage {
    type Output = Vec<TaskResult>;
    fn name(&self) -> &str {
        self.0.name()
    }
    fn api(&self) -> Api {
        self.0.api()
    }
    fn repeat(&self) -> Repeat {
        self.0.repeat()
    }
    fn params(&self) -> Result<Map<String, Value>, b24_core::Error> {
        let mut params = self.0.params()?;
        params.insert("order".to_owned(), json!({ "id": "ASC" }));
        if let Some(Value::Object(pagination)) = params.get_mut("pagination") {
            pagination.remove("offset");
            pagination.remove("page");
            if pagination.is_empty() {
                params.remove("pagination");
            }
        }
        Ok(params)
    }
    fn decode(&self, result: &RawValue) -> Result<Vec<TaskResult>, b24_core::Error> {
        self.0.decode(result)
    }
    fn accepts_bare_result(&self) -> bool {
        self.0.accepts_bare_result()
    }
    fn honours_idempotency_key(&self) -> bool {
        self.0.honours_idempotency_key()
    }
    fn budget_methods(&self) -> Vec<&str> {
        self.0.budget_methods()
    }
}
