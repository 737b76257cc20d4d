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
