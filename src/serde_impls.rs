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
use crate::unsync::{Gc, Weak};

impl<T: ?Sized + Serialize> Serialize for Gc<T> {
    /// Serializes the value.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "serde_json")] {
    /// let gc = cyclegc::Gc::new(vec![1, 2]);
    /// assert_eq!(serde_json::to_string(&gc).unwrap(), "[1,2]");
    /// # }
    /// ```
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de> + Trace + 'static> Deserialize<'de> for Gc<T> {
    /// Deserializes a value into a new allocation.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "serde_json")] {
    /// let gc: cyclegc::Gc<Vec<u8>> = serde_json::from_str("[3]").unwrap();
    /// assert_eq!(*gc, [3]);
    /// # }
    /// ```
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Gc::new)
    }
}

impl<T: ?Sized + Serialize> Serialize for Weak<T> {
    /// Serializes `Some(value)` while the value is alive, else `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "serde_json")] {
    /// let gc = cyclegc::Gc::new(5);
    /// let weak = cyclegc::Gc::downgrade(&gc);
    /// assert_eq!(serde_json::to_string(&weak).unwrap(), "5");
    /// drop(gc);
    /// assert_eq!(serde_json::to_string(&weak).unwrap(), "null");
    /// # }
    /// ```
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.upgrade().serialize(serializer)
    }
}

impl<'de, T> Deserialize<'de> for Weak<T>
where
    T: Deserialize<'de>,
{
    /// Reads an `Option` of the value and returns an empty `Weak`: nothing would keep a
    /// deserialized value alive.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "serde_json")] {
    /// let weak: cyclegc::Weak<u8> = serde_json::from_str("7").unwrap();
    /// assert!(weak.upgrade().is_none());
    /// # }
    /// ```
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(deserializer)?;
        Ok(Weak::new())
    }
}
