//! Where the keys of one JSON object are in its source text: the key map
//! the whole-file reader built for every object, built here only for an
//! object with a problem to place or a key that may repeat.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// Where each key of an object's source text is, by its path of keys.
///
/// Keys are compared as written (escapes are not decoded); a key written
/// with escapes is located at its object instead.
#[derive(Debug, Default)]
pub(crate) struct KeyMap<'a> {
    /// (id of the parent key, 0 for the top level; key) -> (id, byte offset).
    keys: HashMap<(usize, &'a str), (usize, usize)>,
    /// For each id (from 1): the parent's id and the key, to name paths.
    names: Vec<(usize, &'a str)>,
    /// Keys seen twice in the same object: dotted path and byte offset.
    pub(crate) duplicates: Vec<(String, usize)>,
}

impl<'a> KeyMap<'a> {
    /// Scans well-formed JSON `source` (one object) for its keys. Objects
    /// inside arrays are passed over: their keys are not endpoint fields.
    pub(crate) fn scan(source: &'a str) -> KeyMap<'a> {
        /// An object (with the id of its key, `None` when not tracked) or an array.
        enum Frame {
            Object(Option<usize>),
            Array,
        }
        let bytes = source.as_bytes();
        let mut map = KeyMap::default();
        let mut frames: Vec<Frame> = Vec::new();
        let mut pending: Option<usize> = None;
        let mut key_next = false;
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'{' => {
                    let id = match frames.last() {
                        None => Some(0),
                        Some(Frame::Object(Some(_))) => pending,
                        Some(_) => None,
                    };
                    frames.push(Frame::Object(id));
                    pending = None;
                    key_next = true;
                }
                b'[' => {
                    frames.push(Frame::Array);
                    pending = None;
                    key_next = false;
                }
                b'}' | b']' => {
                    frames.pop();
                    key_next = false;
                }
                b',' => key_next = matches!(frames.last(), Some(Frame::Object(_))),
                b'"' => {
                    let end = string_end(bytes, i);
                    if key_next {
                        if let Some(Frame::Object(Some(parent))) = frames.last() {
                            let key = source.get(i + 1..end.saturating_sub(1)).unwrap_or("");
                            let id = map.add(*parent, key, i);
                            pending = next_is_container(bytes, end).then_some(id);
                        }
                        key_next = false;
                    }
                    i = end;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        map
    }

    /// Records `key` of the object whose key id is `parent`; its new id.
    fn add(&mut self, parent: usize, key: &'a str, offset: usize) -> usize {
        let id = self.names.len() + 1;
        self.names.push((parent, key));
        match self.keys.entry((parent, key)) {
            Entry::Occupied(_) => {
                let path = self.path_of(id);
                self.duplicates.push((path, offset));
            }
            Entry::Vacant(slot) => {
                slot.insert((id, offset));
            }
        }
        id
    }

    /// The dotted path of key `id`.
    fn path_of(&self, mut id: usize) -> String {
        let mut parts = Vec::new();
        while let Some((parent, key)) = id.checked_sub(1).and_then(|i| self.names.get(i)) {
            parts.push(*key);
            id = *parent;
        }
        parts.reverse();
        parts.join(".")
    }

    /// The byte offset of the key at `path`.
    pub(crate) fn offset(&self, path: &[&str]) -> Option<usize> {
        let mut parent = 0;
        let mut offset = None;
        for key in path {
            let (id, off) = self.keys.get(&(parent, *key))?;
            parent = *id;
            offset = Some(*off);
        }
        offset
    }
}

/// The offset just after the string that starts at `start` (a quote).
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// True when the value after a key (past `:` and spaces) is an object or array.
fn next_is_container(bytes: &[u8], mut i: usize) -> bool {
    while let Some(&b) = bytes.get(i) {
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b':' => i += 1,
            b'{' | b'[' => return true,
            _ => return false,
        }
    }
    false
}
