//! XFS runtime statistics per filesystem from `/sys/fs/xfs/<dev>/stats/stats`.

use std::collections::HashMap;
use std::sync::Arc;

use crate::collector::{Collector, Config, read_existing};
use crate::error::Result;
use crate::fsread::{list_dir, parse_f64};
use crate::metric_set::MetricSet;

/// (stats line, field index, metric suffix, help). Names follow the XFS
/// wiki's runtime stats, as node_exporter exports them.
const FIELDS: &[(&str, usize, &str, &str)] = &[
    (
        "extent_alloc",
        0,
        "extent_allocation_extents_allocated_total",
        "Number of extents allocated for a filesystem.",
    ),
    (
        "extent_alloc",
        1,
        "extent_allocation_blocks_allocated_total",
        "Number of blocks allocated for a filesystem.",
    ),
    (
        "extent_alloc",
        2,
        "extent_allocation_extents_freed_total",
        "Number of extents freed for a filesystem.",
    ),
    (
        "extent_alloc",
        3,
        "extent_allocation_blocks_freed_total",
        "Number of blocks freed for a filesystem.",
    ),
    (
        "abt",
        0,
        "allocation_btree_lookups_total",
        "Number of allocation B-tree lookups for a filesystem.",
    ),
    (
        "abt",
        1,
        "allocation_btree_compares_total",
        "Number of allocation B-tree compares for a filesystem.",
    ),
    (
        "abt",
        2,
        "allocation_btree_records_inserted_total",
        "Number of allocation B-tree records inserted for a filesystem.",
    ),
    (
        "abt",
        3,
        "allocation_btree_records_deleted_total",
        "Number of allocation B-tree records deleted for a filesystem.",
    ),
    (
        "blk_map",
        0,
        "block_mapping_reads_total",
        "Number of block map for read operations for a filesystem.",
    ),
    (
        "blk_map",
        1,
        "block_mapping_writes_total",
        "Number of block map for write operations for a filesystem.",
    ),
    (
        "blk_map",
        2,
        "block_mapping_unmaps_total",
        "Number of block unmaps (deletes) for a filesystem.",
    ),
    (
        "blk_map",
        3,
        "block_mapping_extent_list_insertions_total",
        "Number of extent list insertions for a filesystem.",
    ),
    (
        "blk_map",
        4,
        "block_mapping_extent_list_deletions_total",
        "Number of extent list deletions for a filesystem.",
    ),
    (
        "blk_map",
        5,
        "block_mapping_extent_list_lookups_total",
        "Number of extent list lookups for a filesystem.",
    ),
    (
        "blk_map",
        6,
        "block_mapping_extent_list_compares_total",
        "Number of extent list compares for a filesystem.",
    ),
    (
        "bmbt",
        0,
        "block_map_btree_lookups_total",
        "Number of block map B-tree lookups for a filesystem.",
    ),
    (
        "bmbt",
        1,
        "block_map_btree_compares_total",
        "Number of block map B-tree compares for a filesystem.",
    ),
    (
        "bmbt",
        2,
        "block_map_btree_records_inserted_total",
        "Number of block map B-tree records inserted for a filesystem.",
    ),
    (
        "bmbt",
        3,
        "block_map_btree_records_deleted_total",
        "Number of block map B-tree records deleted for a filesystem.",
    ),
    (
        "dir",
        0,
        "directory_operation_lookup_total",
        "Number of file name directory lookups which miss the operating systems directory name lookup cache.",
    ),
    (
        "dir",
        1,
        "directory_operation_create_total",
        "Number of times a new directory entry was created for a filesystem.",
    ),
    (
        "dir",
        2,
        "directory_operation_remove_total",
        "Number of times an existing directory entry was created for a filesystem.",
    ),
    (
        "dir",
        3,
        "directory_operation_getdents_total",
        "Number of times the directory getdents operation was performed for a filesystem.",
    ),
    (
        "rw",
        0,
        "read_calls_total",
        "Number of read(2) system calls made to files in a filesystem.",
    ),
    (
        "rw",
        1,
        "write_calls_total",
        "Number of write(2) system calls made to files in a filesystem.",
    ),
    (
        "vnodes",
        0,
        "vnode_active_total",
        "Number of vnodes not on free lists for a filesystem.",
    ),
    (
        "vnodes",
        1,
        "vnode_allocate_total",
        "Number of times vn_alloc called for a filesystem.",
    ),
    (
        "vnodes",
        2,
        "vnode_get_total",
        "Number of times vn_get called for a filesystem.",
    ),
    (
        "vnodes",
        3,
        "vnode_hold_total",
        "Number of times vn_hold called for a filesystem.",
    ),
    (
        "vnodes",
        4,
        "vnode_release_total",
        "Number of times vn_rele called for a filesystem.",
    ),
    (
        "vnodes",
        5,
        "vnode_reclaim_total",
        "Number of times vn_reclaim called for a filesystem.",
    ),
    (
        "vnodes",
        6,
        "vnode_remove_total",
        "Number of times vn_remove called for a filesystem.",
    ),
];

pub struct Xfs(pub Arc<Config>);

impl Collector for Xfs {
    fn name(&self) -> &'static str {
        "xfs"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let base = self.0.sys("fs/xfs");
        let Ok(names) = list_dir(&base) else {
            return Ok(()); // no XFS filesystem mounted
        };
        for dev in names {
            let stats = base.join(&dev).join("stats/stats");
            if !stats.exists() {
                continue; // the global `stats` directory, or not a device
            }
            let text = read_existing(&stats)?;
            let lines: HashMap<&str, Vec<f64>> = text
                .lines()
                .filter_map(|l| {
                    let mut it = l.split_whitespace();
                    let key = it.next()?;
                    Some((key, it.map(|v| parse_f64(v).unwrap_or(f64::NAN)).collect()))
                })
                .collect();
            for (line, idx, suffix, help) in FIELDS {
                let v = lines
                    .get(line)
                    .and_then(|vals| vals.get(*idx))
                    .copied()
                    .unwrap_or(0.0);
                out.counter(&format!("node_xfs_{suffix}"), help, &[("device", &dev)], v);
            }
        }
        Ok(())
    }
}
