//! Names checked once, ideally at compile time, so that writing them is a
//! plain copy.

/// A measurement, tag key, tag value or field key.
///
/// Every builder method that takes a name takes `impl Into<Name>`: a `&str`
/// is checked and escaped each time it is written, while a name made with
/// [`Name::new`] in a `const` was checked once, at compile time, and is
/// copied as it is. Such a *plain* name is valid in every position as it
/// stands: not empty, no space, `,`, `=`, backslash or control character,
/// not starting with `_` or `#`, and not `time`. Anything else is still
/// welcome as a `&str`.
///
/// ```
/// use linewire::{Batch, Name};
///
/// const TEMPERATURE: Name = Name::new("temperature");
/// const ROOM: Name = Name::new("room");
///
/// let mut batch = Batch::<64>::new();
/// batch.point("env")?.tag(ROOM, "loft")?.field(TEMPERATURE, 21.5)?.finish()?;
/// assert_eq!(batch.as_str(), "env,room=loft temperature=21.5\n");
/// # Ok::<(), linewire::PointError>(())
/// ```
///
/// A name that is not plain does not compile as a `const`:
///
/// ```compile_fail
/// const BAD: linewire::Name = linewire::Name::new("two words");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Name<'a> {
    text: &'a str,
    plain: bool,
}

impl<'a> Name<'a> {
    /// A plain name. Meant for `const` items, where a name that is not
    /// plain is a compile error.
    ///
    /// # Panics
    ///
    /// When `text` is not plain (see [`Name`]); at run time use
    /// [`Name::try_new`], or pass the `&str` itself.
    ///
    /// ```
    /// const HUMIDITY: linewire::Name = linewire::Name::new("humidity");
    /// assert_eq!(HUMIDITY.as_str(), "humidity");
    /// ```
    // The one documented panic in the library: meant for `const` items,
    // where it is a compile error, not a run-time panic.
    #[allow(clippy::panic)]
    pub const fn new(text: &'a str) -> Name<'a> {
        match Self::try_new(text) {
            Some(name) => name,
            None => panic!("not a plain name: empty, reserved, or needs escaping"),
        }
    }

    /// A plain name, or `None` when `text` is not plain (see [`Name`]).
    ///
    /// ```
    /// use linewire::Name;
    /// assert!(Name::try_new("pressure").is_some());
    /// assert!(Name::try_new("a,b").is_none());
    /// assert!(Name::try_new("_internal").is_none());
    /// ```
    pub const fn try_new(text: &'a str) -> Option<Name<'a>> {
        // Slice patterns rather than indexing: `const fn` cannot call
        // `get`, and a pattern has no panic path.
        let bytes = text.as_bytes();
        if matches!(bytes, [] | [b'_' | b'#', ..] | b"time") {
            return None;
        }
        let mut rest = bytes;
        while let [b, tail @ ..] = rest {
            if *b < 0x20 || *b == 0x7f || matches!(*b, b' ' | b',' | b'=' | b'\\') {
                return None;
            }
            rest = tail;
        }
        Some(Name { text, plain: true })
    }

    /// The name as given.
    ///
    /// ```
    /// assert_eq!(linewire::Name::from("a b").as_str(), "a b");
    /// ```
    pub const fn as_str(&self) -> &'a str {
        self.text
    }

    /// Whether the name was checked when made, and is copied as it is.
    ///
    /// ```
    /// use linewire::Name;
    /// assert!(Name::new("t").is_plain());
    /// assert!(!Name::from("t").is_plain());
    /// ```
    pub const fn is_plain(&self) -> bool {
        self.plain
    }
}

impl<'a> From<&'a str> for Name<'a> {
    /// A name checked, and escaped, each time it is written.
    fn from(text: &'a str) -> Self {
        Name { text, plain: false }
    }
}

impl<'a> From<&&'a str> for Name<'a> {
    /// A name checked, and escaped, each time it is written.
    fn from(text: &&'a str) -> Self {
        Name::from(*text)
    }
}

#[cfg(feature = "alloc")]
impl<'a> From<&'a alloc::string::String> for Name<'a> {
    /// A name checked, and escaped, each time it is written.
    fn from(text: &'a alloc::string::String) -> Self {
        Name {
            text: text.as_str(),
            plain: false,
        }
    }
}
