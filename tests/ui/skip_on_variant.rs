use cyclegc::Trace;

#[derive(Trace)]
enum E {
    #[trace(skip)]
    A(std::rc::Rc<()>),
    B,
}

fn main() {}
