//! The pack as one file: an uncompressed POSIX tar (ustar) that any `tar` and Python's
//! `tarfile` read. The manifest comes first, then the seal, then every file the manifest
//! lists, in its order. Headers are fixed (mode 0644, owner 0, the pack's creation time), so
//! the same contents give the same archive.

use std::io::{Read, Write};

use crate::layout;
use crate::manifest::{FileEntry, Manifest};
use crate::seal::PackSigner;
use crate::verify::Tampered;

/// Larger entries are refused unread: a pack is one case's evidence, far below this.
pub const MAX_ENTRY_BYTES: u64 = 1 << 30;
/// More entries than this are refused (a few per device and the law files are the norm).
pub const MAX_ENTRIES: usize = 10_000;

/// Every file of a pack, in archive order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pack {
    pub files: Vec<(String, Vec<u8>)>,
}

impl Pack {
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.iter().find(|(p, _)| p == path).map(|(_, c)| c.as_slice())
    }

    /// Replaces a file's content (or adds it at the end).
    pub fn set(&mut self, path: &str, content: Vec<u8>) {
        match self.files.iter_mut().find(|(p, _)| p == path) {
            Some((_, c)) => *c = content,
            None => self.files.push((path.to_owned(), content)),
        }
    }

    /// A sealed pack of `contents` (path, bytes): `manifest` gets their list and hashes, and
    /// `signer` signs it.
    pub fn seal(mut manifest: Manifest, contents: Vec<(String, Vec<u8>)>, signer: &PackSigner) -> Pack {
        manifest.files = contents.iter().map(|(path, c)| FileEntry::of(path, c)).collect();
        let manifest_bytes = manifest.to_bytes();
        let seal = signer.seal(&manifest_bytes);
        let seal_bytes = serde_json::to_vec_pretty(&seal).expect("a seal always serialises");
        let mut files =
            vec![(layout::MANIFEST.to_owned(), manifest_bytes), (layout::SEAL.to_owned(), seal_bytes)];
        files.extend(contents);
        Pack { files }
    }

    /// Lists the current contents in the manifest again and signs it with `signer`: what
    /// anyone holding the platform's key could do after changing a file. The checks behind
    /// the seal must still catch the change.
    pub fn reseal(&mut self, signer: &PackSigner) -> Result<(), String> {
        let manifest: Manifest = serde_json::from_slice(self.get(layout::MANIFEST).ok_or("no manifest")?)
            .map_err(|e| e.to_string())?;
        let contents =
            self.files.iter().filter(|(p, _)| p != layout::MANIFEST && p != layout::SEAL).cloned().collect();
        *self = Pack::seal(manifest, contents, signer);
        Ok(())
    }

    /// Writes the archive; `mtime` (seconds since the epoch) dates every entry.
    pub fn write(&self, writer: impl Write, mtime: u64) -> std::io::Result<()> {
        let mut builder = tar::Builder::new(writer);
        for (path, content) in &self.files {
            let mut header = tar::Header::new_ustar();
            header.set_path(path)?;
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(mtime);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_cksum();
            builder.append(&header, content.as_slice())?;
        }
        builder.into_inner()?.flush()
    }

    /// Reads an archive: regular files only, each path once.
    pub fn read(reader: impl Read) -> Result<Pack, Tampered> {
        let unreadable = |reason: String| Tampered::new("the archive", reason);
        let mut archive = tar::Archive::new(reader);
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        for entry in archive.entries().map_err(|e| unreadable(format!("not a tar archive: {e}")))? {
            let mut entry = entry.map_err(|e| unreadable(format!("unreadable entry: {e}")))?;
            let path = entry
                .path()
                .map_err(|e| unreadable(format!("unreadable entry name: {e}")))?
                .to_str()
                .ok_or_else(|| unreadable("an entry name is not UTF-8".into()))?
                .to_owned();
            if entry.header().entry_type() != tar::EntryType::Regular {
                return Err(Tampered::new(&path, "not a regular file"));
            }
            let size = entry.size();
            if size > MAX_ENTRY_BYTES {
                return Err(Tampered::new(&path, format!("{size} bytes, more than a pack holds")));
            }
            if files.len() >= MAX_ENTRIES {
                return Err(unreadable(format!("more than {MAX_ENTRIES} files")));
            }
            if files.iter().any(|(p, _)| *p == path) {
                return Err(Tampered::new(&path, "appears twice in the archive"));
            }
            let mut content = Vec::with_capacity(size as usize);
            entry.read_to_end(&mut content).map_err(|e| Tampered::new(&path, format!("unreadable: {e}")))?;
            files.push((path, content));
        }
        Ok(Pack { files })
    }
}
