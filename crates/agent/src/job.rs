//! Long-running work: a task that is aborted when its [`Job`] is dropped,
//! and the stream of updates it sends (queued, progress, finished, failed).
//! Delivery uses it today; transfers will.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Aborts the task when dropped.
#[derive(Debug)]
pub struct AbortOnDrop(pub JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Work under way: its updates, in order; dropping the job stops the work.
#[derive(Debug)]
pub struct Job<U> {
    updates: mpsc::UnboundedReceiver<U>,
    _task: AbortOnDrop,
}

impl<U: Send + 'static> Job<U> {
    /// Runs `work` as a task of its own; it reports through the sender it is given.
    pub fn spawn<F>(work: impl FnOnce(mpsc::UnboundedSender<U>) -> F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (sender, updates) = mpsc::unbounded_channel();
        Self {
            updates,
            _task: AbortOnDrop(tokio::spawn(work(sender))),
        }
    }

    /// The next update; `None` once the work has ended and all were read.
    pub async fn next(&mut self) -> Option<U> {
        self.updates.recv().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn updates_arrive_in_order_and_dropping_the_job_stops_the_work() {
        let mut job = Job::spawn(|updates| async move {
            for n in 0..3 {
                let _ = updates.send(n);
            }
        });
        let mut seen = Vec::new();
        while let Some(n) = job.next().await {
            seen.push(n);
        }
        assert_eq!(seen, [0, 1, 2]);

        let (alive, mut watch) = tokio::sync::watch::channel(());
        let job: Job<()> = Job::spawn(|_| async move {
            let _alive = alive;
            std::future::pending::<()>().await;
        });
        drop(job);
        // The task's end drops its end of the channel.
        let ended = tokio::time::timeout(std::time::Duration::from_secs(5), watch.changed())
            .await
            .expect("the work was stopped");
        assert!(ended.is_err(), "the sender went with the task");
    }
}
