use cyclegc::Trace;

#[derive(Trace)]
struct S {
    #[trace(skip, skip)]
    a: std::rc::Rc<()>,
    #[trace(skip)]
    #[trace(skip)]
    b: std::rc::Rc<()>,
    #[trace(skip = true)]
    c: std::rc::Rc<()>,
}

fn main() {}
