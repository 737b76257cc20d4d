//! `Serialize` and `Deserialize` for the handles (feature `serde`), as serde's `rc` feature
//! does for `Rc` and `rc::Weak`: a `Gc` is serialized as its value, a `Weak` as an `Option`
//! of its value (`None` once it is gone), and deserializing a `Weak` always gives an empty
//! one.
//!
//! Sharing is not preserved: two `Gc`s to one value serialize it twice and deserialize into
//! two allocations, and a cycle of `Gc`s serializes forever (use `Weak` for back edges, or
//! serialize by identifier).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::trace::Trace;

/// The impls for the handles of the flavour module `$flavour` (named `$path` in the
/// examples), whose `Gc::new` needs `T: $($new)+`.
macro_rules! serde_handles {
    ($flavour:ident, $path:literal, $($new:tt)+) => {
        impl<T: ?Sized + Serialize> Serialize for crate::$flavour::Gc<T> {
            #[doc = concat!("Serializes the value.\n\n# Examples\n\n```\n# #[cfg(feature = \"serde_json\")] {\nlet gc = ", $path, "::Gc::new(vec![1, 2]);\nassert_eq!(serde_json::to_string(&gc).unwrap(), \"[1,2]\");\n# }\n```")]
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                (**self).serialize(serializer)
            }
        }

        impl<'de, T: ?Sized + $($new)+> Deserialize<'de> for crate::$flavour::Gc<T>
        where
            Box<T>: Deserialize<'de>,
        {
            #[doc = concat!("Deserializes a value into a new allocation, through a `Box<T>` as serde's `rc` feature does for `Rc<T>` (so `Gc<str>` and `Gc<[T]>` deserialize too).\n\n# Examples\n\n```\n# #[cfg(feature = \"serde_json\")] {\nlet gc: ", $path, "::Gc<Vec<u8>> = serde_json::from_str(\"[3]\").unwrap();\nassert_eq!(*gc, [3]);\nlet name: ", $path, "::Gc<str> = serde_json::from_str(\"\\\"gc\\\"\").unwrap();\nassert_eq!(&*name, \"gc\");\n# }\n```")]
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Box::<T>::deserialize(deserializer).map(crate::$flavour::Gc::from)
            }
        }

        impl<T: ?Sized + Serialize> Serialize for crate::$flavour::Weak<T> {
            #[doc = concat!("Serializes `Some(value)` while the value is alive, else `None`.\n\n# Examples\n\n```\n# #[cfg(feature = \"serde_json\")] {\nlet gc = ", $path, "::Gc::new(5);\nlet weak = ", $path, "::Gc::downgrade(&gc);\nassert_eq!(serde_json::to_string(&weak).unwrap(), \"5\");\ndrop(gc);\nassert_eq!(serde_json::to_string(&weak).unwrap(), \"null\");\n# }\n```")]
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.upgrade().serialize(serializer)
            }
        }

        impl<'de, T> Deserialize<'de> for crate::$flavour::Weak<T>
        where
            T: Deserialize<'de>,
        {
            #[doc = concat!("Reads an `Option` of the value and returns an empty `Weak`: nothing would keep a deserialized value alive.\n\n# Examples\n\n```\n# #[cfg(feature = \"serde_json\")] {\nlet weak: ", $path, "::Weak<u8> = serde_json::from_str(\"7\").unwrap();\nassert!(weak.upgrade().is_none());\n# }\n```")]
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Option::<T>::deserialize(deserializer)?;
                Ok(crate::$flavour::Weak::new())
            }
        }
    };
}

serde_handles!(unsync, "cyclegc", Trace + 'static);
#[cfg(target_has_atomic = "64")]
serde_handles!(sync, "cyclegc::sync", Trace + Send + Sync + 'static);
