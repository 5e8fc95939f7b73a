//! The bot's outgoing messages: one ordered queue per chat, each drained by its own task, so
//! a chat that must wait (for its pace, or a 429 about it) never holds up an update of
//! another person, and a handler is free for the next update as soon as its replies are
//! queued. A chat's task ends when its queue is empty; nothing is kept for quiet chats.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::Notify;

use super::pace::{Pacer, SendLimits};

/// Something to send to one chat, in its turn.
type Job = BoxFuture<'static, ()>;

/// Every chat's queue of messages still to send.
pub struct SendQueue {
    pacer: Arc<Pacer>,
    /// Sends inside the handler instead of on a chat's task: for handler tests, whose fake
    /// Bot API collects what a handler sent when it returns.
    inline: bool,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// The jobs waiting behind the one running, for each chat with a task.
    chats: Mutex<HashMap<i64, VecDeque<Job>>>,
    /// Jobs queued or running.
    pending: AtomicUsize,
    /// Told whenever a job ends.
    finished: Notify,
}

impl SendQueue {
    /// Queues on each chat's own task, paced within `limits` (`None` only for load tests).
    pub fn new(limits: Option<SendLimits>) -> SendQueue {
        SendQueue::with_pacer(Pacer::new(limits))
    }

    /// Queues on each chat's own task, paced by `pacer`.
    pub fn with_pacer(pacer: Pacer) -> SendQueue {
        SendQueue {
            pacer: Arc::new(pacer),
            inline: false,
            shared: Arc::default(),
        }
    }

    /// Sends within the handler, unpaced: for handler tests only.
    pub fn inline() -> SendQueue {
        SendQueue {
            inline: true,
            ..SendQueue::new(None)
        }
    }

    /// When each message may leave.
    pub fn pacer(&self) -> Arc<Pacer> {
        Arc::clone(&self.pacer)
    }

    /// Runs `job` after every job queued before it for `chat`. Returns once it is queued
    /// (or, inline, once it has run).
    pub async fn push(&self, chat: i64, job: impl Future<Output = ()> + Send + 'static) {
        let job: Job = Box::pin(AssertUnwindSafe(job).catch_unwind().map(|outcome| {
            if outcome.is_err() {
                log::error!("event=send_panicked");
            }
        }));
        if self.inline {
            return job.await;
        }
        self.shared.pending.fetch_add(1, Ordering::SeqCst);
        let mut chats = lock(&self.shared.chats);
        if let Some(waiting) = chats.get_mut(&chat) {
            waiting.push_back(job);
            return;
        }
        chats.insert(chat, VecDeque::new());
        drop(chats);
        let shared = Arc::clone(&self.shared);
        tokio::spawn(async move {
            let mut job = job;
            loop {
                job.await;
                shared.pending.fetch_sub(1, Ordering::SeqCst);
                shared.finished.notify_waiters();
                let mut chats = lock(&shared.chats);
                match chats.get_mut(&chat).and_then(VecDeque::pop_front) {
                    Some(next) => job = next,
                    None => {
                        chats.remove(&chat);
                        return;
                    }
                }
            }
        });
    }

    /// How many jobs are queued or running.
    pub fn pending(&self) -> usize {
        self.shared.pending.load(Ordering::SeqCst)
    }

    /// Resolves once every queued job has run.
    pub async fn idle(&self) {
        loop {
            let finished = self.shared.finished.notified();
            if self.pending() == 0 {
                return;
            }
            finished.await;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Jobs run outside the lock, so a poisoned one only ever held a consistent map.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_chat_s_jobs_run_in_order_and_a_slow_chat_does_not_hold_up_another() {
        let queue = SendQueue::new(None);
        let log = Arc::new(Mutex::new(Vec::new()));
        for (chat, name, wait) in [(1, "a1", 200), (1, "a2", 0), (2, "b1", 0)] {
            let log = Arc::clone(&log);
            queue
                .push(chat, async move {
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                    log.lock().unwrap().push(name);
                })
                .await;
        }
        queue.idle().await;
        assert_eq!(*log.lock().unwrap(), ["b1", "a1", "a2"]);
        assert_eq!(queue.pending(), 0);
        assert!(lock(&queue.shared.chats).is_empty());
    }

    #[tokio::test]
    async fn a_panicking_job_does_not_stop_its_chat() {
        let queue = SendQueue::new(None);
        let ran = Arc::new(AtomicUsize::new(0));
        queue.push(1, async { panic!("a bug in one send") }).await;
        let counter = Arc::clone(&ran);
        queue
            .push(1, async move {
                counter.fetch_add(1, Ordering::SeqCst);
            })
            .await;
        queue.idle().await;
        assert_eq!(ran.load(Ordering::SeqCst), 1);
    }
}
