use std::rc::Rc;

use cyclegc::Trace;

struct NotTrace;

#[derive(Trace)]
struct S {
    ok: String,
    shared: Rc<String>,
}

#[derive(Trace)]
enum E {
    A(u8),
    B { local: NotTrace },
}

// A generic field gets a `T: Trace` bound, so the error is at the use site.
#[derive(Trace)]
struct Wrapper<T> {
    inner: T,
}

fn needs_trace<T: Trace>() {}

fn main() {
    needs_trace::<Wrapper<NotTrace>>();
}
