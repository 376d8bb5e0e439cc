//! Sending SMS. The development sender writes to an outbox in the store,
//! which the demo shows on a page; a real gateway implements the same trait.

use std::future::Future;
use std::pin::Pin;

use healthcode_store::Store;
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::security::Phone;

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ApiError>> + Send + 'a>>;

pub trait SmsSender: Send + Sync + 'static {
    fn send<'a>(&'a self, to: &'a Phone, body: &'a str, now: OffsetDateTime) -> SendFuture<'a>;
}

/// Keeps messages (to a masked number) in the store's outbox.
#[derive(Clone)]
pub struct OutboxSender<S> {
    store: S,
}

impl<S: Store> OutboxSender<S> {
    pub fn new(store: S) -> Self {
        OutboxSender { store }
    }
}

impl<S: Store> SmsSender for OutboxSender<S> {
    fn send<'a>(&'a self, to: &'a Phone, body: &'a str, now: OffsetDateTime) -> SendFuture<'a> {
        Box::pin(async move {
            self.store.push_outbox(&to.masked(), body, now).await?;
            Ok(())
        })
    }
}
