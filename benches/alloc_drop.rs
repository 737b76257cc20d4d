//! Criterion, workload `alloc`: Allocate 1M acyclic nodes, drop them, collect; all columns. The
//! workload itself is `cyclegc_bench::workloads`; results and how to read them: BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    cyclegc_bench::crit::bench_workload(c, "alloc", cyclegc_bench::peers::ALL);
}

criterion_group! {
    name = benches;
    config = cyclegc_bench::crit::config();
    targets = bench
}
criterion_main!(benches);
