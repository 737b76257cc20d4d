//! `AnyGc`, a strong handle to a tracked object of any type, for the heap's view of itself
//! (saved garbage, the objects a heap tracks, referents and referrers): written once here,
//! for each flavour's header through [`Handles`], by [`any_gc!`].

use std::ptr::NonNull;

use crate::cycle::{Object, VTable};

/// What an `AnyGc` needs of a flavour's header beyond [`Object`]: the strong-count
/// operations its `Gc<T>` performs, without the value's type.
pub(crate) trait Handles: Object {
    /// The strong count, as `Gc::strong_count` reports it.
    fn strong_count(&self) -> usize;

    /// The number of `Weak` handles, as `Gc::weak_count` reports it.
    fn weak_count(&self) -> usize;

    /// Adds a strong reference, as `Gc::clone` does.
    fn clone_strong(&self);

    /// Gives up a strong reference, as `Drop for Gc` does, dropping the value through the
    /// vtable if it was the last.
    ///
    /// # Safety
    /// The caller owns a strong reference to the live object `this`, gives it up here, and
    /// uses nothing of the object afterwards.
    unsafe fn drop_strong(this: NonNull<Self>);

    /// The vtable, for a caller that holds a strong reference and may be user code running
    /// during a collection.
    ///
    /// # Panics
    /// Where the flavour cannot read it at that moment (the single-threaded header lends its
    /// vtable slot to the scan while a collection on this thread holds the object: a `Trace`
    /// impl during the snapshot, or a garbage member's `Drop` reaching a member not yet
    /// destroyed).
    fn vtable_of_live(&self) -> &'static VTable<Self>;
}

/// Writes a flavour's `AnyGc`: `$path` is the flavour's module (for the examples), `$header`
/// its header type (implementing [`Handles`]), `$gc` its `Gc`.
macro_rules! any_gc {
    ($path:literal, $header:ty, $gc:ident) => {
        #[doc = concat!("A strong handle to a tracked object of any type: what the heap's own view hands out (Python's objects as `gc` sees them). It owns one strong reference, like a [`Gc`](", $path, "::Gc), so holding it keeps the object alive, and it is traced like one.\n\nMade from any `Gc` with `From`, or by the heap's inspection functions; [`downcast`](Self::downcast) gives the typed handle back.\n\n# Examples\n\n```\nuse ", $path, "::{AnyGc, Gc};\n\nlet any = AnyGc::from(Gc::new(String::from(\"hello\")));\nassert_eq!(any.type_name(), \"alloc::string::String\");\nassert_eq!(any.strong_count(), 1);\nlet back: Gc<String> = any.downcast().unwrap();\nassert_eq!(*back, \"hello\");\n```")]
        pub struct AnyGc {
            header: std::ptr::NonNull<$header>,
        }

        impl AnyGc {
            /// Takes a new strong reference to `header`'s object.
            ///
            /// # Safety
            /// `header` is the header of a live object with at least one strong reference
            /// that lives until this returns.
            #[allow(dead_code)]
            pub(crate) unsafe fn from_header(header: std::ptr::NonNull<$header>) -> AnyGc {
                // SAFETY: by the caller's contract the object is alive.
                unsafe { $crate::any::Handles::clone_strong(header.as_ref()) };
                AnyGc { header }
            }

            /// Takes over a strong reference to `header`'s object that the caller owns.
            ///
            /// # Safety
            /// The caller owns a strong reference to the live object, and gives it up.
            #[allow(dead_code)]
            pub(crate) unsafe fn adopt(header: std::ptr::NonNull<$header>) -> AnyGc {
                AnyGc { header }
            }

            /// The object's header; the handle keeps it alive.
            #[allow(dead_code)]
            pub(crate) fn header_ptr(&self) -> std::ptr::NonNull<$header> {
                self.header
            }

            fn header(&self) -> &$header {
                // SAFETY: an `AnyGc` keeps its allocation (and so its header) alive.
                unsafe { self.header.as_ref() }
            }

            /// The name of the value's type, as [`std::any::type_name`] gives it (for a value
            #[doc = concat!("made by `Gc::from(Box<dyn Trait>)`, the trait object's type: `dyn Trait`).\n\n# Panics\n\nIf called while a collection on this thread holds the object: from a `Trace` impl, or from the `Drop` of a garbage object reaching another member of its cycle (the single-threaded heap lends the type's slot to the collection then).\n\n# Examples\n\n```\nuse ", $path, "::{AnyGc, Gc};\nassert_eq!(AnyGc::from(Gc::new(1u8)).type_name(), \"u8\");\n```")]
            pub fn type_name(&self) -> &'static str {
                ($crate::any::Handles::vtable_of_live(self.header()).type_name)()
            }

            /// The address of the value, as `Gc::as_ptr` gives it: Python's `id()`.
            ///
            /// # Panics
            ///
            /// As [`type_name`](Self::type_name).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use ", $path, "::{AnyGc, Gc};")]
            /// let gc = Gc::new(7);
            /// let any = AnyGc::from(gc.clone());
            /// assert_eq!(any.as_ptr(), Gc::as_ptr(&gc).cast::<()>());
            /// ```
            pub fn as_ptr(&self) -> *const () {
                let vtable = $crate::any::Handles::vtable_of_live(self.header());
                // SAFETY: the allocation is alive and was made with this vtable.
                unsafe { (vtable.value)(self.header.cast()).as_ptr() }
            }

            /// The number of strong references (every `Gc` and `AnyGc`) to the object.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use ", $path, "::{AnyGc, Gc};")]
            /// let gc = Gc::new(7);
            /// let any = AnyGc::from(gc.clone());
            /// assert_eq!(any.strong_count(), 2);
            /// ```
            pub fn strong_count(&self) -> usize {
                $crate::any::Handles::strong_count(self.header())
            }

            /// The number of `Weak` handles to the object.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use ", $path, "::{AnyGc, Gc};")]
            /// let gc = Gc::new(7);
            /// let _weak = Gc::downgrade(&gc);
            /// assert_eq!(AnyGc::from(gc).weak_count(), 1);
            /// ```
            pub fn weak_count(&self) -> usize {
                $crate::any::Handles::weak_count(self.header())
            }

            /// Whether both handles point to the same object (Python's `is`).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use ", $path, "::{AnyGc, Gc};")]
            /// let gc = Gc::new(7);
            /// let a = AnyGc::from(gc.clone());
            /// assert!(AnyGc::ptr_eq(&a, &AnyGc::from(gc)));
            /// assert!(!AnyGc::ptr_eq(&a, &AnyGc::from(Gc::new(7))));
            /// ```
            pub fn ptr_eq(this: &AnyGc, other: &AnyGc) -> bool {
                this.header == other.header
            }

            /// Whether the collector tracks the object: `false` for a type that can never
            #[doc = concat!("own a `Gc` (see [`Gc::is_tracked`](", $path, "::Gc::is_tracked)).\n\n# Examples\n\n```\nuse std::sync::Mutex;\nuse ", $path, "::{AnyGc, Gc};\nassert!(!AnyGc::from(Gc::new(1)).is_tracked());\nassert!(AnyGc::from(Gc::new(Mutex::new(Vec::<Gc<u8>>::new()))).is_tracked());\n```")]
            pub fn is_tracked(&self) -> bool {
                !$crate::cycle::Object::has(self.header(), $crate::cycle::UNTRACKED)
            }

            /// The typed handle, if the value is a `T`; otherwise the `AnyGc` back. A value made
            /// by `Gc::from(Box<dyn Trait>)` is known only as `dyn Trait`, and a slice as `[T]`:
            /// neither downcasts to a sized type. A value made by `Gc::pin` never downcasts: a
            /// `Gc` to it, by value, could move it out (`try_unwrap`).
            ///
            /// # Panics
            ///
            /// As [`type_name`](Self::type_name).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use ", $path, "::{AnyGc, Gc};")]
            /// let any = AnyGc::from(Gc::new(5_u32));
            /// let any = any.downcast::<i32>().unwrap_err();
            /// assert_eq!(*any.downcast::<u32>().unwrap(), 5);
            /// ```
            pub fn downcast<T: $crate::Trace + 'static>(self) -> Result<$gc<T>, AnyGc> {
                let vtable = $crate::any::Handles::vtable_of_live(self.header());
                if (vtable.type_id)() == std::any::TypeId::of::<T>() {
                    let header = self.header;
                    std::mem::forget(self);
                    // The strong reference passes from the `AnyGc` to the `Gc`; the vtable
                    // says the allocation is a `GcBox<T>` (made by `Gc::new`, `unsize!` from
                    // one, or `Gc::from(Box<T>)`, whose header is also where the box starts).
                    Ok($gc::from_box(header.cast()))
                } else {
                    Err(self)
                }
            }
        }

        impl<T: ?Sized> From<$gc<T>> for AnyGc {
            /// Erases the type; the strong reference passes to the `AnyGc`.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use ", $path, "::{AnyGc, Gc};")]
            /// let any: AnyGc = Gc::new([1, 2]).into();
            /// assert_eq!(any.type_name(), "[i32; 2]");
            /// ```
            fn from(gc: $gc<T>) -> AnyGc {
                AnyGc {
                    header: $gc::into_header(gc),
                }
            }
        }

        impl Clone for AnyGc {
            /// Adds a strong reference to the same object.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use ", $path, "::{AnyGc, Gc};")]
            /// let any = AnyGc::from(Gc::new(1));
            /// let again = any.clone();
            /// assert_eq!(again.strong_count(), 2);
            /// ```
            fn clone(&self) -> AnyGc {
                $crate::any::Handles::clone_strong(self.header());
                AnyGc {
                    header: self.header,
                }
            }
        }

        impl Drop for AnyGc {
            /// Gives up the strong reference, as dropping a `Gc` does.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use ", $path, "::{AnyGc, Gc};")]
            /// let gc = Gc::new(1);
            /// drop(AnyGc::from(gc.clone()));
            /// assert_eq!(Gc::strong_count(&gc), 1);
            /// ```
            fn drop(&mut self) {
                // SAFETY: this handle owns a strong reference and is going away.
                unsafe { <$header as $crate::any::Handles>::drop_strong(self.header) }
            }
        }

        impl std::fmt::Debug for AnyGc {
            /// The type's name, the value's address and the counts. Never reads the value.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use ", $path, "::{AnyGc, Gc};")]
            /// let shown = format!("{:?}", AnyGc::from(Gc::new(1_u8)));
            /// assert!(shown.starts_with("AnyGc { type_name: \"u8\", ptr: 0x"));
            /// assert!(shown.ends_with("strong: 1, weak: 0 }"));
            /// ```
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("AnyGc")
                    .field("type_name", &self.type_name())
                    .field("ptr", &self.as_ptr())
                    .field("strong", &self.strong_count())
                    .field("weak", &self.weak_count())
                    .finish()
            }
        }

        // SAFETY: reports the one edge this handle owns, to a live object.
        unsafe impl $crate::Trace for AnyGc {
            fn trace(&self, tracer: &mut $crate::Tracer) {
                // SAFETY: the header of a live object, to which this handle owns a strong
                // reference.
                unsafe { tracer.edge(self.header) };
            }
        }

    };
}

pub(crate) use any_gc;
