use cyclegc::Trace;

#[derive(Trace)]
#[trace(skip)]
struct S {
    a: std::rc::Rc<()>,
}

fn main() {}
