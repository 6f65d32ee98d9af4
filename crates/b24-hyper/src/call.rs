//! Running one typed call: [`Client::execute`] and its shorthands.

use b24_core::methods::{BatchV3, RawCall};
use b24_core::{Method, Portal, PreparedCall, Reply};

use crate::client::Client;
use crate::error::Error;

impl Client {
    /// Runs any method against a portal and returns its typed reply.
    ///
    /// # Errors
    ///
    /// [`Error::Core`] for bad input, an API error or an unreadable answer;
    /// [`Error::Transport`] when the request could not be sent or answered.
    pub async fn execute<M>(&self, portal: &Portal, method: M) -> Result<Reply<M::Output>, Error>
    where
        M: Method + Send + Sync,
        M::Output: Send,
    {
        let settings = &self.inner.settings;
        let prepared = PreparedCall::with_user_agent(portal, &method, &settings.user_agent_text)?;
        let deadline = tokio::time::Instant::now() + settings.call_deadline;
        let request = prepared.request(None, None)?;
        let response = crate::transport::send_attempt(&self.inner, request, Some(deadline)).await?;
        Ok(b24_core::parse_response(&method, &response)?)
    }

    /// Runs a method by name with JSON parameters (any REST 3.0 or classic method).
    ///
    /// # Errors
    ///
    /// As [`execute`](Self::execute).
    pub async fn call(
        &self,
        portal: &Portal,
        raw: RawCall,
    ) -> Result<Reply<serde_json::Value>, Error> {
        self.execute(portal, raw).await
    }

    /// Runs a REST 3.0 batch: the results in command order. The portal reports the
    /// first failing command's error for the whole batch.
    ///
    /// # Errors
    ///
    /// As [`execute`](Self::execute).
    pub async fn batch(
        &self,
        portal: &Portal,
        batch: BatchV3,
    ) -> Result<Reply<Vec<serde_json::Value>>, Error> {
        self.execute(portal, batch).await
    }
}
