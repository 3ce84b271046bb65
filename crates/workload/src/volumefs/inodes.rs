//! The FUSE node table: which backing entry a kernel node id stands for.
//!
//! A node is located by its parent node and its name in the parent's backing
//! directory (the encrypted or hashed name), so renaming a directory moves
//! its whole subtree by changing one row. Node ids come from a counter and
//! are never reused during a mount; the backing `(dev, ino)` pair maps back
//! to the node so hard links share one node, as the kernel expects. Rows die
//! when the kernel forgets them.

use std::collections::HashMap;

use keyward_volume::DirIv;

pub(crate) const ROOT_ID: u64 = 1;

#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) parent: u64,
    /// Name of the entry in the parent's backing directory; empty for the root.
    pub(crate) cipher_name: String,
    /// The directory's name tweak, read once (it never changes).
    pub(crate) dir_iv: Option<DirIv>,
    pub(crate) backing: (u64, u64),
    lookups: u64,
}

#[derive(Debug)]
pub(crate) struct InodeTable {
    nodes: HashMap<u64, Node>,
    by_backing: HashMap<(u64, u64), u64>,
    next_id: u64,
}

impl InodeTable {
    pub(crate) fn new(root_backing: (u64, u64), root_iv: DirIv) -> Self {
        let mut nodes = HashMap::new();
        nodes.insert(
            ROOT_ID,
            Node {
                parent: ROOT_ID,
                cipher_name: String::new(),
                dir_iv: Some(root_iv),
                backing: root_backing,
                lookups: 1,
            },
        );
        let mut by_backing = HashMap::new();
        by_backing.insert(root_backing, ROOT_ID);
        InodeTable {
            nodes,
            by_backing,
            next_id: ROOT_ID + 1,
        }
    }

    pub(crate) fn get(&self, id: u64) -> Option<&Node> {
        self.nodes.get(&id)
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut Node> {
        self.nodes.get_mut(&id)
    }

    /// The backing path of a node relative to the backing root (`.` for the
    /// root), or `None` when a node on the way is gone.
    pub(crate) fn path(&self, id: u64) -> Option<String> {
        let mut parts = Vec::new();
        let mut current = id;
        // A chain longer than the table means a cycle: refuse it.
        for _ in 0..=self.nodes.len() {
            if current == ROOT_ID {
                if parts.is_empty() {
                    return Some(".".to_string());
                }
                parts.reverse();
                return Some(parts.join("/"));
            }
            let node = self.nodes.get(&current)?;
            parts.push(node.cipher_name.as_str());
            current = node.parent;
        }
        None
    }

    /// Records one kernel lookup of the entry `cipher_name` in `parent`
    /// whose backing identity is `backing`, and returns its node id.
    pub(crate) fn remember(
        &mut self,
        parent: u64,
        cipher_name: &str,
        backing: (u64, u64),
        dir_iv: Option<DirIv>,
    ) -> u64 {
        if let Some(id) = self.by_backing.get(&backing).copied() {
            if let Some(node) = self.nodes.get_mut(&id) {
                node.lookups += 1;
                // The most recently looked-up name of a hard-linked file is
                // the one we use; an unlinked name stops working otherwise.
                if id != ROOT_ID {
                    node.parent = parent;
                    node.cipher_name = cipher_name.to_string();
                }
                if node.dir_iv.is_none() {
                    node.dir_iv = dir_iv;
                }
                return id;
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        self.nodes.insert(
            id,
            Node {
                parent,
                cipher_name: cipher_name.to_string(),
                dir_iv,
                backing,
                lookups: 1,
            },
        );
        self.by_backing.insert(backing, id);
        id
    }

    pub(crate) fn forget(&mut self, id: u64, n_lookups: u64) {
        if id == ROOT_ID {
            return;
        }
        let remove = match self.nodes.get_mut(&id) {
            Some(node) => {
                node.lookups = node.lookups.saturating_sub(n_lookups);
                node.lookups == 0
            }
            None => false,
        };
        if remove {
            if let Some(node) = self.nodes.remove(&id) {
                if self.by_backing.get(&node.backing) == Some(&id) {
                    self.by_backing.remove(&node.backing);
                }
            }
        }
    }

    /// The backing entry is gone for good (its last link was removed): a
    /// new file that reuses its inode number must get a new node.
    pub(crate) fn backing_removed(&mut self, backing: (u64, u64)) {
        self.by_backing.remove(&backing);
    }

    /// An entry moved: the node that stands for `backing` now lives at
    /// `cipher_name` in `parent`.
    pub(crate) fn moved(&mut self, backing: (u64, u64), parent: u64, cipher_name: &str) {
        if let Some(id) = self.by_backing.get(&backing).copied() {
            if let Some(node) = self.nodes.get_mut(&id) {
                node.parent = parent;
                node.cipher_name = cipher_name.to_string();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv() -> DirIv {
        DirIv::decode(&[1; 16]).unwrap()
    }

    #[test]
    fn paths_follow_renames_and_links_share_a_node() {
        let mut table = InodeTable::new((1, 100), iv());
        assert_eq!(table.path(ROOT_ID).unwrap(), ".");
        let dir = table.remember(ROOT_ID, "D", (1, 101), Some(iv()));
        let file = table.remember(dir, "F", (1, 102), None);
        assert_eq!(table.path(file).unwrap(), "D/F");
        table.moved((1, 101), ROOT_ID, "E");
        assert_eq!(table.path(file).unwrap(), "E/F");
        let link = table.remember(ROOT_ID, "L", (1, 102), None);
        assert_eq!(link, file);
        assert_eq!(table.path(file).unwrap(), "L");
        table.forget(file, 2);
        assert!(table.get(file).is_none());
        let again = table.remember(ROOT_ID, "L", (1, 102), None);
        assert_ne!(again, file);
        table.backing_removed((1, 102));
        let reused = table.remember(ROOT_ID, "N", (1, 102), None);
        assert_ne!(reused, again);
    }
}
