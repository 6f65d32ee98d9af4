//! [`ResultStream`]: every result of a list query, page by page, by keyset.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use b24_core::methods::TaskResultList;
use b24_core::paging::KeysetPager;
use b24_core::Portal;
use b24_types::TaskResult;
use futures_core::Stream;

use crate::client::Client;
use crate::error::Error;

type PageFuture = Pin<Box<dyn Future<Output = Result<Vec<TaskResult>, Error>> + Send>>;

/// The stream [`TaskResults::list`](crate::TaskResults::list) returns: results in
/// ascending id order, one `Err` at most (the stream ends after it).
///
/// # How paging ends
///
/// The paging policy is the core's [`KeysetPager`] (its docs give the rules); this
/// stream only sends the pages it asks for. Each page is one `tasks.task.result.list`
/// call (paced, retried and budgeted like any other call) asking for the results
/// after the highest id seen (`id > last`, order `id ASC`), with the query's limit as
/// the page size.
///
/// - Every result of a page above the highest id seen before is yielded, in id
///   order, each id once, whatever order the portal sent the page in.
/// - **Only an empty page ends the stream.** A page shorter than the page size does
///   not: portals cap page sizes silently (the server's own cap is
///   [`TaskResultList::MAX_LIMIT`], and a portal may apply a smaller one), so a short
///   page says nothing about what is left. This costs one request more than stopping
///   on a short page: a task with 7 results read 3 at a time takes 4 requests, the last
///   one empty.
/// - **A page that does not advance is an error.** A non-empty page with nothing past
///   the highest id seen (a portal ignoring the keyset condition) ends the stream with
///   [`Error::Paging`] instead of asking for the same page forever.
/// - **An error ends the stream** after it is yielded; results yielded before it
///   stand. To resume, start a new list with [`TaskResultList::after_id`] set to the
///   last id received.
/// - [`pages_fetched`](Self::pages_fetched) counts the pages received so far,
///   the final empty one included.
#[must_use = "streams do nothing unless polled"]
pub struct ResultStream {
    client: Client,
    portal: Portal,
    pager: KeysetPager,
    buffered: VecDeque<TaskResult>,
    pending: Option<PageFuture>,
    done: bool,
}

impl std::fmt::Debug for ResultStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultStream")
            .field("portal", &self.portal)
            .field("pager", &self.pager)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl ResultStream {
    pub(crate) fn new(client: Client, portal: Portal, query: TaskResultList) -> Self {
        Self {
            client,
            portal,
            pager: KeysetPager::new(query),
            buffered: VecDeque::new(),
            pending: None,
            done: false,
        }
    }

    /// The next result, `None` once the stream has ended: `while let Some(r) =
    /// stream.next().await`. The same as `StreamExt::next` (the stream also
    /// implements `futures_core::Stream`), without importing a stream extension.
    pub async fn next(&mut self) -> Option<Result<TaskResult, Error>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Every remaining result, or the error that ended the stream (the results read
    /// before it are dropped; use [`next`](Self::next) to keep them).
    ///
    /// # Errors
    ///
    /// The first error the stream yields.
    pub async fn collect_all(mut self) -> Result<Vec<TaskResult>, Error> {
        let mut all = Vec::new();
        while let Some(item) = self.next().await {
            all.push(item?);
        }
        Ok(all)
    }

    /// Pages received so far, the final empty one included (a page that failed is not
    /// counted).
    pub fn pages_fetched(&self) -> u64 {
        self.pager.pages()
    }

    /// The next page's call, or `None` when the pager has ended.
    fn fetch_next(&self) -> Option<PageFuture> {
        let page = self.pager.next_page()?;
        let client = self.client.clone();
        let portal = self.portal.clone();
        Some(Box::pin(async move {
            Ok(client.execute(&portal, page).await?.result)
        }))
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
                None => match this.fetch_next() {
                    Some(next) => this.pending.insert(next),
                    None => {
                        this.done = true;
                        continue;
                    }
                },
            };
            let outcome = match pending.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(outcome) => outcome,
            };
            this.pending = None;
            let taken = outcome.and_then(|page| this.pager.take_page(page).map_err(Error::from));
            match taken {
                Ok(fresh) => this.buffered.extend(fresh),
                Err(e) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}
