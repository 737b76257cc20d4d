//! Criterion, workload `ring`: Reclaim a 1M-node doubly-linked ring. Only the columns that survive
//! it on the 8 MiB main-thread stack: cyclegc (auto and manual), rust-cc, gcmodule. `Rc` overflows
//! in drop, bacon_rajan_cc and dumpster in collect, gc in build; `peerbench` reports them. The
//! workload itself is `cyclegc_bench::workloads`; results and how to read them: BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    cyclegc_bench::crit::bench_workload(
        c,
        "ring",
        &["cyclegc", "cyclegc-manual", "rust-cc", "gcmodule"],
    );
}

criterion_group! {
    name = benches;
    config = cyclegc_bench::crit::config();
    targets = bench
}
criterion_main!(benches);
