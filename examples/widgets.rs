//! A widget tree with parent pointers and event handlers. Children point to their parent
//! with a `Weak` (no cycle), but a handler usually needs the widget it is attached to —
//! the classic leak of `Rc<RefCell<…>>` GUIs and of rust-gc issue #50 ("GC isn't closure
//! friendly"): the widget owns the handler, the handler's closure captures the widget.
//!
//! A plain closure's captures are invisible to any collector. `TracedFn` keeps what the
//! handler works on as a traced part (`captures`) next to a `Copy` function, so the
//! widget -> handler -> widget cycle is an ordinary one, and `collect()` reclaims it.
//!
//! Run with `cargo run --example widgets`.

use std::cell::{Cell, RefCell};

use cyclegc::{Callback, Gc, Trace, TracedFn, Weak};

/// What handlers receive.
#[derive(Clone, Copy, Debug)]
enum Event {
    Click,
    Key(char),
}

#[derive(Trace)]
struct Widget {
    name: String,
    parent: RefCell<Weak<Widget>>,
    children: RefCell<Vec<Gc<Widget>>>,
    handlers: RefCell<Vec<Box<dyn Callback<Event>>>>,
    #[trace(skip)]
    events_seen: Cell<u32>,
}

impl Widget {
    fn new(name: &str) -> Gc<Widget> {
        Gc::new(Widget {
            name: name.to_owned(),
            parent: RefCell::new(Weak::new()),
            children: RefCell::new(Vec::new()),
            handlers: RefCell::new(Vec::new()),
            events_seen: Cell::new(0),
        })
    }

    fn add_child(parent: &Gc<Widget>, child: Gc<Widget>) {
        *child.parent.borrow_mut() = Gc::downgrade(parent);
        parent.children.borrow_mut().push(child);
    }

    fn on_event(&self, handler: impl Callback<Event> + 'static) {
        self.handlers.borrow_mut().push(Box::new(handler));
    }

    /// Delivers `event` to this widget's handlers, then bubbles it up to the parent.
    fn dispatch(widget: &Gc<Widget>, event: Event) {
        let mut current = Some(widget.clone());
        while let Some(w) = current {
            for handler in w.handlers.borrow().iter() {
                handler.call(event);
            }
            current = w.parent.borrow().upgrade();
        }
    }

    fn path(&self) -> String {
        match self.parent.borrow().upgrade() {
            Some(parent) => format!("{}/{}", parent.path(), self.name),
            None => self.name.clone(),
        }
    }
}

impl Drop for Widget {
    fn drop(&mut self) {
        println!(
            "dropping widget {} ({} events)",
            self.name,
            self.events_seen.get()
        );
    }
}

fn main() {
    let window = Widget::new("window");
    let form = Widget::new("form");
    let button = Widget::new("ok");
    Widget::add_child(&window, form.clone());
    Widget::add_child(&form, button.clone());

    // Each handler captures the widget it belongs to: a cycle through the handler list.
    for widget in [&window, &form, &button] {
        widget.on_event(TracedFn::new(
            widget.clone(),
            |widget: &Gc<Widget>, event: Event| {
                widget.events_seen.set(widget.events_seen.get() + 1);
                println!("{} got {event:?}", widget.path());
            },
        ));
    }
    // A handler on the window that also needs the button.
    window.on_event(TracedFn::new(
        (window.clone(), button.clone()),
        |(window, button): &(Gc<Widget>, Gc<Widget>), event: Event| {
            if let Event::Key('\n') = event {
                println!("{}: enter pressed, activating {}", window.name, button.name);
            }
        },
    ));

    Widget::dispatch(&button, Event::Click);
    Widget::dispatch(&form, Event::Key('\n'));
    assert_eq!(button.events_seen.get(), 1);
    assert_eq!(window.events_seen.get(), 2);

    println!("closing the window; its handlers keep every widget alive ...");
    drop((window, form, button));
    let freed = cyclegc::collect();
    println!("... until collect() freed {freed} widgets");
    assert_eq!(freed, 3);
}
