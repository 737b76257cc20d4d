//! `peerbench`: runs every (column, workload) cell in its own process, so that a stack overflow
//! (or any crash) only loses that cell, and prints markdown tables.
//!
//! ```text
//! peerbench run <peer> <workload> [--reps N] [--warmup W] [--stack-kib K]
//! peerbench table [--sync] [--reps N] [--rounds R] [--peers a,b,..] [--workloads x,y,..]
//!                 [--stack-kib K] [--big-stack-kib K] [--no-rerun] [--check-stack-kib K]
//!                 [--no-stack-check] [--timeout-s T]
//! peerbench list
//! peerbench generations [--reps N] [--sync]
//! ```
//!
//! `run` runs one cell on a thread with a `K` KiB stack (default 8 MiB): `W` warm-up runs
//! (default 1), then `N` measured ones (default 5). It prints one line, starting `RESULT`,
//! of `key=value` fields: the median/min/max of the headline in ns per op (or node), the
//! median of every phase, the nodes still alive at the end (`leaked`), and the process's peak
//! RSS (`VmHWM`). While it runs it writes `@phase <name>` breadcrumbs to stderr.
//!
//! `table` spawns `peerbench run` for every cell. A cell that overflows its stack is reported
//! with the phase it died in and re-run on a big stack (1 GiB by default); such figures are
//! marked †. Then the cyclegc columns' deep workloads run again on a small stack (256 KiB by
//! default) to check that they need no deep recursion.
//!
//! `--rounds R` (default 1) runs the whole table R times, round after round; within a round the
//! order is still "for each workload, for each peer", so a workload's columns run back to back.
//! On a noisy machine the same cell can differ 2–3x between processes started seconds apart, so
//! one process per cell gives unreliable figures; with rounds, the report shows the median over
//! rounds of each round's median, and the ratio to `rc` is the median of same-round ratios. A
//! cell that overflowed in round 1 runs directly on the big stack in later rounds; one that gave
//! no figure in round 1 is not run again. The small-stack check runs once, after all rounds.
//!
//! `generations` measures what generations and `freeze()` save (cyclegc only, `--sync` for
//! the thread-safe flavour; see
//! `cyclegc_bench::generations`): `N` repetitions (default 7) of each collection after one
//! warm-up, in this process, and prints their medians and ratios.
//!
//! `table --sync` runs the thread-safe table instead: the thread-safe columns (`peers::SYNC`)
//! on the `sync_*` workloads (`workloads::SYNC_WORKLOADS`), with ratios to `arc` instead of
//! `rc`, and the mutator's throughput with a collector thread running as a fraction of its
//! throughput alone.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use cyclegc_bench::workloads::{self, Sample, SYNC_WORKLOADS, WORKLOADS};
use cyclegc_bench::{for_peer, for_sync_peer, live, peers, proc_status_kib, Peer};

const USAGE: &str = "usage:
  peerbench run <peer> <workload> [--reps N] [--warmup W] [--stack-kib K]
  peerbench table [--sync] [--reps N] [--rounds R] [--peers a,b,..] [--workloads x,y,..]
                  [--stack-kib K] [--big-stack-kib K] [--no-rerun] [--check-stack-kib K]
                  [--no-stack-check] [--timeout-s T]
  peerbench list
  peerbench generations [--reps N] [--sync]";

const DEFAULT_STACK_KIB: u64 = 8 * 1024;
const DEFAULT_BIG_STACK_KIB: u64 = 1024 * 1024;
const DEFAULT_CHECK_STACK_KIB: u64 = 256;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => cmd_run(&args[1..]),
        Some("table") => cmd_table(&args[1..]),
        Some("generations") => cmd_generations(&args[1..]),
        Some("list") => {
            cmd_list();
            Ok(())
        }
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("peerbench: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn cmd_generations(args: &[String]) -> Result<(), String> {
    use cyclegc_bench::generations::{self, median, NEW_ROOTS, OLD_NODES};
    let flags = Flags::parse(args, &["sync"])?;
    let reps = flags.num("reps", 7)?.max(1) as usize;
    let sync = flags.has("sync");
    let report = generations::run(reps, sync);
    let (young, young_traced) = median(&report.young);
    let (full, full_traced) = median(&report.full);
    let (frozen, frozen_traced) = median(&report.frozen);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let flavour = if sync { "cyclegc::sync" } else { "cyclegc" };
    println!(
        "{flavour}: {OLD_NODES} old live objects, {NEW_ROOTS} new possible roots; median of \
         {reps} runs each, this process"
    );
    println!();
    println!("| collection | median ms | objects traced | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| `collect()` (full) | {:.3} | {full_traced} | 1 |",
        ms(full)
    );
    println!(
        "| `collect_generation(0)` | {:.3} | {young_traced} | {:.2} % of full |",
        ms(young),
        100.0 * young.as_secs_f64() / full.as_secs_f64()
    );
    println!(
        "| `collect()` after `freeze()` | {:.3} | {frozen_traced} | {:.2} % of full before |",
        ms(frozen),
        100.0 * frozen.as_secs_f64() / full.as_secs_f64()
    );
    Ok(())
}

fn cmd_list() {
    println!("peers:");
    for name in peers::ALL {
        println!("  {name:16} {}", crate_of(name));
    }
    println!("workloads:");
    for w in WORKLOADS {
        println!("  {:10} [ns/{}] {}", w.name, w.unit, w.what);
    }
    println!("thread-safe peers (table --sync):");
    for name in peers::SYNC {
        println!("  {name:16} {}", crate_of(name));
    }
    println!("thread-safe workloads (table --sync; thread-safe peers only):");
    for w in SYNC_WORKLOADS {
        println!("  {:12} [ns/{}] {}", w.name, w.unit, w.what);
    }
}

/// Whether `name` is a column (single-threaded or thread-safe).
fn is_peer(name: &str) -> bool {
    peers::ALL.contains(&name) || peers::SYNC.contains(&name)
}

fn crate_of(name: &str) -> &'static str {
    macro_rules! krate {
        ($t:ty) => {
            <$t as Peer>::CRATE
        };
    }
    for_peer!(name, krate, "?")
}

fn node_size_of(name: &str) -> usize {
    macro_rules! size {
        ($t:ty) => {
            <$t as Peer>::node_size()
        };
    }
    for_peer!(name, size, 0)
}

/// Command-line flags: `--name value` pairs and bare `--name` switches.
struct Flags {
    positional: Vec<String>,
    values: BTreeMap<String, String>,
    switches: Vec<String>,
}

impl Flags {
    fn parse(args: &[String], switches: &[&str]) -> Result<Flags, String> {
        let mut flags = Flags {
            positional: Vec::new(),
            values: BTreeMap::new(),
            switches: Vec::new(),
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            if let Some(name) = arg.strip_prefix("--") {
                if switches.contains(&name) {
                    flags.switches.push(name.to_string());
                } else {
                    let value = it.next().ok_or(format!("--{name} needs a value"))?;
                    flags.values.insert(name.to_string(), value.clone());
                }
            } else {
                flags.positional.push(arg.clone());
            }
        }
        Ok(flags)
    }

    fn num(&self, name: &str, default: u64) -> Result<u64, String> {
        match self.values.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{name}: not a number: {v}")),
        }
    }

    fn list(&self, name: &str) -> Option<Vec<String>> {
        self.values
            .get(name)
            .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
    }

    fn has(&self, name: &str) -> bool {
        self.switches.iter().any(|s| s == name)
    }
}

// ---------------------------------------------------------------------------------------------
// `run`: one cell, in this process.

fn cmd_run(args: &[String]) -> Result<(), String> {
    let flags = Flags::parse(args, &[])?;
    let [peer, workload] = &flags.positional[..] else {
        return Err(USAGE.to_string());
    };
    let reps = flags.num("reps", 5)?.max(1);
    let warmup = flags.num("warmup", 1)?;
    let stack_kib = flags.num("stack-kib", DEFAULT_STACK_KIB)?;
    let w = workloads::workload(workload).ok_or(format!("unknown workload {workload}"))?;
    if !is_peer(peer) {
        return Err(format!("unknown peer {peer}"));
    }
    let sync = workloads::is_sync(w.name);
    if sync && !peers::SYNC.contains(&peer.as_str()) {
        return Err(format!("{} needs a thread-safe peer, not {peer}", w.name));
    }
    cyclegc_bench::enable_breadcrumbs();
    cyclegc_bench::set_thread_stack(stack_kib as usize * 1024);
    let peer_name = peer.clone();
    let peer = peer.clone();
    let thread = std::thread::Builder::new()
        .name("cell".into())
        .stack_size(stack_kib as usize * 1024)
        .spawn(move || {
            macro_rules! go {
                ($t:ty) => {
                    run_cell::<$t>(w.name, warmup, reps, workloads::run::<$t>)
                };
            }
            macro_rules! go_sync {
                ($t:ty) => {
                    run_cell::<$t>(w.name, warmup, reps, workloads::run_sync::<$t>)
                };
            }
            if sync {
                for_sync_peer!(&peer, go_sync, unreachable!())
            } else {
                for_peer!(&peer, go, unreachable!())
            }
        })
        .map_err(|e| format!("cannot spawn the cell thread: {e}"))?;
    let cell = thread.join().map_err(|_| "the cell panicked".to_string())?;
    let mut line = format!(
        "RESULT peer={peer_name} workload={} stack_kib={stack_kib} reps={reps} unit={} ops={}",
        w.name,
        w.unit.replace(' ', "_"),
        cell.ops
    );
    let headline: Vec<f64> = cell.samples.iter().map(Sample::ns_per_op).collect();
    let (median, min, max) = stats(&headline);
    write!(
        line,
        " median_ns={median:.4} min_ns={min:.4} max_ns={max:.4}"
    )
    .unwrap();
    write!(
        line,
        " leaked={} wrongly_freed={} vmhwm_kib={} rss_start_kib={}",
        cell.leaked, cell.wrongly_freed, cell.vmhwm_kib, cell.rss_start_kib
    )
    .unwrap();
    let timed: Vec<&str> = cell.samples[0]
        .phases
        .iter()
        .filter(|p| p.timed)
        .map(|p| p.name)
        .collect();
    write!(line, " timed={}", timed.join(",")).unwrap();
    for (i, p) in cell.samples[0].phases.iter().enumerate() {
        let per_op: Vec<f64> = cell
            .samples
            .iter()
            .map(|s| s.phases[i].time.as_nanos() as f64 / s.ops as f64)
            .collect();
        write!(line, " phase.{}={:.4}", p.name, stats(&per_op).0).unwrap();
    }
    for (i, (name, _)) in cell.samples[0].counts.iter().enumerate() {
        let counts: Vec<f64> = cell.samples.iter().map(|s| s.counts[i].1 as f64).collect();
        write!(line, " count.{name}={}", stats(&counts).0).unwrap();
    }
    println!("{line}");
    Ok(())
}

struct Cell {
    samples: Vec<Sample>,
    ops: u64,
    leaked: i64,
    wrongly_freed: i64,
    vmhwm_kib: u64,
    rss_start_kib: u64,
}

/// Runs one cell: `run` is [`workloads::run`] or, for a thread-safe workload,
/// [`workloads::run_sync`], for column `F`.
fn run_cell<F: Peer>(
    workload: &str,
    warmup: u64,
    reps: u64,
    run: fn(&str) -> Option<Sample>,
) -> Cell {
    let rss_start_kib = proc_status_kib("VmRSS").unwrap_or(0);
    F::setup();
    let mut samples = Vec::new();
    let mut wrongly_freed = 0;
    for rep in 0..warmup + reps {
        cyclegc_bench::phase(if rep < warmup { "rep:warmup" } else { "rep" });
        let sample = run(workload).expect("known workload");
        wrongly_freed += sample.wrongly_freed;
        if rep >= warmup {
            samples.push(sample);
        }
    }
    // A last collection, then whatever is still alive was leaked.
    cyclegc_bench::phase("final_collect");
    F::collect();
    let leaked = live();
    let ops = samples[0].ops;
    Cell {
        samples,
        ops,
        leaked,
        wrongly_freed,
        vmhwm_kib: proc_status_kib("VmHWM").unwrap_or(0),
        rss_start_kib,
    }
}

/// Median, min, max.
fn stats(xs: &[f64]) -> (f64, f64, f64) {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (median, v[0], v[n - 1])
}

/// Median, min, max, or `None` if there is nothing to summarise.
fn stats_of(xs: &[f64]) -> Option<(f64, f64, f64)> {
    (!xs.is_empty()).then(|| stats(xs))
}

// ---------------------------------------------------------------------------------------------
// `table`: every cell in a child process.

/// What a child process reported.
#[derive(Debug, Clone, Default)]
struct Outcome {
    fields: BTreeMap<String, String>,
    /// `None` if the child printed a `RESULT`; else what went wrong.
    failure: Option<Failure>,
    wall: Duration,
}

#[derive(Debug, Clone)]
enum Failure {
    StackOverflow {
        phase: String,
    },
    Crash {
        status: String,
        phase: String,
        tail: String,
    },
    Timeout {
        phase: String,
    },
}

impl Failure {
    fn short(&self) -> String {
        match self {
            Failure::StackOverflow { phase } => format!("stack overflow in {phase}"),
            Failure::Crash { status, phase, .. } => format!("crash ({status}) in {phase}"),
            Failure::Timeout { phase } => format!("timeout in {phase}"),
        }
    }

    /// For a crash, its last lines of stderr as a note to append; else nothing.
    fn tail_note(&self) -> String {
        match self {
            Failure::Crash { tail, .. } if !tail.is_empty() => format!(" (`{tail}`)"),
            _ => String::new(),
        }
    }

    fn phase(&self) -> &str {
        match self {
            Failure::StackOverflow { phase }
            | Failure::Crash { phase, .. }
            | Failure::Timeout { phase } => phase,
        }
    }
}

impl Outcome {
    fn num(&self, key: &str) -> Option<f64> {
        self.fields.get(key)?.parse().ok()
    }
    fn median(&self) -> Option<f64> {
        self.num("median_ns")
    }
}

/// A cell of the table, over all its rounds.
///
/// This machine is a noisy shared VM: the same cell differs by 2–3x between processes started
/// seconds apart, so one process per cell gives unreliable figures, and a ratio of two such
/// figures is worse. `--rounds R` runs every cell in R processes, and the figures the report
/// shows are aggregated over the rounds here, one method per rule.
///
/// Round 1 runs on the normal stack and, if that overflows, again on the big stack (†). Later
/// rounds do not repeat a known overflow (see [`TableCell::later_stack`]).
#[derive(Debug, Clone, Default)]
struct TableCell {
    /// Round 1 on the normal stack. Its failure, if any, is the one the report describes.
    first: Outcome,
    /// Round 1's re-run on the big stack, if `first` overflowed (and re-runs are on).
    rerun: Option<Outcome>,
    /// Rounds 2, 3, ..., one run each, in order.
    later: Vec<Outcome>,
}

impl TableCell {
    /// Round 1's re-run on the big stack, if there was one and it gave figures.
    fn good_rerun(&self) -> Option<&Outcome> {
        self.rerun.as_ref().filter(|r| r.failure.is_none())
    }

    /// Whether the figures are from the big stack (†).
    fn big_stack(&self) -> bool {
        self.good_rerun().is_some()
    }

    /// The stack (KiB) for the cell's run in a round after the first: the big stack if round 1
    /// needed it (running the normal stack again would only overflow again), else the normal
    /// one; `None` (skip the cell) if round 1 gave no figure at all, as repeating a known
    /// failure costs time (up to the timeout) and adds nothing to aggregate.
    fn later_stack(&self, stack_kib: u64, big_stack_kib: u64) -> Option<u64> {
        if self.big_stack() {
            Some(big_stack_kib)
        } else if self.first.failure.is_none() {
            Some(stack_kib)
        } else {
            None
        }
    }

    /// The outcome that counts in each round, round 1 first. A failed round's has no fields.
    fn rounds(&self) -> impl Iterator<Item = &Outcome> {
        let first = self.good_rerun().unwrap_or(&self.first);
        std::iter::once(first).chain(&self.later)
    }

    /// `f` of every round that has it (failed rounds have nothing).
    fn values(&self, f: impl Fn(&Outcome) -> Option<f64>) -> Vec<f64> {
        self.rounds().filter_map(f).collect()
    }

    /// Each round's median ns per op, `None` where the round failed.
    fn round_medians(&self) -> Vec<Option<f64>> {
        self.rounds().map(Outcome::median).collect()
    }

    /// The headline figure: the median over rounds of each round's median.
    fn median(&self) -> Option<f64> {
        stats_of(&self.values(Outcome::median)).map(|s| s.0)
    }

    /// Min and max: with one round, over its reps; with more, over the rounds' medians, as the
    /// spread between processes is the larger one here.
    fn spread(&self, rounds: u64) -> Option<(f64, f64)> {
        if rounds == 1 {
            let o = self.rounds().next()?;
            Some((o.num("min_ns")?, o.num("max_ns")?))
        } else {
            stats_of(&self.values(Outcome::median)).map(|(_, lo, hi)| (lo, hi))
        }
    }

    /// Per round, this cell's median over `base`'s median in the same round (`None` where
    /// either failed). The two ran seconds apart, so they saw much the same machine; a ratio
    /// of medians taken over all rounds would mix different rounds' noise.
    fn round_ratios(&self, base: &TableCell) -> Vec<Option<f64>> {
        self.round_medians()
            .into_iter()
            .zip(base.round_medians())
            .map(|(m, b)| Some(m? / b.filter(|b| *b > 0.0)?))
            .collect()
    }

    /// The median of the same-round ratios to `base`.
    fn ratio_to(&self, base: &TableCell) -> Option<f64> {
        let ratios: Vec<f64> = self.round_ratios(base).into_iter().flatten().collect();
        stats_of(&ratios).map(|s| s.0)
    }

    /// The maximum over rounds of `f` (for memory: the worst round is the honest figure).
    fn max_of(&self, f: impl Fn(&Outcome) -> Option<f64>) -> Option<f64> {
        self.values(f).into_iter().reduce(f64::max)
    }

    /// Every phase's median over rounds of the round's phase median, by phase name.
    fn phase_medians(&self) -> BTreeMap<&str, f64> {
        let mut per_phase: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for o in self.rounds() {
            for (k, v) in &o.fields {
                if let (Some(name), Ok(v)) = (k.strip_prefix("phase."), v.parse::<f64>()) {
                    per_phase.entry(name).or_default().push(v);
                }
            }
        }
        per_phase
            .into_iter()
            .map(|(name, vs)| (name, stats(&vs).0))
            .collect()
    }

    /// The names of the timed phases (the same in every round).
    fn timed(&self) -> Vec<&str> {
        self.rounds()
            .find_map(|o| o.fields.get("timed"))
            .map(|t| t.split(',').collect())
            .unwrap_or_default()
    }

    /// The rounds (numbered from 1) whose `key` is non-zero, with its value.
    fn nonzero(&self, key: &str) -> Vec<(usize, f64)> {
        self.rounds()
            .enumerate()
            .filter_map(|(i, o)| Some((i + 1, o.num(key).filter(|v| *v != 0.0)?)))
            .collect()
    }

    fn mark(&self) -> String {
        match &self.first.failure {
            None => String::new(),
            Some(f) if self.big_stack() => format!(" †{}", f.phase()),
            Some(f) => f.short(),
        }
    }
}

fn run_child(
    peer: &str,
    workload: &str,
    reps: u64,
    stack_kib: u64,
    timeout: Duration,
) -> Result<Outcome, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut child = Command::new(exe)
        .args(["run", peer, workload, "--reps", &reps.to_string()])
        .args(["--stack-kib", &stack_kib.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot spawn a child: {e}"))?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if start.elapsed() > timeout {
            timed_out = true;
            let _ = child.kill();
            break child.wait().map_err(|e| e.to_string())?;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let wall = start.elapsed();
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    let phase = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("@phase "))
        .rfind(|p| !p.starts_with("rep"))
        .unwrap_or("startup")
        .to_string();
    let mut outcome = Outcome {
        wall,
        ..Outcome::default()
    };
    if let Some(line) = stdout.lines().find(|l| l.starts_with("RESULT ")) {
        if status.success() && !timed_out {
            for field in line.split_whitespace().skip(1) {
                if let Some((k, v)) = field.split_once('=') {
                    outcome.fields.insert(k.to_string(), v.to_string());
                }
            }
            return Ok(outcome);
        }
    }
    outcome.failure = Some(if timed_out {
        Failure::Timeout { phase }
    } else if stderr.contains("has overflowed its stack") {
        Failure::StackOverflow { phase }
    } else {
        let tail: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.starts_with("@phase"))
            .collect();
        let tail = tail[tail.len().saturating_sub(3)..].join(" / ");
        Failure::Crash {
            status: status.to_string(),
            phase,
            tail,
        }
    });
    Ok(outcome)
}

/// Ends a progress line on stderr: the cell's median, or what went wrong; `note` goes after the
/// wall time.
fn progress(o: &Outcome, unit: &str, note: &str) {
    let wall = o.wall.as_secs_f64();
    match &o.failure {
        None => eprintln!(
            "{:>10.3} ns/{unit}  ({wall:.1} s{note})",
            o.median().unwrap_or(f64::NAN)
        ),
        Some(f) => eprintln!("{}  ({wall:.1} s{note})", f.short()),
    }
}

fn cmd_table(args: &[String]) -> Result<(), String> {
    let flags = Flags::parse(args, &["sync", "no-rerun", "no-stack-check"])?;
    let sync = flags.has("sync");
    let (all_peers, all_workloads, base) = if sync {
        (peers::SYNC, SYNC_WORKLOADS, "arc")
    } else {
        (peers::ALL, WORKLOADS, "rc")
    };
    let reps = flags.num("reps", 5)?.max(1);
    let rounds = flags.num("rounds", 1)?.max(1);
    let stack_kib = flags.num("stack-kib", DEFAULT_STACK_KIB)?;
    let big_stack_kib = flags.num("big-stack-kib", DEFAULT_BIG_STACK_KIB)?;
    let check_stack_kib = flags.num("check-stack-kib", DEFAULT_CHECK_STACK_KIB)?;
    let timeout = Duration::from_secs(flags.num("timeout-s", 900)?);
    let peer_names: Vec<String> = flags
        .list("peers")
        .unwrap_or_else(|| all_peers.iter().map(|s| s.to_string()).collect());
    for p in &peer_names {
        if !all_peers.contains(&p.as_str()) {
            let table = if sync { "the --sync" } else { "this" };
            return Err(format!("{p} is not a column of {table} table"));
        }
    }
    let wl: Vec<&'static workloads::Workload> = match flags.list("workloads") {
        None => all_workloads.iter().collect(),
        Some(names) => names
            .iter()
            .map(|n| {
                all_workloads
                    .iter()
                    .find(|w| w.name == n)
                    .ok_or(format!("{n} is not a workload of this table (--sync?)"))
            })
            .collect::<Result<_, _>>()?,
    };
    let started = Instant::now();
    let load_start = loadavg();
    let mut cells: BTreeMap<(String, &'static str), TableCell> = BTreeMap::new();
    // Rounds outermost, so that a workload's columns (`rc` among them) run back to back within
    // each round and their same-round ratio compares runs that saw much the same machine.
    for round in 1..=rounds {
        let tag = if rounds > 1 {
            format!("[round {round}/{rounds}] ")
        } else {
            String::new()
        };
        for w in &wl {
            for p in &peer_names {
                eprint!("{tag}{:>16} {:10} ", p, w.name);
                let key = (p.clone(), w.name);
                if round == 1 {
                    let first = run_child(p, w.name, reps, stack_kib, timeout)?;
                    progress(&first, w.unit, "");
                    let overflowed = matches!(first.failure, Some(Failure::StackOverflow { .. }));
                    let mut cell = TableCell {
                        first,
                        ..TableCell::default()
                    };
                    if overflowed && !flags.has("no-rerun") {
                        let pad = " ".repeat(tag.len());
                        eprint!("{pad}{:>16} {:10} ", "", "† re-run");
                        let rerun = run_child(p, w.name, reps, big_stack_kib, timeout)?;
                        progress(&rerun, w.unit, &format!(", {big_stack_kib} KiB stack"));
                        cell.rerun = Some(rerun);
                    }
                    cells.insert(key, cell);
                } else {
                    let cell = cells.get_mut(&key).expect("round 1 ran every cell");
                    match cell.later_stack(stack_kib, big_stack_kib) {
                        None => eprintln!("skipped: no figure in round 1"),
                        Some(kib) => {
                            let o = run_child(p, w.name, reps, kib, timeout)?;
                            let note = if cell.big_stack() {
                                format!(", {kib} KiB stack †")
                            } else {
                                String::new()
                            };
                            progress(&o, w.unit, &note);
                            cell.later.push(o);
                        }
                    }
                }
            }
        }
    }
    let mut checks: Vec<(String, &'static str, Outcome)> = Vec::new();
    if !flags.has("no-stack-check") {
        for p in peer_names.iter().filter(|p| p.starts_with("cyclegc")) {
            for w in wl.iter().filter(|w| w.deep || w.name.ends_with("tree")) {
                eprint!("{:>16} {:10} ", p, w.name);
                let o = run_child(p, w.name, reps, check_stack_kib, timeout)?;
                progress(&o, w.unit, &format!(", {check_stack_kib} KiB stack"));
                checks.push((p.clone(), w.name, o));
            }
        }
    }
    let total = started.elapsed();
    let load = format!("{load_start} at the start, {} at the end", loadavg());
    print_report(&Report {
        peers: &peer_names,
        workloads: &wl,
        cells: &cells,
        checks: &checks,
        reps,
        rounds,
        stack_kib,
        big_stack_kib,
        check_stack_kib,
        total,
        load,
        base,
        sync,
    });
    Ok(())
}

struct Report<'a> {
    peers: &'a [String],
    workloads: &'a [&'static workloads::Workload],
    cells: &'a BTreeMap<(String, &'static str), TableCell>,
    checks: &'a [(String, &'static str, Outcome)],
    reps: u64,
    /// `--rounds`: how many times every cell ran, each time in a new process.
    rounds: u64,
    stack_kib: u64,
    big_stack_kib: u64,
    check_stack_kib: u64,
    total: Duration,
    load: String,
    /// The floor column the ratios are to: `rc`, or `arc` for the thread-safe table.
    base: &'static str,
    /// Whether this is the thread-safe table (`--sync`).
    sync: bool,
}

/// The 1-minute load average, to tell a quiet run from a busy one.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn fmt_ns(x: f64) -> String {
    if x >= 1000.0 {
        format!("{x:.0}")
    } else if x >= 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn fmt_stack(kib: u64) -> String {
    if kib >= 1024 * 1024 && kib % (1024 * 1024) == 0 {
        format!("{} GiB", kib / (1024 * 1024))
    } else if kib >= 1024 && kib % 1024 == 0 {
        format!("{} MiB", kib / 1024)
    } else {
        format!("{kib} KiB")
    }
}

fn header(first: &str, columns: &[String]) -> String {
    let mut s = format!("| {first} |");
    for p in columns {
        write!(s, " {p} |").unwrap();
    }
    s.push_str("\n|---|");
    for _ in columns {
        s.push_str("---:|");
    }
    s.push('\n');
    s
}

/// A table with one row per workload and one column per peer in `columns`: `label` names the
/// row, `cell` renders the cell of (workload, peer).
fn workload_table(
    o: &mut String,
    r: &Report,
    columns: &[String],
    first: &str,
    label: impl Fn(&workloads::Workload) -> String,
    cell: impl Fn(&workloads::Workload, &TableCell) -> String,
) {
    o.push_str(&header(first, columns));
    for w in r.workloads {
        write!(o, "| {} |", label(w)).unwrap();
        for p in columns {
            write!(o, " {} |", cell(w, &r.cells[&(p.clone(), w.name)])).unwrap();
        }
        o.push('\n');
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into());
    format!("{cores} cores, {cpu}; {rustc}")
}

impl Report<'_> {
    /// The floor's cell (`rc`, or `arc`) a workload's ratios are to; none for `live_ring`,
    /// whose `rc` collect is a no-op.
    fn rc_base(&self, workload: &'static str) -> Option<&TableCell> {
        if workload == "live_ring" {
            return None;
        }
        self.cells.get(&(self.base.to_string(), workload))
    }

    /// "round 2" or "rounds 2–R": the rounds after the first, for notes.
    fn later_rounds(&self) -> String {
        match self.rounds {
            2 => "round 2".to_string(),
            n => format!("rounds 2–{n}"),
        }
    }

    /// For a note on rounds that reported something ([`TableCell::nonzero`]): the values, and
    /// which rounds (nothing with one round).
    fn per_round(&self, hits: &[(usize, f64)]) -> (String, String) {
        let values: Vec<String> = hits.iter().map(|(_, v)| v.to_string()).collect();
        let which = if self.rounds > 1 {
            let rounds: Vec<String> = hits.iter().map(|(i, _)| i.to_string()).collect();
            let s = if hits.len() > 1 { "s" } else { "" };
            format!(" (in round{s} {} of {})", rounds.join(", "), self.rounds)
        } else {
            String::new()
        };
        (values.join(", "), which)
    }
}

fn print_report(r: &Report) {
    let mut out = String::new();
    let o = &mut out;
    let n = r.rounds;
    let many = n > 1;
    let base = r.base;
    let title = if r.sync { ": thread-safe columns" } else { "" };
    writeln!(o, "## peerbench results{title}\n").unwrap();
    let rounds = if many {
        format!(
            "; {n} rounds: the whole table ran {n} times, round after round, and the figures \
             below are aggregated over the rounds as each heading says, because one process per \
             cell is too noisy here"
        )
    } else {
        String::new()
    };
    writeln!(
        o,
        "Machine: {}. {} measured reps + 1 warm-up per cell, each cell in its own process on a \
         {} stack{rounds}. Total time {:.0} s. Load average (1 min): {}.\n",
        machine(),
        r.reps,
        fmt_stack(r.stack_kib),
        r.total.as_secs_f64(),
        r.load
    )
    .unwrap();
    writeln!(o, "Columns:").unwrap();
    for p in r.peers {
        writeln!(o, "* `{p}`: {}", crate_of(p)).unwrap();
    }
    writeln!(o).unwrap();

    // Medians.
    let how = if many {
        format!("; median over {n} rounds of each round's median")
    } else {
        String::new()
    };
    writeln!(
        o,
        "### Median ns per op (lower is better{how})\n\n† = overflowed the {} stack in the named \
         phase; the figure is from a re-run on a {} stack.\n",
        fmt_stack(r.stack_kib),
        fmt_stack(r.big_stack_kib)
    )
    .unwrap();
    workload_table(
        o,
        r,
        r.peers,
        "workload [unit]",
        |w| format!("{} [ns/{}]", w.name, w.unit),
        |_, cell| match cell.median() {
            Some(m) => format!("{}{}", fmt_ns(m), cell.mark()),
            None => cell.mark(),
        },
    );

    // Ratios.
    let how = if many {
        format!(
            "median over {n} rounds of same-round ratios, each a cell's median over `{base}`'s \
             median in the same round"
        )
    } else {
        "same run".to_string()
    };
    let live_ring = if r.sync {
        ""
    } else {
        "; `live_ring` has no `rc` figure: its collect is a no-op"
    };
    writeln!(o, "\n### Ratio to `{base}` ({how}{live_ring})\n").unwrap();
    let dagger = |cell: &TableCell| if cell.big_stack() { "†" } else { "" };
    workload_table(
        o,
        r,
        r.peers,
        "workload",
        |w| w.name.to_string(),
        |w, cell| match (
            cell.median(),
            r.rc_base(w.name).and_then(|b| cell.ratio_to(b)),
        ) {
            (None, _) => "✗".to_string(),
            (Some(_), Some(x)) => format!("{x:.2}x{}", dagger(cell)),
            (Some(_), None) => "–".to_string(),
        },
    );
    let cyclegc: Vec<String> = r
        .peers
        .iter()
        .filter(|p| p.starts_with("cyclegc"))
        .cloned()
        .collect();
    if many && !cyclegc.is_empty() {
        writeln!(
            o,
            "\n### Ratio to `{base}`, round by round\n\nRound 1 first; – = no figure in that round. \
             The median is the one in the table above.\n"
        )
        .unwrap();
        workload_table(
            o,
            r,
            &cyclegc,
            "workload",
            |w| w.name.to_string(),
            |w, cell| {
                if cell.median().is_none() {
                    return "✗".to_string();
                }
                let Some((base, median)) =
                    r.rc_base(w.name).and_then(|b| Some((b, cell.ratio_to(b)?)))
                else {
                    return "–".to_string();
                };
                let each: Vec<String> = cell
                    .round_ratios(base)
                    .into_iter()
                    .map(|x| x.map_or("–".to_string(), |x| format!("{x:.2}")))
                    .collect();
                format!("{} (median {median:.2}){}", each.join(", "), dagger(cell))
            },
        );
    }

    // The mutator's throughput with a collector running, as a fraction of it alone.
    for w in r
        .workloads
        .iter()
        .filter(|w| w.name == "sync_mutator" || w.name == "sync_mutator_collect")
    {
        writeln!(
            o,
            "\n### `{}`: the mutator's throughput while another thread collects, as a fraction of \
             its throughput alone (per round, phase `mutate_alone` over phase \
             `mutate_with_collector`, each the median over the reps; median [min–max] over the \
             rounds), and the collector thread's completed loops per run\n",
            w.name
        )
        .unwrap();
        o.push_str(&header("what", r.peers));
        write!(o, "| throughput with the collector / alone |").unwrap();
        for p in r.peers {
            let cell = &r.cells[&(p.clone(), w.name)];
            let fractions = cell.values(|o| {
                Some(o.num("phase.mutate_alone")? / o.num("phase.mutate_with_collector")?)
            });
            match stats_of(&fractions) {
                Some((m, lo, hi)) if many => write!(o, " {m:.2} [{lo:.2}–{hi:.2}] |").unwrap(),
                Some((m, _, _)) => write!(o, " {m:.2} |").unwrap(),
                None => write!(o, " ✗ |").unwrap(),
            }
        }
        write!(o, "\n| collector loops per run |").unwrap();
        for p in r.peers {
            let cell = &r.cells[&(p.clone(), w.name)];
            match stats_of(&cell.values(|o| o.num("count.collector_loops"))) {
                Some((m, _, _)) => write!(o, " {m} |").unwrap(),
                None => write!(o, " ✗ |").unwrap(),
            }
        }
        o.push('\n');
    }

    // Spread.
    let how = if many {
        format!("over the {n} rounds of each round's median ns per op")
    } else {
        "ns per op over the measured reps".to_string()
    };
    writeln!(o, "\n### Spread: min – max {how}\n").unwrap();
    workload_table(
        o,
        r,
        r.peers,
        "workload",
        |w| w.name.to_string(),
        |_, cell| match cell.spread(n) {
            Some((a, b)) => format!("{}–{}", fmt_ns(a), fmt_ns(b)),
            None => "✗".to_string(),
        },
    );

    // Phases.
    let how = if many {
        format!(", median over {n} rounds")
    } else {
        String::new()
    };
    writeln!(
        o,
        "\n### Phase medians, ns per op{how} (timed phases in bold; B = build, D = drop, \
         C = collect, T = touch, CL = collect while alive, cd2 = clone+drop on two threads, \
         MA = mutate alone, MC = mutate with a collector thread)\n"
    )
    .unwrap();
    workload_table(
        o,
        r,
        r.peers,
        "workload",
        |w| w.name.to_string(),
        |_, cell| {
            if cell.median().is_none() {
                return "✗".to_string();
            }
            let timed = cell.timed();
            let mut parts = Vec::new();
            for (name, v) in cell.phase_medians() {
                let short = match name {
                    "build" => "B",
                    "drop" => "D",
                    "collect" => "C",
                    "touch" => "T",
                    "collect_live" => "CL",
                    "clone_drop" => "cd",
                    "clone_drop_2t" => "cd2",
                    "mutate_alone" => "MA",
                    "mutate_with_collector" => "MC",
                    "deref" => "r",
                    "ops" => "ops",
                    other => other,
                };
                let order = [
                    "B", "T", "cd", "cd2", "r", "ops", "MA", "MC", "CL", "D", "C",
                ]
                .iter()
                .position(|s| *s == short)
                .unwrap_or(99);
                let text = if timed.contains(&name) {
                    format!("**{short}={}**", fmt_ns(v))
                } else {
                    format!("{short}={}", fmt_ns(v))
                };
                parts.push((order, text));
            }
            parts.sort();
            let parts: Vec<String> = parts.into_iter().map(|(_, t)| t).collect();
            parts.join(" ")
        },
    );

    // Memory: the worst round, as memory use is not what the machine's noise inflates.
    let how = if many {
        format!(", maximum over {n} rounds")
    } else {
        String::new()
    };
    writeln!(
        o,
        "\n### Peak RSS of the cell process (VmHWM), MiB{how}\n\nIncludes the process baseline \
         (about 2–3 MiB) and, for † cells, the deep recursion's stack pages.\n"
    )
    .unwrap();
    workload_table(
        o,
        r,
        r.peers,
        "workload",
        |w| w.name.to_string(),
        |_, cell| match cell.max_of(|o| o.num("vmhwm_kib")) {
            Some(k) => format!("{:.1}{}", k / 1024.0, dagger(cell)),
            None => "✗".to_string(),
        },
    );
    if let Some(alloc) = r
        .workloads
        .iter()
        .find(|w| w.name == "alloc" || w.name == "sync_alloc")
    {
        writeln!(
            o,
            "\n### Memory per node (from `{}`: (VmHWM − RSS at start − the 8 MB `Vec`) / 1M \
             nodes{how}; the node value itself is the size shown)\n",
            alloc.name
        )
        .unwrap();
        o.push_str(&header("what", r.peers));
        write!(o, "| bytes per live node |").unwrap();
        let nodes = workloads::ALLOC_NODES as f64;
        for p in r.peers {
            let bytes = r.cells[&(p.clone(), alloc.name)].max_of(|o| {
                let (h, s) = (o.num("vmhwm_kib")?, o.num("rss_start_kib")?);
                Some(((h - s) * 1024.0 - 8.0 * nodes) / nodes)
            });
            match bytes {
                Some(bytes) => write!(o, " {bytes:.1} |").unwrap(),
                None => write!(o, " ✗ |").unwrap(),
            }
        }
        write!(o, "\n| node value size, bytes |").unwrap();
        for p in r.peers {
            write!(o, " {} |", node_size_of(p)).unwrap();
        }
        o.push('\n');
    }

    // Failures, leaks.
    writeln!(o, "\n### Stack overflows, crashes, leaks\n").unwrap();
    let mut notes = 0;
    for w in r.workloads {
        for p in r.peers {
            let cell = &r.cells[&(p.clone(), w.name)];
            let later_stack = cell.later_stack(r.stack_kib, r.big_stack_kib);
            if let Some(f) = &cell.first.failure {
                notes += 1;
                let rerun = match &cell.rerun {
                    Some(o) => match &o.failure {
                        None => format!(
                            "; on a {} stack it completes (figure marked †)",
                            fmt_stack(r.big_stack_kib)
                        ),
                        Some(f2) => format!(
                            "; on a {} stack: {}",
                            fmt_stack(r.big_stack_kib),
                            f2.short()
                        ),
                    },
                    None => String::new(),
                };
                let later = match later_stack {
                    _ if !many => String::new(),
                    Some(kib) => {
                        format!("; {} ran on the {} stack", r.later_rounds(), fmt_stack(kib))
                    }
                    None => format!("; not run again in {}", r.later_rounds()),
                };
                writeln!(
                    o,
                    "* `{p}` / `{}`: {} on the {} stack{}{rerun}{later}.",
                    w.name,
                    f.short(),
                    fmt_stack(r.stack_kib),
                    f.tail_note()
                )
                .unwrap();
            }
            for (i, later) in cell.later.iter().enumerate() {
                if let Some(f) = &later.failure {
                    notes += 1;
                    writeln!(
                        o,
                        "* `{p}` / `{}`: round {}: {} on the {} stack{}; the figures are from \
                         the other rounds.",
                        w.name,
                        i + 2,
                        f.short(),
                        fmt_stack(later_stack.unwrap_or(r.stack_kib)),
                        f.tail_note()
                    )
                    .unwrap();
                }
            }
            let leaks = cell.nonzero("leaked");
            if !leaks.is_empty() {
                notes += 1;
                let (l, rounds) = r.per_round(&leaks);
                writeln!(
                    o,
                    "* `{p}` / `{}`: LEAK: {l} nodes still alive after {} runs and a final \
                     collect{rounds}.",
                    w.name,
                    r.reps + 1
                )
                .unwrap();
            }
            let freed = cell.nonzero("wrongly_freed");
            if !freed.is_empty() {
                notes += 1;
                let (l, rounds) = r.per_round(&freed);
                writeln!(
                    o,
                    "* `{p}` / `{}`: BUG: the collection freed {l} live nodes{rounds}.",
                    w.name
                )
                .unwrap();
            }
        }
    }
    if notes == 0 {
        writeln!(o, "None.").unwrap();
    }

    if !r.checks.is_empty() {
        writeln!(
            o,
            "\n### cyclegc on a {} stack (no deep recursion allowed)\n",
            fmt_stack(r.check_stack_kib)
        )
        .unwrap();
        writeln!(
            o,
            "| column | workload | result | median ns/op | ratio to {base} |"
        )
        .unwrap();
        writeln!(o, "|---|---|---|---:|---:|").unwrap();
        for (p, w, outcome) in r.checks {
            // One run, after all rounds: compared with `rc`'s aggregated (median) figure.
            let floor = r.rc_base(w).and_then(TableCell::median);
            let (result, median, ratio) = match (&outcome.failure, outcome.median()) {
                (None, Some(m)) => (
                    "ok".to_string(),
                    fmt_ns(m),
                    floor.map_or("–".into(), |f| format!("{:.2}x", m / f)),
                ),
                (Some(f), _) => (f.short(), "–".into(), "–".into()),
                (None, None) => ("?".into(), "–".into(), "–".into()),
            };
            writeln!(o, "| {p} | {w} | {result} | {median} | {ratio} |").unwrap();
        }
    }
    print!("{out}");
}
