//! Criterion, workload `live_ring`: Collect while a 1M-node ring is alive (timed: the collect
//! only). Only the columns that survive it on the 8 MiB main-thread stack: cyclegc (auto and
//! manual), rust-cc. `Rc` overflows in the final drop, bacon_rajan_cc, gcmodule and dumpster in the
//! live collect, gc in build; `peerbench` reports them. The workload itself is
//! `cyclegc_bench::workloads`; results and how to read them: BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    cyclegc_bench::crit::bench_workload(c, "live_ring", &["cyclegc", "cyclegc-manual", "rust-cc"]);
}

criterion_group! {
    name = benches;
    config = cyclegc_bench::crit::config();
    targets = bench
}
criterion_main!(benches);
