#pragma once
// 2 MB pages for the simulator's heap. A large cluster's node tables are gigabytes read at random
// (every gossip entry picks or looks up a node of another table), so with 4 KB pages most reads
// also miss the TLB. glibc hands its heap to transparent huge pages only when the tunable
// glibc.malloc.hugetlb=1 is set, and reads tunables at start: so the program runs itself again once
// with it set. Runs are identical either way (page size is invisible to the simulation).
namespace rcsim::tools {

// Re-executes the program with GLIBC_TUNABLES=glibc.malloc.hugetlb=1 unless GLIBC_TUNABLES is set
// already (by the user, or by this). Returns only if it did not re-execute.
void use_huge_pages(char** argv);

}  // namespace rcsim::tools
