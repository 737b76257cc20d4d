//! The criterion side: every bench file in `benches/` registers one workload for a list of
//! columns through [`bench_workload`], which times exactly what `peerbench` times (the
//! workload's timed phases, via `iter_custom`), one full workload run per iteration, on a
//! spawned thread like `peerbench`'s.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};

use crate::workloads::{self, Sample};
use crate::{for_peer, Peer};

/// The criterion settings of every bench: 10 samples, flat sampling (every iteration is a
/// whole workload run, 5 to 300 ms), short warm-up and measurement, no plots; so that
/// `cargo bench -p cyclegc-bench` stays within about 10 minutes on 2 cores.
pub fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .without_plots()
        .configure_from_args()
}

/// Registers workload `name` for each of `columns` (peer names) as group `name`, bench id
/// = column. The reported time is per workload run; the throughput is in the workload's
/// units (ops or nodes), so `elem/s` reads as ops or nodes per second.
pub fn bench_workload(c: &mut Criterion, name: &str, columns: &[&str]) {
    let w = workloads::workload(name).expect("known workload");
    let ops = probe_ops(name);
    let mut group = c.benchmark_group(w.name);
    group
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(ops));
    for column in columns {
        macro_rules! go {
            ($t:ty) => {
                bench_one::<$t>(&mut group, w.name)
            };
        }
        for_peer!(column, go, panic!("unknown column {column}"));
    }
    group.finish();
}

fn bench_one<F: Peer>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    workload: &'static str,
) {
    let worker = Worker::spawn::<F>(workload);
    group.bench_function(BenchmarkId::from_parameter(F::NAME), |b| {
        b.iter_custom(|iters| worker.run(iters))
    });
    let leaked = worker.finish();
    assert!(
        leaked <= 0,
        "{} / {workload}: {leaked} nodes leaked",
        F::NAME
    );
}

/// A thread that runs one column's workload on request, like a `peerbench run` child: the
/// workload runs on a spawned thread with an 8 MiB stack, as in `peerbench`, so both see the
/// same allocator behaviour (glibc gives a spawned thread its own arena, which does not hand
/// memory back to the kernel after every run the way the main thread's arena does), and the
/// collector's thread-local settings (`setup`) persist between criterion's calls.
struct Worker {
    jobs: Sender<Option<u64>>,
    done: Receiver<Duration>,
    thread: JoinHandle<i64>,
}

impl Worker {
    fn spawn<F: Peer>(workload: &'static str) -> Worker {
        let (jobs, job_rx) = channel::<Option<u64>>();
        let (done_tx, done) = channel();
        let thread = std::thread::Builder::new()
            .name(format!("{}/{workload}", F::NAME))
            .stack_size(WORKER_STACK)
            .spawn(move || {
                F::setup();
                while let Ok(Some(iters)) = job_rx.recv() {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let sample: Sample = workloads::run::<F>(workload).expect("known workload");
                        assert_eq!(sample.wrongly_freed, 0, "{}: freed live nodes", F::NAME);
                        total += sample.timed();
                    }
                    if done_tx.send(total).is_err() {
                        break;
                    }
                }
                F::collect();
                crate::live()
            })
            .expect("spawn the bench thread");
        Worker { jobs, done, thread }
    }

    /// Runs the workload `iters` times; the sum of the timed phases.
    fn run(&self, iters: u64) -> Duration {
        self.jobs
            .send(Some(iters))
            .expect("the bench thread is alive");
        match self.done.recv() {
            Ok(total) => total,
            Err(_) => panic!("the bench thread died (see its panic above)"),
        }
    }

    /// Stops the thread; the nodes it leaves alive after a last collection.
    fn finish(self) -> i64 {
        let _ = self.jobs.send(None);
        self.thread.join().expect("the bench thread panicked")
    }
}

/// The stack of the bench threads: the usual main-thread size.
const WORKER_STACK: usize = 8 << 20;

/// The number of ops (or nodes) one run of workload `name` divides by.
fn probe_ops(name: &str) -> u64 {
    use workloads::*;
    match name {
        "clone" => CLONE_OPS,
        "deref" => DEREF_ROUNDS * DEREF_PTRS as u64,
        "alloc" => ALLOC_NODES,
        "cycles" => 2 * CYCLES,
        "chain" | "ring" | "live_ring" => DEEP_NODES,
        "tree" => (1 << TREE_DEPTH) - 1,
        "graph" => GRAPH_NODES,
        "churn" => CHURN_OPS,
        _ => panic!("unknown workload {name}"),
    }
}
