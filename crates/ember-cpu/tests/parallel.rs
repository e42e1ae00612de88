//! `parallel::join`: both halves run exactly once, whether the helper starts its half or the
//! caller takes it back, and a panic in either half reaches the caller.

use std::sync::atomic::{AtomicUsize, Ordering};

use ember_cpu::parallel::join;

#[test]
fn every_half_runs_exactly_once() {
    let (left, right) = (AtomicUsize::new(0), AtomicUsize::new(0));
    // Tiny halves: the caller often finishes first and takes the helper's half back; larger
    // ones let the helper start it.
    for i in 0..20_000_usize {
        let work = if i % 2 == 0 { 0 } else { 2_000 };
        join(
            || {
                std::hint::black_box((0..work).sum::<usize>());
                left.fetch_add(1, Ordering::Relaxed);
            },
            || {
                std::hint::black_box((0..work).sum::<usize>());
                right.fetch_add(1, Ordering::Relaxed);
            },
        );
    }
    assert_eq!(left.load(Ordering::Relaxed), 20_000);
    assert_eq!(right.load(Ordering::Relaxed), 20_000);
}

#[test]
fn a_panic_in_either_half_reaches_the_caller_and_join_still_works() {
    for panicking_half in [0, 1] {
        let result = std::panic::catch_unwind(|| {
            join(
                || assert!(panicking_half != 0, "left half"),
                || assert!(panicking_half != 1, "right half"),
            )
        });
        assert!(result.is_err(), "half {panicking_half}");
    }
    let ran = AtomicUsize::new(0);
    join(
        || {
            ran.fetch_add(1, Ordering::Relaxed);
        },
        || {
            ran.fetch_add(1, Ordering::Relaxed);
        },
    );
    assert_eq!(ran.load(Ordering::Relaxed), 2);
}
