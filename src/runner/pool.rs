//! A small work pool: N workers on N threads take items from one shared queue, each item
//! to the first worker free, and work may queue more items (a halving queues the two halves
//! of a group that broke tests). Generic over the worker, so it is tested here without a
//! process; the runner's workers are scratch copies.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// What a pool run gives back: the results in the order items were queued (or the first
/// error), and the workers that started, for what they counted.
#[derive(Debug)]
pub(crate) struct PoolOutcome<R, W, E> {
    pub results: Result<Vec<R>, E>,
    pub workers: Vec<W>,
}

/// The shared queue.
struct Queue<T, R, E> {
    /// Items not started yet, with their position in the results.
    items: VecDeque<(usize, T)>,
    /// The position the next queued item gets.
    next: usize,
    /// Items being worked on: while any is, more items may come.
    busy: usize,
    results: Vec<(usize, R)>,
    /// The first error of any worker; every worker stops at its next item.
    failure: Option<E>,
}

/// Do `work` for every item with `workers` workers at once, each started by `start` with
/// its number (1-based). The first error (of `start` or `work`) stops every worker at its
/// next item.
pub(crate) fn run<W: Send, T: Send, R: Send, E: Send>(
    workers: usize,
    start: &(impl Fn(usize) -> Result<W, E> + Sync),
    items: Vec<T>,
    work: &(impl Fn(&mut W, T) -> Result<(R, Vec<T>), E> + Sync),
) -> PoolOutcome<R, W, E> {
    let next = items.len();
    let queue = Mutex::new(Queue {
        items: items.into_iter().enumerate().collect(),
        next,
        busy: 0,
        results: Vec::new(),
        failure: None,
    });
    let changed = Condvar::new();
    let lock = || queue.lock().unwrap_or_else(PoisonError::into_inner);
    let started: Vec<W> = std::thread::scope(|scope| {
        let threads: Vec<_> = (1..=workers)
            .map(|number| {
                let (lock, changed) = (&lock, &changed);
                scope.spawn(move || {
                    let mut worker = match start(number) {
                        Ok(worker) => worker,
                        Err(error) => {
                            lock().failure.get_or_insert(error);
                            changed.notify_all();
                            return None;
                        }
                    };
                    while let Some((position, item)) = next_item(lock(), changed) {
                        let outcome = work(&mut worker, item);
                        let mut queue = lock();
                        queue.busy -= 1;
                        match outcome {
                            Ok((result, more)) => {
                                queue.results.push((position, result));
                                for item in more {
                                    let position = queue.next;
                                    queue.next += 1;
                                    queue.items.push_back((position, item));
                                }
                            }
                            Err(error) => {
                                queue.failure.get_or_insert(error);
                            }
                        }
                        changed.notify_all();
                    }
                    Some(worker)
                })
            })
            .collect();
        threads.into_iter().filter_map(|thread| thread.join().ok().flatten()).collect()
    });
    let queue = queue.into_inner().unwrap_or_else(PoisonError::into_inner);
    let results = match queue.failure {
        Some(error) => Err(error),
        None => {
            let mut results = queue.results;
            results.sort_by_key(|(position, _)| *position);
            Ok(results.into_iter().map(|(_, result)| result).collect())
        }
    };
    PoolOutcome { results, workers: started }
}

/// The next item for a worker, waiting while other workers may still queue more; `None`
/// when the work is done or failed.
fn next_item<T, R, E>(
    mut queue: MutexGuard<'_, Queue<T, R, E>>,
    changed: &Condvar,
) -> Option<(usize, T)> {
    loop {
        if queue.failure.is_some() {
            return None;
        }
        if let Some(item) = queue.items.pop_front() {
            queue.busy += 1;
            return Some(item);
        }
        if queue.busy == 0 {
            return None;
        }
        queue = changed.wait(queue).unwrap_or_else(PoisonError::into_inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A worker that remembers which items it did.
    #[derive(Debug, Default)]
    struct Worker {
        done: Vec<u32>,
    }

    fn start(_: usize) -> Result<Worker, String> {
        Ok(Worker::default())
    }

    #[test]
    fn every_item_is_done_once_and_results_come_in_queue_order() {
        let work = |worker: &mut Worker, item: u32| {
            worker.done.push(item);
            Ok::<_, String>((item * 10, Vec::new()))
        };
        let outcome = run(3, &start, (1..=20).collect(), &work);
        assert_eq!(outcome.results, Ok((1..=20).map(|item| item * 10).collect()));
        assert_eq!(outcome.workers.len(), 3);
        let mut done: Vec<u32> =
            outcome.workers.into_iter().flat_map(|worker| worker.done).collect();
        done.sort_unstable();
        assert_eq!(done, (1..=20).collect::<Vec<_>>());
    }

    #[test]
    fn work_may_queue_more_items_which_come_after_the_items_before_them() {
        // Halving: an item larger than 1 queues its two halves.
        let work = |_: &mut Worker, item: u32| {
            let more = if item > 1 { vec![item / 2, item - item / 2] } else { Vec::new() };
            Ok::<_, String>((item, more))
        };
        let outcome = run(2, &start, vec![4], &work);
        assert_eq!(outcome.results, Ok(vec![4, 2, 2, 1, 1, 1, 1]));
    }

    #[test]
    fn the_first_error_stops_the_pool() {
        let work = |worker: &mut Worker, item: u32| {
            worker.done.push(item);
            if item == 3 { Err(format!("item {item} failed")) } else { Ok((item, Vec::new())) }
        };
        let outcome = run(1, &start, (1..=10).collect(), &work);
        assert_eq!(outcome.results, Err("item 3 failed".to_owned()));
        assert_eq!(outcome.workers[0].done, [1, 2, 3], "nothing after the failure");
    }

    #[test]
    fn a_worker_that_cannot_start_fails_the_run_and_the_others_stop() {
        let start = |number: usize| {
            if number == 2 { Err("no copy".to_owned()) } else { Ok(Worker::default()) }
        };
        let work = |worker: &mut Worker, item: u32| {
            worker.done.push(item);
            Ok::<_, String>((item, Vec::new()))
        };
        let outcome = run(2, &start, (1..=3).collect(), &work);
        assert_eq!(outcome.results, Err("no copy".to_owned()));
        assert_eq!(outcome.workers.len(), 1);
    }
}
