//! What the two flavours' `Gc` handles share word for word: the traits that forward to the
//! value (comparison, hashing, formatting, borrowing, construction from a value), written
//! once as [`value_traits!`] and expanded in each flavour's `gc.rs`, and the panic of a
//! dereference of a collected value.

/// Implements the traits that forward to the value for the `Gc` in scope, whose flavour's
/// module path is `$path` (for the examples) and whose `Gc::new` needs `T: $($new)+`.
macro_rules! value_traits {
    ($path:literal, $($new:tt)+) => {
        impl<T: ?Sized> AsRef<T> for Gc<T> {
            #[doc = concat!("Borrows the value.\n\n# Examples\n\n```\nlet s = ", $path, "::Gc::new(String::from(\"a\"));\nlet r: &String = s.as_ref();\nassert_eq!(r, \"a\");\n```")]
            fn as_ref(&self) -> &T {
                self
            }
        }

        impl<T: ?Sized> std::borrow::Borrow<T> for Gc<T> {
            #[doc = concat!("Borrows the value, so that collections of `Gc<T>` can be searched by `T`.\n\n# Examples\n\n```\nuse std::collections::HashSet;\nuse ", $path, "::Gc;\n\nlet mut set = HashSet::new();\nset.insert(Gc::new(7));\nassert!(set.contains(&7)); // looked up by value, through `Borrow`\n```")]
            fn borrow(&self) -> &T {
                self
            }
        }

        impl<T: $($new)+> From<T> for Gc<T> {
            #[doc = concat!("Same as [`Gc::new`].\n\n# Examples\n\n```\nlet g: ", $path, "::Gc<i32> = 5.into();\nassert_eq!(*g, 5);\n```")]
            fn from(value: T) -> Self {
                Gc::new(value)
            }
        }

        impl<T: Default + $($new)+> Default for Gc<T> {
            #[doc = concat!("A `Gc` holding `T::default()`.\n\n# Examples\n\n```\nlet g: ", $path, "::Gc<i32> = Default::default();\nassert_eq!(*g, 0);\n```")]
            fn default() -> Self {
                Gc::new(T::default())
            }
        }

        impl<T: ?Sized + PartialEq> PartialEq for Gc<T> {
            #[doc = concat!("Compares the values, like `Rc`; use [`Gc::ptr_eq`] for identity.\n\n# Examples\n\n```\nuse ", $path, "::Gc;\nassert!(Gc::new(5) == Gc::new(5));\n```")]
            #[inline]
            fn eq(&self, other: &Self) -> bool {
                **self == **other
            }
        }

        impl<T: ?Sized + Eq> Eq for Gc<T> {}

        impl<T: ?Sized + PartialOrd> PartialOrd for Gc<T> {
            #[doc = concat!("Compares the values.\n\n# Examples\n\n```\nuse ", $path, "::Gc;\nassert!(Gc::new(5) < Gc::new(6));\n```")]
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                (**self).partial_cmp(&**other)
            }
        }

        impl<T: ?Sized + Ord> Ord for Gc<T> {
            #[doc = concat!("Compares the values.\n\n# Examples\n\n```\nuse ", $path, "::Gc;\nassert_eq!(Gc::new(5).cmp(&Gc::new(6)), std::cmp::Ordering::Less);\n```")]
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                (**self).cmp(&**other)
            }
        }

        impl<T: ?Sized + std::hash::Hash> std::hash::Hash for Gc<T> {
            #[doc = concat!("Hashes the value, so that `Gc<T>` and `T` hash alike.\n\n# Examples\n\n```\nuse std::hash::BuildHasher;\nuse std::collections::hash_map::RandomState;\nlet s = RandomState::new();\nassert_eq!(s.hash_one(", $path, "::Gc::new(3)), s.hash_one(3));\n```")]
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                (**self).hash(state)
            }
        }

        impl<T: ?Sized + std::fmt::Display> std::fmt::Display for Gc<T> {
            #[doc = concat!("Formats the value.\n\n# Examples\n\n```\nassert_eq!(", $path, "::Gc::new(5).to_string(), \"5\");\n```")]
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&**self, f)
            }
        }

        impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for Gc<T> {
            #[doc = concat!("Formats the value; a value the collector has destroyed prints as `<collected>` rather than panicking, so `Drop` impls can log freely.\n\n# Examples\n\n```\nassert_eq!(format!(\"{:?}\", ", $path, "::Gc::new(\"x\")), \"\\\"x\\\"\");\n```")]
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match Gc::try_deref(self) {
                    Some(value) => std::fmt::Debug::fmt(value, f),
                    None => f.write_str("<collected>"),
                }
            }
        }

        impl<T: ?Sized> std::fmt::Pointer for Gc<T> {
            #[doc = concat!("Formats the address of the value.\n\n# Examples\n\n```\nlet g = ", $path, "::Gc::new(5);\nassert_eq!(format!(\"{g:p}\"), format!(\"{:p}\", ", $path, "::Gc::as_ptr(&g)));\n```")]
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Pointer::fmt(&Gc::as_ptr(self), f)
            }
        }
    };
}

pub(crate) use value_traits;

/// The panic of a dereference of a `Gc` whose value the collector has destroyed.
#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn dead_deref() -> ! {
    panic!(
        "cyclegc: dereferenced a `Gc` whose value the cycle collector has already destroyed. \
         This happens when a `Drop` impl of a garbage cycle member reaches another member of \
         the same cycle; use `Gc::try_deref` there instead"
    )
}

/// Implements the conversions into `Gc<[T]>` and `Gc<str>`, and from `Box<T>`, for the `Gc`
/// in scope, whose flavour's header is `$header`, whose module path is `$path` (for the
/// examples), whose collection check before an allocation is `$before_alloc`, and whose
/// `Gc::new` needs `T: $($new)+`.
macro_rules! slice_conversions {
    ($path:literal, $header:ty, $before_alloc:path, $($new:tt)+) => {
        impl<T: $($new)+> From<Vec<T>> for Gc<[T]> {
            #[doc = concat!("Moves the elements into a new allocation (one copy of the elements, as `Arc::from(Vec)`).\n\n# Examples\n\n```\nuse ", $path, "::Gc;\nlet g: Gc<[i32]> = vec![1, 2, 3].into();\nassert_eq!(&*g, [1, 2, 3]);\n```")]
            fn from(vec: Vec<T>) -> Self {
                if T::may_contain_gc() {
                    $before_alloc();
                }
                Gc::from_box($crate::cycle::slice::from_vec::<$header, T>(vec))
            }
        }

        impl<T: Clone + $($new)+> From<&[T]> for Gc<[T]> {
            #[doc = concat!("Clones the elements into a new allocation.\n\n# Examples\n\n```\nuse ", $path, "::Gc;\nlet g: Gc<[String]> = Gc::from(&[String::from(\"a\")][..]);\nassert_eq!(g[0], \"a\");\n```")]
            fn from(items: &[T]) -> Self {
                if T::may_contain_gc() {
                    $before_alloc();
                }
                Gc::from_box($crate::cycle::slice::from_slice::<$header, T>(items))
            }
        }

        impl<T: $($new)+, const N: usize> From<[T; N]> for Gc<[T]> {
            #[doc = concat!("Moves the array into a new allocation.\n\n# Examples\n\n```\nuse ", $path, "::Gc;\nlet g: Gc<[u8]> = [1, 2].into();\nassert_eq!(g.len(), 2);\n```")]
            fn from(array: [T; N]) -> Self {
                let gc = Gc::new(array);
                // SAFETY: an unsizing coercion of the pointer, which keeps its address.
                unsafe { $crate::unsize::Unsize::__unsize(gc, |array| array as *const [T]) }
            }
        }

        impl<T: ?Sized + $($new)+> From<Box<T>> for Gc<T> {
            #[doc = concat!("Moves the value out of the box into a new allocation, sized or not (as `Rc::from(Box<T>)`): the way to make a `Gc<dyn Trait>` from a `Box<dyn Trait>` whose concrete type is gone. The allocation keeps the box's layout and pointer metadata in front of its header (three or four words), and the object is tracked whatever `T` is; for a sized type, `Gc::new(*boxed)` avoids both.\n\n# Examples\n\n```\nuse cyclegc::Trace;\nuse ", $path, "::Gc;\n\ntrait Shape: Trace + Send + Sync {\n    fn area(&self) -> f64;\n}\n\n#[derive(Trace)]\nstruct Square(f64);\n\nimpl Shape for Square {\n    fn area(&self) -> f64 {\n        self.0 * self.0\n    }\n}\n\nlet boxed: Box<dyn Shape> = Box::new(Square(3.0));\nlet shape: Gc<dyn Shape> = Gc::from(boxed);\nassert_eq!(shape.area(), 9.0);\n\nlet words: Gc<[String]> = Gc::from(vec![String::from(\"a\")].into_boxed_slice());\nassert_eq!(words[0], \"a\");\nlet g: Gc<i32> = Gc::from(Box::new(5));\nassert_eq!(*g, 5);\n```")]
            fn from(boxed: Box<T>) -> Self {
                $before_alloc();
                Gc::from_box($crate::cycle::boxed::from_box::<$header, T>(boxed))
            }
        }

        impl<T: $($new)+> FromIterator<T> for Gc<[T]> {
            #[doc = concat!("Collects the elements into a new allocation.\n\n# Examples\n\n```\nuse ", $path, "::Gc;\nlet g: Gc<[u32]> = (1..=3).map(|n| n * n).collect();\nassert_eq!(&*g, [1, 4, 9]);\n```")]
            fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
                Gc::from(iter.into_iter().collect::<Vec<T>>())
            }
        }

        impl<T: $($new)+> Default for Gc<[T]> {
            #[doc = concat!("An empty slice.\n\n# Examples\n\n```\nuse ", $path, "::Gc;\nlet g: Gc<[u8]> = Default::default();\nassert!(g.is_empty());\n```")]
            fn default() -> Self {
                Gc::from(Vec::new())
            }
        }

        impl From<&str> for Gc<str> {
            #[doc = concat!("Copies the string into a new allocation.\n\n# Examples\n\n```\nuse ", $path, "::Gc;\nlet g: Gc<str> = Gc::from(\"hello\");\nassert_eq!(&*g, \"hello\");\n```")]
            fn from(s: &str) -> Self {
                Gc::from_box($crate::cycle::slice::from_str::<$header>(s))
            }
        }

        impl From<String> for Gc<str> {
            #[doc = concat!("Copies the string into a new allocation.\n\n# Examples\n\n```\nuse ", $path, "::Gc;\nlet g: Gc<str> = Gc::from(String::from(\"hello\"));\nassert_eq!(g.len(), 5);\n```")]
            fn from(s: String) -> Self {
                Gc::from(s.as_str())
            }
        }

        impl Default for Gc<str> {
            #[doc = concat!("An empty string.\n\n# Examples\n\n```\nuse ", $path, "::Gc;\nlet g: Gc<str> = Default::default();\nassert!(g.is_empty());\n```")]
            fn default() -> Self {
                Gc::from("")
            }
        }
    };
}

pub(crate) use slice_conversions;
