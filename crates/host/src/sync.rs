//! The lock helper.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`. A panic while holding one of the program's locks is a bug;
/// the data stays usable, so a poisoned lock is taken as it is.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
