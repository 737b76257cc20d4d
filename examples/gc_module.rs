//! Python's `gc` module, as cyclegc offers it: a look at the heap (`gc.get_objects()`,
//! `get_referrers()`), generations (`gc.collect(0)`, `gc.get_objects(generation)`), a
//! callback's log (`gc.callbacks`), saved garbage (`DEBUG_SAVEALL`, `gc.garbage`) and the
//! statistics per generation (`gc.get_stats()`); then the thread-safe heap, which every thread
//! shares, seen the same way (`cyclegc::sync::objects`, `referrers`).
//!
//! Run with `cargo run --example gc_module`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use cyclegc::{
    add_callback, collect, collect_generation, objects, objects_in, referrers, remove_callback,
    set_save_all, stats, take_garbage, AnyGc, CallbackPhase, Gc, Trace,
};

/// A document with parent and child links: strong both ways, so a dropped subtree is a
/// cycle only the collector can free.
#[derive(Trace)]
struct Section {
    #[trace(skip)]
    title: String,
    parent: RefCell<Option<Gc<Section>>>,
    children: RefCell<Vec<Gc<Section>>>,
}

fn section(title: &str, parent: Option<&Gc<Section>>) -> Gc<Section> {
    let node = Gc::new(Section {
        title: title.to_owned(),
        parent: RefCell::new(parent.cloned()),
        children: RefCell::new(Vec::new()),
    });
    if let Some(parent) = parent {
        parent.children.borrow_mut().push(node.clone());
    }
    node
}

fn main() {
    // Every collection's start and stop, as Python's `gc.callbacks` would print them.
    let log = Rc::new(RefCell::new(Vec::new()));
    let sink = log.clone();
    let callback = add_callback(move |event| {
        let line = match event.phase {
            CallbackPhase::Start => format!("start: generation {}", event.generation),
            CallbackPhase::Stop => format!(
                "stop: {} collected, {} uncollectable, in {:?}",
                event.collected,
                event.uncollectable,
                event.duration.unwrap_or_default()
            ),
        };
        sink.borrow_mut().push(line);
    });

    let book = section("book", None);
    let intro = section("introduction", Some(&book));
    for title in ["motivation", "history"] {
        section(title, Some(&intro));
    }
    let appendix = section("appendix", Some(&book));

    // What the heap holds, by type, and who points to the introduction.
    let mut by_type = BTreeMap::new();
    for object in objects() {
        *by_type.entry(object.type_name()).or_insert(0) += 1;
    }
    println!("tracked objects by type: {by_type:?}");
    let holders: Vec<String> = referrers(&AnyGc::from(intro.clone()))
        .into_iter()
        .map(|o| {
            o.downcast::<Section>()
                .expect("only sections here")
                .title
                .clone()
        })
        .collect();
    println!("what points to the introduction: {holders:?}");
    assert_eq!(holders, ["book", "motivation", "history"]);

    // Detached from the book, the appendix keeps only its link up: no cycle, so reference
    // counting frees it as it is dropped.
    book.children
        .borrow_mut()
        .retain(|s| !Gc::ptr_eq(s, &appendix));
    drop(appendix);
    // The book survives a full collection: it is in the oldest generation now. A scratch
    // note that refers to itself is young, and a collection of generation 0 finds it
    // without tracing the book.
    assert_eq!(collect(), 0, "the book is alive");
    let note = section("scratch note", None);
    note.children.borrow_mut().push(note.clone());
    drop(note);
    let per_generation: Vec<usize> = (0..3).map(|g| objects_in(g).len()).collect();
    println!("objects in generations 0, 1, 2: {per_generation:?}");
    assert_eq!(per_generation, [1, 0, 4]);
    assert_eq!(collect_generation(0), 1);
    // From here on, keep what the collector finds, to look at it before it goes.
    set_save_all(true);
    drop((book, intro));
    assert_eq!(collect(), 0, "found, but kept");
    set_save_all(false);
    let garbage = take_garbage();
    let titles: Vec<String> = garbage
        .iter()
        .map(|o| o.clone().downcast::<Section>().unwrap().title.clone())
        .collect();
    println!("saved garbage: {titles:?}");
    assert_eq!(titles.len(), 4);
    drop(garbage);
    assert_eq!(collect(), 4);

    remove_callback(callback);
    println!("callback log:");
    for line in log.borrow().iter() {
        println!("  {line}");
    }
    println!("{}", stats());

    // The thread-safe flavour needs 64-bit atomics.
    #[cfg(target_has_atomic = "64")]
    shared_heap();
}

/// A job queue that worker threads fill: the shared heap lists what every thread made.
#[cfg(target_has_atomic = "64")]
fn shared_heap() {
    use cyclegc::sync::{self, Gc as SyncGc};
    use std::sync::Mutex;

    #[derive(Trace)]
    struct Job {
        #[trace(skip)]
        name: String,
        queue: Mutex<Option<SyncGc<Queue>>>,
    }

    #[derive(Trace)]
    struct Queue {
        jobs: Mutex<Vec<SyncGc<Job>>>,
    }

    let queue = SyncGc::new(Queue {
        jobs: Mutex::new(Vec::new()),
    });
    let workers: Vec<_> = (0..3)
        .map(|worker| {
            let queue = queue.clone();
            std::thread::spawn(move || {
                let job = SyncGc::new(Job {
                    name: format!("job from worker {worker}"),
                    queue: Mutex::new(Some(queue.clone())),
                });
                queue.jobs.lock().unwrap().push(job);
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let mut by_type = BTreeMap::new();
    for object in sync::objects() {
        *by_type.entry(object.type_name()).or_insert(0) += 1;
    }
    println!("shared heap, by type: {by_type:?}");
    let mut holders: Vec<String> = sync::referrers(&sync::AnyGc::from(queue.clone()))
        .into_iter()
        .map(|o| {
            o.downcast::<Job>()
                .expect("only jobs point to the queue")
                .name
                .clone()
        })
        .collect();
    holders.sort();
    println!("what points to the queue: {holders:?}");
    assert_eq!(holders.len(), 3);
    // Each job and the queue point to each other: cycles for the collector.
    drop(queue);
    assert_eq!(sync::collect(), 4);
    assert!(sync::objects().is_empty());
}
