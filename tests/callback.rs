//! `TracedFn` and `Callback`: a handler that captures its own widget is an ordinary cycle.
#![cfg(feature = "derive")]

use std::cell::{Cell, RefCell};

use cyclegc::{Callback, Gc, Trace, TracedFn, Weak};

#[derive(Trace)]
struct Widget {
    handlers: RefCell<Vec<Box<dyn Callback<u32, u32>>>>,
    #[trace(skip)]
    clicks: Cell<u32>,
}

#[test]
fn a_handler_capturing_its_widget_is_collected() {
    let widget = Gc::new(Widget {
        handlers: RefCell::new(Vec::new()),
        clicks: Cell::new(0),
    });
    let handler = TracedFn::new(widget.clone(), |w: &Gc<Widget>, n: u32| {
        w.clicks.set(w.clicks.get() + n);
        w.clicks.get()
    });
    widget.handlers.borrow_mut().push(Box::new(handler));
    let total: u32 = widget.handlers.borrow().iter().map(|h| h.call(3)).sum();
    assert_eq!(total, 3);
    let weak: Weak<Widget> = Gc::downgrade(&widget);
    drop(widget);
    assert!(weak.upgrade().is_some(), "the handler keeps its widget");
    assert_eq!(cyclegc::collect(), 1);
    assert!(weak.upgrade().is_none());
}

#[test]
fn captures_decide_whether_a_callback_is_tracked() {
    type Plain = TracedFn<u32, fn(&u32, ()) -> u32>;
    type Holding = TracedFn<Gc<u32>, fn(&Gc<u32>, ()) -> u32>;
    assert!(!<Plain as Trace>::may_contain_gc());
    assert!(<Holding as Trace>::may_contain_gc());
}

#[test]
#[cfg(target_has_atomic = "64")]
fn a_sync_handler_capturing_its_subject_is_collected() {
    use cyclegc::sync;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    static DROPS: AtomicUsize = AtomicUsize::new(0);
    #[derive(Trace)]
    struct Subject {
        handlers: Mutex<Vec<Box<dyn Callback<(), usize> + Send + Sync>>>,
    }
    impl Drop for Subject {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }
    let subject = sync::Gc::new(Subject {
        handlers: Mutex::new(Vec::new()),
    });
    let handler = TracedFn::new(subject.clone(), |s: &sync::Gc<Subject>, (): ()| {
        sync::Gc::strong_count(s)
    });
    subject.handlers.lock().unwrap().push(Box::new(handler));
    let counts: Vec<usize> = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                subject
                    .handlers
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|h| h.call(()))
                    .collect()
            })
            .join()
            .unwrap()
    });
    assert_eq!(counts, [2]);
    drop(subject);
    assert_eq!(sync::collect(), 1);
    assert_eq!(DROPS.load(Ordering::SeqCst), 1);
}
