//! Step failures are panics. Under load there may be thousands: this keeps the default
//! hook from printing a message and backtrace for each, while remembering where each
//! panic happened so errors can be grouped by source location.
//!
//! Only threads marked with [`mark_worker_thread`] are silenced; a panic anywhere else
//! goes to the previous hook. The hook is installed while at least one load run is in
//! progress and the previous one is restored when the last run ends.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::PanicHookInfo;
use std::sync::{Arc, Mutex};

type Hook = Arc<dyn Fn(&PanicHookInfo<'_>) + Send + Sync + 'static>;

/// Runs in progress and the hook they replaced.
static INSTALLED: Mutex<Option<(usize, Hook)>> = Mutex::new(None);

thread_local! {
    static SILENT: Cell<bool> = const { Cell::new(false) };
    static LAST: RefCell<Option<(String, u32)>> = const { RefCell::new(None) };
}

/// Keeps the quiet hook installed while alive.
#[derive(Debug)]
pub struct QuietPanics(());

impl QuietPanics {
    pub fn install() -> QuietPanics {
        let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
        match installed.as_mut() {
            Some((runs, _)) => *runs += 1,
            None => {
                let previous: Hook = Arc::from(std::panic::take_hook());
                let delegate = previous.clone();
                std::panic::set_hook(Box::new(move |info| {
                    if SILENT.get() {
                        let location = info.location().map(|l| (l.file().to_owned(), l.line()));
                        LAST.set(location);
                    } else {
                        delegate(info);
                    }
                }));
                *installed = Some((1, previous));
            }
        }
        QuietPanics(())
    }
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((runs, previous)) = installed.as_mut() {
            *runs -= 1;
            if *runs == 0 {
                let previous = previous.clone();
                std::panic::set_hook(Box::new(move |info| previous(info)));
                *installed = None;
            }
        }
    }
}

/// Marks the current thread as a load worker: its panics are recorded, not printed.
pub fn mark_worker_thread() {
    SILENT.set(true);
}

/// Where the last panic on this thread happened, taken.
pub fn take_location() -> Option<(String, u32)> {
    LAST.take()
}

/// The panic's message, as `panic!` formats it.
pub fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "step panicked with a non-text payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_panics_are_recorded_with_their_location() {
        let guard = QuietPanics::install();
        let handle = std::thread::spawn(|| {
            mark_worker_thread();
            let r = std::panic::catch_unwind(|| panic!("expected 5 events, got 4"));
            let msg = message(r.unwrap_err().as_ref());
            (msg, take_location())
        });
        let (msg, location) = handle.join().unwrap();
        drop(guard);
        assert_eq!(msg, "expected 5 events, got 4");
        let (file, line) = location.unwrap();
        assert!(file.ends_with("panics.rs"), "{file}");
        assert!(line > 0);
    }
}
