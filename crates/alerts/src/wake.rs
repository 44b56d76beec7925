//! Wake-ups at commit: a connection that LISTENs on the channels the migration's triggers
//! notify (`dampwatch_hazard_inbox` on new inbox rows, `dampwatch_webhook_outbox` on new
//! outbox rows) and wakes the matching loop. The loops also poll, so a lost connection only
//! costs latency, never data.

use std::sync::Arc;

use dampwatch_wire::Backoff;
use futures_util::future::poll_fn;
use tokio::sync::{watch, Notify};
use tokio_postgres::AsyncMessage;
use tokio_util::sync::CancellationToken;

/// Channel notified when readings are committed to the hazard inbox.
pub const HAZARD_INBOX_CHANNEL: &str = "dampwatch_hazard_inbox";
/// Channel notified when webhooks are queued.
pub const WEBHOOK_OUTBOX_CHANNEL: &str = "dampwatch_webhook_outbox";
/// Notified when e-mails are queued (`0410_email_notifications.sql`).
pub const EMAIL_OUTBOX_CHANNEL: &str = "dampwatch_email_outbox";

/// The loops' wake-up signals. The inbox signal is a counter every hazard loop watches, so
/// each loop sees each wake-up even while busy; the sender is a single loop.
#[derive(Debug, Clone)]
pub struct Wakers {
    pub inbox: Arc<watch::Sender<u64>>,
    pub outbox: Arc<Notify>,
    /// The e-mail sender.
    pub email: Arc<Notify>,
}

impl Default for Wakers {
    fn default() -> Self {
        Wakers { inbox: Arc::new(watch::Sender::new(0)), outbox: Arc::default(), email: Arc::default() }
    }
}

impl Wakers {
    /// Readings were committed to the inbox.
    pub fn wake_inbox(&self) {
        self.inbox.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Webhooks were queued.
    pub fn wake_outbox(&self) {
        self.outbox.notify_one();
    }

    pub fn wake_all(&self) {
        self.wake_inbox();
        self.wake_outbox();
        self.email.notify_one();
    }
}

/// Listens until `stop`, reconnecting with back-off after errors.
pub async fn listen(url: String, wakers: Wakers, retry: Backoff, stop: CancellationToken) {
    let mut retries = retry.retries();
    while !stop.is_cancelled() {
        let wait = match listen_once(&url, &wakers, &stop).await {
            Ok(()) => return,
            Err(e) => {
                let wait = retries.next_delay();
                tracing::warn!(error = %e, retry_in = ?wait, "notification listener lost its connection");
                wait
            }
        };
        // Whatever was notified while disconnected is found by polling; wake both now.
        wakers.wake_all();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.cancelled() => return,
        }
    }
}

async fn listen_once(
    url: &str,
    wakers: &Wakers,
    stop: &CancellationToken,
) -> Result<(), tokio_postgres::Error> {
    let mut config: tokio_postgres::Config = url.parse()?;
    let tls = dampwatch_store::tls_connector(&mut config);
    let (client, mut connection) = config.connect(tls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // The connection must be polled for LISTEN to complete and to receive notifications.
    let driver = tokio::spawn(async move {
        loop {
            match poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(message)) => {
                    if tx.send(Ok(message)).is_err() {
                        return;
                    }
                }
                Some(Err(e)) => {
                    let _ = tx.send(Err(e));
                    return;
                }
                None => return,
            }
        }
    });
    let result = async {
        client
            .batch_execute(&format!("LISTEN {HAZARD_INBOX_CHANNEL}; LISTEN {WEBHOOK_OUTBOX_CHANNEL}; LISTEN {EMAIL_OUTBOX_CHANNEL};"))
            .await?;
        // Anything committed before LISTEN took effect is picked up by this first wake-up.
        wakers.wake_all();
        loop {
            tokio::select! {
                message = rx.recv() => match message {
                    Some(Ok(AsyncMessage::Notification(n))) => match n.channel() {
                        HAZARD_INBOX_CHANNEL => wakers.wake_inbox(),
                        WEBHOOK_OUTBOX_CHANNEL => wakers.wake_outbox(),
                        EMAIL_OUTBOX_CHANNEL => wakers.email.notify_one(),
                        _ => {}
                    },
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e),
                    None => return client.simple_query("SELECT 1").await.map(|_| ()),
                },
                _ = stop.cancelled() => return Ok(()),
            }
        }
    }
    .await;
    driver.abort();
    result
}
