//! The store for async code: one writer connection and a few readers, each
//! behind a mutex and used only inside `spawn_blocking`, so a slow fsync or
//! a busy lock never stalls a runtime thread. Callers wait for a free
//! connection on a semaphore (asynchronously), so no more blocking threads
//! are taken than there are connections. WAL lets the readers see every
//! committed write while the writer works.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::store::{Meta, Store, StoreError};

/// The shared database handle.
#[derive(Debug, Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    writer: Mutex<Store>,
    readers: Vec<Mutex<Store>>,
    /// A connection of its own that notices any commit by any process, and
    /// the `data_version` it saw last.
    watcher: Mutex<(Store, i64)>,
    next_reader: AtomicUsize,
    /// One permit per connection: callers queue here, asynchronously,
    /// rather than as blocked threads on the mutexes.
    write_slots: Arc<Semaphore>,
    read_slots: Arc<Semaphore>,
}

impl Db {
    /// Opens the writer (migrating) and `readers` read-only connections;
    /// also returns the domain's settings.
    pub fn open(path: &Path, readers: usize) -> Result<(Self, Meta), StoreError> {
        if !path.exists() {
            return Err(StoreError::NotInitialised);
        }
        let writer = Store::open(path)?;
        let meta = writer.meta()?;
        let readers: Vec<_> = (0..readers.max(1))
            .map(|_| Store::open_reader(path).map(Mutex::new))
            .collect::<Result<_, _>>()?;
        let watcher = Store::open_reader(path)?;
        let version = watcher.data_version()?;
        let db = Self {
            inner: Arc::new(Inner {
                watcher: Mutex::new((watcher, version)),
                writer: Mutex::new(writer),
                read_slots: Arc::new(Semaphore::new(readers.len())),
                readers,
                next_reader: AtomicUsize::new(0),
                write_slots: Arc::new(Semaphore::new(1)),
            }),
        };
        Ok((db, meta))
    }

    /// Runs `f` in one write transaction on the blocking pool; it has been
    /// committed to disk when this returns `Ok`.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + From<rusqlite::Error> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let slot = Arc::clone(&self.inner.write_slots)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("database closed"))?;
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let mut store = inner
                .writer
                .lock()
                .map_err(|_| StoreError::Unavailable("writer lock poisoned"))?;
            store.write(f)
        })
        .await
        .map_err(|_| StoreError::Unavailable("database task failed"))?
    }

    /// Runs `f` on a reader connection. When a reader is free it runs right
    /// here: a WAL reader never waits for the writer, and the queries a
    /// request makes are single indexed lookups of some microseconds, far
    /// cheaper than a hop to the blocking pool. When every reader is busy,
    /// `f` waits its turn on the blocking pool instead of a runtime thread.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + From<rusqlite::Error> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        if let Ok(slot) = Arc::clone(&self.inner.read_slots).try_acquire_owned() {
            if let (Some(guard), _) = self.inner.free_reader() {
                let result = read_snapshot(guard.conn(), f);
                drop(guard);
                drop(slot);
                return result;
            }
        }
        self.read_blocking(f).await
    }

    /// Runs `f` on a reader connection on the blocking pool: for reads that
    /// move megabytes (stored envelopes, backups), which must not hold up a
    /// runtime thread.
    pub async fn read_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + From<rusqlite::Error> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let slot = Arc::clone(&self.inner.read_slots)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("database closed"))?;
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            // Take a free reader if there is one, else wait for ours.
            let (free, ours) = inner.free_reader();
            let guard = free
                .map_or_else(|| inner.readers[ours].lock(), Ok)
                .map_err(|_| StoreError::Unavailable("reader lock poisoned"))?;
            read_snapshot(guard.conn(), f)
        })
        .await
        .map_err(|_| StoreError::Unavailable("database task failed"))?
    }
}

impl Inner {
    /// A reader not in use, if any, and the reader this caller would
    /// otherwise wait for (taken in turn, so waits spread over all of them).
    fn free_reader(&self) -> (Option<std::sync::MutexGuard<'_, Store>>, usize) {
        let count = self.readers.len();
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let free = (0..count).find_map(|i| self.readers[(start + i) % count].try_lock().ok());
        (free, start % count)
    }
}

impl Db {
    /// The stored CRL if anything was committed (by this server or by an
    /// admin command) since the last call, else `None`. A few microseconds:
    /// `data_version` reads shared memory, and the CRL is read only after a
    /// commit.
    pub fn crl_if_changed(&self) -> Result<Option<Vec<u8>>, StoreError> {
        let mut watcher = self
            .inner
            .watcher
            .lock()
            .map_err(|_| StoreError::Unavailable("watcher lock poisoned"))?;
        let version = watcher.0.data_version()?;
        if version == watcher.1 {
            return Ok(None);
        }
        watcher.1 = version;
        Ok(Some(
            crate::store::certs::crl(watcher.0.conn())?
                .map(|row| row.der)
                .unwrap_or_default(),
        ))
    }
}

/// Runs `f` inside one read transaction: one consistent snapshot, and one
/// shared lock taken and released for all its statements instead of one per
/// statement.
fn read_snapshot<T, E, F>(conn: &Connection, f: F) -> Result<T, E>
where
    E: From<StoreError> + From<rusqlite::Error>,
    F: FnOnce(&Connection) -> Result<T, E>,
{
    conn.prepare_cached("BEGIN")?.execute([])?;
    let result = f(conn);
    // Nothing was written; ending the transaction only releases the lock.
    conn.prepare_cached("ROLLBACK")?.execute([])?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{testing, users};

    #[tokio::test]
    async fn a_committed_write_is_visible_to_every_reader() {
        let (dir, store) = testing::store();
        drop(store);
        let (db, meta) = Db::open(&dir.path().join("dir.db"), 3).unwrap();
        assert_eq!(meta.domain, "example.org");
        db.write(|tx| {
            users::create_invite(tx, "a@example.org", "A", None, &[1; 32], 9, 1)
                .map_err(StoreError::from)
        })
        .await
        .unwrap();
        for _ in 0..6 {
            let found = db
                .read(|c| users::user(c, "a@example.org").map_err(StoreError::from))
                .await
                .unwrap();
            assert!(found.is_some());
        }
    }

    #[tokio::test]
    async fn a_folder_without_init_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Db::open(&dir.path().join("dir.db"), 1),
            Err(StoreError::NotInitialised)
        ));
    }
}
