//! Fork-join on two threads: the calling thread and one long-lived helper.
//!
//! A training step of the seed's MLP hands out seven tasks of 20–200 µs each, so latency
//! decides whether a second core pays. The helper spins for 200 µs (`SPIN`) after each task
//! (the next one usually arrives within microseconds: it parked 6 times in the 4,200 joins of an
//! epoch),
//! then parks; the caller runs its own half meanwhile and then spins until the helper's is done
//! (callers size the halves, or share work from a counter, so that this wait is short). Joining
//! through rayon's global pool from the trainer's thread (outside the pool) costs two thread
//! wake-ups per join, and its two spinning workers compete with the trainer's thread for two
//! cores; measured in `docs/BENCHMARKS.md`.
//!
//! Only one join at a time uses the helper; a concurrent one (another thread's, or a nested
//! one) runs both halves on its own thread. `EMBER_THREADS=1` turns the helper off.
//!
//! ```
//! let mut left = vec![1.0_f32; 4];
//! let mut right = vec![2.0_f32; 4];
//! ember_cpu::parallel::join(
//!     || left.iter_mut().for_each(|x| *x *= 10.0),
//!     || right.iter_mut().for_each(|x| *x *= 10.0),
//! );
//! assert_eq!((left[0], right[0]), (10.0, 20.0));
//! ```

use std::cell::UnsafeCell;
use std::hint::spin_loop;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock, TryLockError};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// How long the helper waits, spinning, for its next task before it parks.
const SPIN: Duration = Duration::from_micros(200);

const IDLE: u8 = 0;
/// A task is published and no one has started it.
const TASK: u8 = 1;
const DONE: u8 = 2;
/// The helper has started the task.
const RUNNING: u8 = 3;
/// The caller took its task back before the helper started it, and runs it itself.
const RECLAIMED: u8 = 4;

/// How long a caller waits for the helper's half by spinning before it yields its core at each
/// check (on a busy machine the helper may be waiting for that core).
const SPIN_BEFORE_YIELD: Duration = Duration::from_micros(50);

/// A task lent to the helper for the duration of one [`join`].
type Task = *mut (dyn FnMut() + Send + 'static);

struct Helper {
    thread: Thread,
    /// Taken for the duration of a join that uses the helper.
    busy: Mutex<()>,
    state: AtomicU8,
    /// Written by the caller before `state` becomes `TASK`; read by the helper after.
    task: UnsafeCell<Option<Task>>,
    /// The panic payload of a task that panicked on the helper.
    panic: Mutex<Option<Box<dyn std::any::Any + Send>>>,
}

// SAFETY: `task` is written only by the thread holding `busy` while `state` is IDLE, and read
// only by the helper between seeing TASK (Acquire) and storing DONE (Release).
unsafe impl Sync for Helper {}

fn helper() -> Option<&'static Helper> {
    static HELPER: OnceLock<Option<&'static Helper>> = OnceLock::new();
    *HELPER.get_or_init(|| {
        // A bad `EMBER_THREADS` counts as unset here; `check_environment` and every GEMM
        // report it.
        let threads = crate::environment::settings()
            .ok()
            .and_then(|s| s.threads)
            .unwrap_or_else(|| thread::available_parallelism().map_or(1, |n| n.get()));
        if threads < 2 {
            return None;
        }
        // The helper thread waits for this initialisation to finish, then serves.
        let handle = thread::Builder::new()
            .name("ember-helper".into())
            .spawn(|| {
                if let Some(helper) = HELPER.wait() {
                    helper.serve();
                }
            })
            .ok()?;
        let helper: &'static Helper = Box::leak(Box::new(Helper {
            thread: handle.thread().clone(),
            busy: Mutex::new(()),
            state: AtomicU8::new(IDLE),
            task: UnsafeCell::new(None),
            panic: Mutex::new(None),
        }));
        Some(helper)
    })
}

impl Helper {
    fn serve(&self) {
        loop {
            let mut since = Instant::now();
            let mut spins = 0_u32;
            // Claim a published task (the caller may take it back first); read-only spinning
            // until one is there.
            while !(self.state.load(Ordering::Relaxed) == TASK
                && self
                    .state
                    .compare_exchange(TASK, RUNNING, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok())
            {
                spins = spins.wrapping_add(1);
                if !spins.is_multiple_of(64) {
                    spin_loop();
                } else if since.elapsed() > SPIN {
                    // A task published after the check above unparks us (the token is kept).
                    thread::park();
                    since = Instant::now();
                }
            }
            // SAFETY: see `unsafe impl Sync for Helper`; the caller keeps the task alive until
            // it sees DONE (it cannot take back a task in RUNNING).
            if let Some(task) = unsafe { *self.task.get() } {
                let result = catch_unwind(AssertUnwindSafe(|| unsafe { (*task)() }));
                if let Err(payload) = result
                    && let Ok(mut slot) = self.panic.lock()
                {
                    *slot = Some(payload);
                }
            }
            self.state.store(DONE, Ordering::Release);
        }
    }
}

/// Waits for the helper's half, even while the caller's half unwinds; a half the helper has not
/// started is taken back instead (and dropped unrun if the caller is unwinding).
struct AwaitHelper(&'static Helper);

impl Drop for AwaitHelper {
    fn drop(&mut self) {
        let state = &self.0.state;
        let taken_back = state.load(Ordering::Acquire) == RECLAIMED
            || state
                .compare_exchange(TASK, RECLAIMED, Ordering::Acquire, Ordering::Relaxed)
                .is_ok();
        if !taken_back {
            let since = Instant::now();
            let mut spins = 0_u32;
            while state.load(Ordering::Acquire) != DONE {
                spins = spins.wrapping_add(1);
                if spins.is_multiple_of(64) && since.elapsed() > SPIN_BEFORE_YIELD {
                    thread::yield_now();
                } else {
                    spin_loop();
                }
            }
        }
        // SAFETY: the helper is done with the task; we hold `busy`.
        unsafe { *self.0.task.get() = None };
        self.0.state.store(IDLE, Ordering::Release);
    }
}

/// Runs `a` on this thread and `b` on the helper, and returns when both are done. Without a
/// helper (one CPU, `EMBER_THREADS=1`, or the helper busy) runs `a` then `b` here; if the helper
/// has not started `b` when `a` is done (it is waking up, or the machine's cores are busy with
/// other work), `b` runs here too. A panic in either half is resumed here after both have
/// finished.
pub fn join<A, B>(a: A, b: B)
where
    A: FnOnce(),
    B: FnOnce() + Send,
{
    let Some(helper) = helper() else {
        a();
        b();
        return;
    };
    // A poisoned lock only means an earlier half panicked; the helper itself is fine.
    let _busy = match helper.busy.try_lock() {
        Ok(guard) => guard,
        Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(TryLockError::WouldBlock) => {
            a();
            b();
            return;
        }
    };
    let mut b = Some(b);
    let mut run_b = || {
        if let Some(b) = b.take() {
            b();
        }
    };
    let task: &mut (dyn FnMut() + Send + '_) = &mut run_b;
    // SAFETY: only the lifetime is erased; `AwaitHelper` keeps `run_b` alive (this frame does
    // not return or unwind past it) until the helper has stored DONE.
    let task: Task = unsafe { std::mem::transmute(task) };
    // SAFETY: we hold `busy` and `state` is IDLE, so the helper is not reading `task`.
    unsafe { *helper.task.get() = Some(task) };
    helper.state.store(TASK, Ordering::Release);
    helper.thread.unpark();
    let wait = AwaitHelper(helper);
    a();
    if helper
        .state
        .compare_exchange(TASK, RECLAIMED, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
    {
        // SAFETY: the helper never started the task and no longer can; `run_b` is alive.
        unsafe { (*task)() };
    }
    drop(wait);
    let payload = helper.panic.lock().ok().and_then(|mut slot| slot.take());
    if let Some(payload) = payload {
        resume_unwind(payload);
    }
}

/// A raw pointer that may cross to the helper thread, for writing disjoint parts of one buffer
/// from both halves of a [`join`].
#[derive(Debug)]
pub struct SendPtr<T>(*mut T);

// Copy whatever `T` is (a derive would ask `T: Copy`): only the address is copied.
impl<T> Clone for SendPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for SendPtr<T> {}

// SAFETY: `SendPtr` only carries the address; every dereference is an `unsafe` block whose
// caller guarantees the halves touch disjoint elements.
unsafe impl<T> Send for SendPtr<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    /// Wraps `ptr`.
    pub fn new(ptr: *mut T) -> Self {
        Self(ptr)
    }

    /// The pointer (a method, so closures capture the whole `SendPtr`, not its field).
    pub fn get(self) -> *mut T {
        self.0
    }
}
