//! Partitions: contiguous runs of whole blocks, each with its own spike queue, advanced
//! window by window on its own thread, and the exchange that keeps them in step.
//!
//! Why whole blocks: every random stream and every piece of neuron state belongs to one
//! block, so a partition made of whole blocks computes exactly what those blocks would
//! compute in a single-partition run. Why one queue per partition: popping and cutting a
//! spike's delay group is then local work, with no lock; a group lands in a partition's
//! queue only if some of its synapses do.
//!
//! # The exchange (conservative synchronisation)
//!
//! All partitions process the same window `[t0, t0 + d_min)`: nothing emitted inside it can
//! arrive inside it, so they need not talk during a window. At its end each partition
//! publishes, in its [`Outbox`] for the window's parity, its emitted spikes (sorted by
//! (tick, neuron)) and its next local event time, then waits at one barrier. After the
//! barrier every partition reads every outbox of that parity and
//! - pushes the spikes' delay groups that reach its blocks into its own queue (the queue's
//!   key (arrival, source, group) orders them by data, so the order in which outboxes are
//!   read does not matter);
//! - computes the next window start, the minimum of the published next times and of the new
//!   spikes' earliest arrivals: the same value on every thread, from the same data;
//! - the thread that owns the sink (the caller's) merges the outboxes by (tick, neuron) and
//!   records them, while the others already process the next window.
//!
//! Two outboxes per partition (by window parity) let a partition write window `k + 1`'s
//! spikes while slower threads may still read window `k`'s; the barrier at the end of
//! window `k + 1` guarantees everyone has finished reading window `k`'s before a partition
//! overwrites them at window `k + 2`. One barrier per window, no other synchronisation.

use super::block::{Block, Segment};
use super::block_queue::BlockQueue;
use super::table::DeliveryTable;
use super::{RunError, ThreadStats};
use crate::Spike;
use crate::network::Connectivity;
use crate::neuron::NeuronModel;
use crate::record::SpikeSink;
use crate::time::Tick;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

/// A contiguous run of whole blocks and everything that happens to them.
#[derive(Debug)]
pub(crate) struct Partition {
    /// Global index of the first block.
    pub first_block: u32,
    pub blocks: Vec<Block>,
    /// Each (local) block's next event without recurrent input (blocks with none are absent).
    block_next: BlockQueue,
    /// Local blocks to process in the current window.
    due: Vec<u32>,
    /// (arrival tick, source neuron, global delay-group index), for groups that reach
    /// this partition's blocks.
    spike_queue: BinaryHeap<Reverse<(Tick, u32, u32)>>,
    /// Per block: the window's recurrent input.
    segments: Vec<Vec<Segment>>,
    /// The window's spikes, sorted by (tick, neuron) after [`Partition::process_window`].
    pub emitted: Vec<Spike>,
    /// Per global delay group: the range of the delivery table's segments that land in this
    /// partition's blocks. `None` when the partition holds every block (no filtering).
    ranges: Option<Vec<(u32, u32)>>,
    /// Time spent working (windows, scheduling, recording) and waiting at the barrier.
    busy: Duration,
    wait: Duration,
    /// CPU time of the thread while working.
    cpu: Duration,
}

impl Partition {
    /// A partition of `blocks`, the first of which has global index `first_block`; `whole`
    /// says that they are all the network's blocks.
    pub fn new(first_block: u32, blocks: Vec<Block>, table: &DeliveryTable, whole: bool) -> Self {
        let last = first_block + blocks.len() as u32;
        let ranges = (!whole).then(|| table.segment_ranges(first_block..last));
        Partition {
            first_block,
            block_next: {
                let mut q = BlockQueue::new(blocks.len());
                for (b, block) in blocks.iter().enumerate() {
                    let t = block.next_time();
                    if t < Tick::MAX {
                        q.set(b as u32, t);
                    }
                }
                q
            },
            due: Vec::new(),
            segments: (0..blocks.len()).map(|_| Vec::new()).collect(),
            blocks,
            spike_queue: BinaryHeap::new(),
            emitted: Vec::new(),
            ranges,
            busy: Duration::ZERO,
            wait: Duration::ZERO,
            cpu: Duration::ZERO,
        }
    }

    /// The next tick at which something is due here: a queued arrival or a block's own event.
    pub fn next_event_time(&self) -> Tick {
        let q = self
            .spike_queue
            .peek()
            .map_or(Tick::MAX, |Reverse((t, _, _))| *t);
        q.min(self.block_next.next_tick())
    }

    /// Re-reads local block `b`'s next event time (after its state was changed between runs).
    pub fn refresh_block(&mut self, b: u32) {
        let t = self.blocks[b as usize].next_time();
        if t < Tick::MAX {
            self.block_next.set(b, t);
        } else {
            self.block_next.remove(b);
        }
    }

    /// Processes the window ending at `w_end` (its start is the earliest pending event):
    /// pops the queue entries due, cuts them into per-block segments, processes every block
    /// with work, and leaves the window's spikes sorted in `emitted`.
    pub fn process_window(&mut self, table: &DeliveryTable, weights: &[f32], w_end: Tick) {
        while let Some(&Reverse((t, _src, g))) = self.spike_queue.peek() {
            if t >= w_end {
                break;
            }
            self.spike_queue.pop();
            let weight = table.same_weight(g).unwrap_or(f32::NAN);
            let segs = match &self.ranges {
                None => table.segments(g),
                Some(r) => table.segments_in(r[g as usize]),
            };
            for s in segs {
                let b = (s.block - self.first_block) as usize;
                if self.segments[b].is_empty() {
                    self.due.push(b as u32);
                }
                self.segments[b].push(Segment {
                    tick: t,
                    start: s.start,
                    end: s.end,
                    weight,
                    plastic_k: s.plastic_k,
                    plastic_seg: s.plastic_seg,
                });
            }
        }
        self.emitted.clear();
        // Only blocks with input or a due event are visited: with a tiny minimum delay most
        // windows hold one spike, and scanning every block per window dominated.
        while let Some((b, t)) = self.block_next.peek() {
            if t >= w_end {
                break;
            }
            self.block_next.pop();
            if self.segments[b as usize].is_empty() {
                self.due.push(b);
            }
        }
        self.due.sort_unstable();
        // The window's inputs are all known now: ask for what they will touch first, so that
        // in large blocks their cache misses overlap. The heap slots come in a second pass,
        // once the first positions have had time to arrive.
        for slots in [false, true] {
            for &b in &self.due {
                let b = b as usize;
                self.blocks[b].prefetch_inputs(&self.segments[b], &table.local, slots);
            }
        }
        for &b in &self.due {
            let b = b as usize;
            let block = &mut self.blocks[b];
            block.process(
                &self.segments[b],
                &table.local,
                weights,
                w_end,
                &mut self.emitted,
            );
            let next = block.next_time();
            if next < Tick::MAX {
                self.block_next.set(b as u32, next);
            } else {
                self.block_next.remove(b as u32);
            }
            self.segments[b].clear();
        }
        self.due.clear();
        self.emitted.sort_unstable();
    }

    /// Queues the delay groups of `spikes` (from any partition) that reach this partition's
    /// blocks. Returns the earliest arrival over *all* their groups, reaching here or not:
    /// what every partition needs to agree on the next window start.
    pub fn schedule(&mut self, conn: &Connectivity, spikes: &[Spike]) -> Tick {
        let mut earliest = Tick::MAX;
        for s in spikes {
            let g0 = conn.group_start[s.neuron as usize];
            for (k, grp) in conn.groups_of(s.neuron).iter().enumerate() {
                let arrival = s.tick.saturating_add(grp.delay);
                earliest = earliest.min(arrival);
                let g = g0 + k as u32;
                let here = self
                    .ranges
                    .as_ref()
                    .is_none_or(|r| r[g as usize].0 < r[g as usize].1);
                if arrival < Tick::MAX && here {
                    self.spike_queue.push(Reverse((arrival, s.neuron, g)));
                }
            }
        }
        earliest
    }

    /// Adds the wall and CPU time of a run without threads (all of it is work).
    pub fn add_busy(&mut self, wall: Duration, cpu: Duration) {
        self.busy += wall;
        self.cpu += cpu;
    }

    /// What this partition holds and how its time was spent.
    pub fn stats(&self) -> ThreadStats {
        ThreadStats {
            blocks: self.blocks.len(),
            neurons: self.blocks.iter().map(|b| b.model.len() as u32).sum(),
            busy: self.busy,
            wait: self.wait,
            cpu: self.cpu,
        }
    }
}

/// Splits `weights.len()` blocks into at most `parts` contiguous, non-empty runs of about
/// equal total weight. Returns the runs' boundaries (`parts + 1` of them, from 0 to the
/// number of blocks; fewer runs when there are fewer blocks than `parts`).
pub(crate) fn balance(weights: &[u64], parts: usize) -> Vec<usize> {
    let n = weights.len();
    let parts = parts.clamp(1, n.max(1));
    let total: u64 = weights.iter().sum();
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0u64);
    for w in weights {
        prefix.push(prefix.last().expect("non-empty") + w);
    }
    let mut bounds = vec![0];
    for k in 1..parts {
        let target = (total as u128 * k as u128 / parts as u128) as u64;
        // The first boundary whose prefix reaches the target, or the one before if nearer.
        let mut i = prefix.partition_point(|&p| p < target);
        if i > 0 && i <= n && target - prefix[i - 1] < prefix[i] - target {
            i -= 1;
        }
        // Every run keeps at least one block.
        let lo = bounds.last().expect("non-empty") + 1;
        let hi = n - (parts - k);
        bounds.push(i.clamp(lo, hi));
    }
    bounds.push(n);
    bounds
}

/// One partition's outbox for one window parity.
#[derive(Debug)]
struct Outbox {
    /// The window's spikes, sorted by (tick, neuron).
    spikes: Vec<Spike>,
    /// The partition's next event time after the window, before the window's spikes are
    /// scheduled.
    next: Tick,
    /// Set by the sink's thread when recording failed: every thread stops after reading it.
    stop: bool,
    /// CPU time the partition's thread spent on the window.
    cpu: Duration,
}

/// A barrier that spins briefly before sleeping (windows are often shorter than a sleeping
/// thread's wake-up), and that a panicking thread breaks so the others panic instead of
/// waiting forever.
#[derive(Debug)]
struct Barrier {
    n: usize,
    state: Mutex<(usize, u64)>,
    generation: std::sync::atomic::AtomicU64,
    cv: Condvar,
    broken: AtomicBool,
}

impl Barrier {
    fn new(n: usize) -> Self {
        Barrier {
            n,
            state: Mutex::new((0, 0)),
            generation: std::sync::atomic::AtomicU64::new(0),
            cv: Condvar::new(),
            broken: AtomicBool::new(false),
        }
    }

    fn wait(&self) {
        let generation;
        {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            s.0 += 1;
            if s.0 == self.n {
                s.0 = 0;
                s.1 += 1;
                self.generation.store(s.1, Ordering::Release);
                self.cv.notify_all();
                return;
            }
            generation = s.1;
        }
        let backoff = crossbeam::utils::Backoff::new();
        while !backoff.is_completed() {
            if self.generation.load(Ordering::Acquire) != generation {
                return;
            }
            self.check();
            backoff.snooze();
        }
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while s.1 == generation {
            self.check();
            s = self
                .cv
                .wait_timeout(s, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn check(&self) {
        assert!(
            !self.broken.load(Ordering::Relaxed),
            "another simulation thread panicked"
        );
    }
}

/// Breaks the barrier if its thread unwinds.
struct BreakOnPanic<'a>(&'a Barrier);

impl Drop for BreakOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.broken.store(true, Ordering::Relaxed);
            self.0.cv.notify_all();
        }
    }
}

/// What every worker reads: the network, the run's bounds and the exchange.
struct Shared<'a> {
    conn: &'a Connectivity,
    table: &'a DeliveryTable,
    window: Tick,
    start: Tick,
    t_end: Tick,
    /// Per partition, one outbox per window parity.
    outboxes: Vec<[RwLock<Outbox>; 2]>,
    barrier: Barrier,
}

/// How a run on threads ended.
pub(crate) struct RunEnd {
    pub windows: u64,
    pub now: Tick,
    pub error: Option<RunError>,
    /// Sum over windows of the largest CPU time a thread spent on the window: the run's
    /// length on idle cores, barrier latency aside (read on the sink's thread only).
    pub critical_cpu: Duration,
}

/// Simulates `[start, t_end)` with one thread per partition (the calling thread runs the
/// first and owns `sink`).
pub(crate) fn run_threads(
    parts: &mut [Partition],
    conn: &Connectivity,
    table: &DeliveryTable,
    window: Tick,
    start: Tick,
    t_end: Tick,
    sink: &mut dyn SpikeSink,
) -> RunEnd {
    let outbox = |next| {
        RwLock::new(Outbox {
            spikes: Vec::new(),
            next,
            stop: false,
            cpu: Duration::ZERO,
        })
    };
    let shared = Shared {
        conn,
        table,
        window,
        start,
        t_end,
        outboxes: parts
            .iter()
            .map(|p| [outbox(p.next_event_time()), outbox(Tick::MAX)])
            .collect(),
        barrier: Barrier::new(parts.len()),
    };
    let (first, rest) = parts.split_first_mut().expect("at least one partition");
    std::thread::scope(|s| {
        let shared = &shared;
        let workers: Vec<_> = rest
            .iter_mut()
            .enumerate()
            .map(|(i, part)| s.spawn(move || worker(i + 1, part, shared, None)))
            .collect();
        let end = worker(0, first, shared, Some(sink));
        for w in workers {
            let other = w.join().expect("simulation thread panicked");
            debug_assert_eq!((other.windows, other.now), (end.windows, end.now));
        }
        end
    })
}

/// One thread's loop: read the last window's outboxes (schedule, agree on the next window,
/// record if it owns the sink), process the next window, publish, wait.
fn worker(
    me: usize,
    part: &mut Partition,
    sh: &Shared,
    mut sink: Option<&mut dyn SpikeSink>,
) -> RunEnd {
    let _guard = BreakOnPanic(&sh.barrier);
    let mut cur = 0;
    let mut now = sh.start;
    let mut windows = 0;
    // Start of the window whose spikes sit in the outboxes of parity `cur`, if any.
    let mut last_t0 = None;
    let mut error = None;
    let mut merged = Vec::new();
    let mut stop = false;
    let mut critical_cpu = Duration::ZERO;
    let mut t_busy = Instant::now();
    let mut cpu_start = thread_cpu_time();
    loop {
        let mut next = Tick::MAX;
        let mut slowest = Duration::ZERO;
        merged.clear();
        for ob in &sh.outboxes {
            let o = ob[cur].read().unwrap_or_else(|e| e.into_inner());
            next = next.min(o.next).min(part.schedule(sh.conn, &o.spikes));
            stop |= o.stop;
            slowest = slowest.max(o.cpu);
            if sink.is_some() {
                merged.extend_from_slice(&o.spikes);
            }
        }
        critical_cpu += slowest;
        if let (Some(sink), Some(t0), false) = (sink.as_deref_mut(), last_t0, stop) {
            // Partitions hold increasing neuron ranges: the merge is a sort of runs.
            merged.sort_unstable();
            if let Err(message) = sink.record(&merged) {
                error = Some(RunError::Sink { tick: t0, message });
            }
        }
        if stop {
            break;
        }
        let t0 = next.max(now);
        if t0 >= sh.t_end {
            now = now.max(sh.t_end);
            break;
        }
        let w_end = t0.saturating_add(sh.window).min(sh.t_end);
        part.process_window(sh.table, &sh.conn.weights, w_end);
        windows += 1;
        now = w_end;
        last_t0 = Some(t0);
        let cpu_end = thread_cpu_time();
        part.cpu += cpu_end - cpu_start;
        {
            let mut o = sh.outboxes[me][1 - cur]
                .write()
                .unwrap_or_else(|e| e.into_inner());
            std::mem::swap(&mut o.spikes, &mut part.emitted);
            o.next = part.next_event_time();
            o.stop = error.is_some();
            o.cpu = cpu_end - cpu_start;
        }
        let t_wait = Instant::now();
        part.busy += t_wait - t_busy;
        sh.barrier.wait();
        t_busy = Instant::now();
        cpu_start = thread_cpu_time();
        part.wait += t_busy - t_wait;
        cur = 1 - cur;
    }
    part.busy += t_busy.elapsed();
    part.cpu += thread_cpu_time().saturating_sub(cpu_start);
    RunEnd {
        windows,
        now,
        error,
        critical_cpu,
    }
}

/// CPU time used by the calling thread so far (zero where the OS does not say). Unlike wall
/// time, it does not grow while other processes hold the core, so it measures work and
/// balance on a shared machine.
pub(crate) fn thread_cpu_time() -> Duration {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; the call writes only into it.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
            return Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
        }
    }
    Duration::ZERO
}

#[cfg(test)]
mod tests {
    use super::balance;

    #[test]
    fn balance_splits_by_weight_into_non_empty_contiguous_runs() {
        assert_eq!(balance(&[1, 1, 1, 1], 2), vec![0, 2, 4]);
        assert_eq!(balance(&[10, 1, 1, 1, 1, 1], 2), vec![0, 1, 6]);
        assert_eq!(balance(&[1, 1, 1, 1, 1, 10], 2), vec![0, 5, 6]);
        // More parts than blocks: one block each.
        assert_eq!(balance(&[5, 5, 5], 7), vec![0, 1, 2, 3]);
        // Zero weights still give non-empty runs.
        assert_eq!(balance(&[0, 0, 0, 0], 3), vec![0, 1, 2, 4]);
        assert_eq!(balance(&[], 3), vec![0, 0]);
        for parts in 1..6 {
            let w: Vec<u64> = (0..13).map(|k| 1000 + 37 * k).collect();
            let b = balance(&w, parts);
            assert_eq!(b.len(), parts + 1);
            assert!(b.windows(2).all(|x| x[0] < x[1]));
            let total: u64 = w.iter().sum();
            let max_part: u64 = b
                .windows(2)
                .map(|x| w[x[0]..x[1]].iter().sum())
                .max()
                .unwrap();
            // Within one block of the ideal share.
            assert!(
                max_part <= total / parts as u64 + 1000 + 37 * 12,
                "{parts}: {b:?}"
            );
        }
    }
}
