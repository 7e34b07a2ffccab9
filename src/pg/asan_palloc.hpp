// A test build only (scripts/check-sanitizers.sh compiles with
// -DCOMPUTE_ASAN_PALLOC and -fsanitize=address): compute's own palloc() and
// palloc0() calls go through compute_asan_palloc(), which makes a write or
// read past the requested size an AddressSanitizer report.
//
// Why: palloc hands out pieces of 8 kB blocks that the allocator mallocs, so
// ASan sees only the blocks; a palloc(20) written at byte 27 stays inside the
// block (and inside the 32-byte chunk) and goes unnoticed. PostgreSQL's own
// guard (MEMORY_CONTEXT_CHECKING's sentinel byte, checked at pfree and reset)
// is not compiled into Debian's server, and would only see the first byte
// past the request anyway.
//
// How: in an AllocSet context (the kind of every context compute allocates
// in), a request above the allocator's chunk limit (8 kB, ALLOC_CHUNK_LIMIT
// in aset.c, the limit of the largest context sizes; smaller contexts have
// smaller limits) gets a block of its own, malloc'd and freed (pfree, context
// reset or delete) through ASan's malloc. So every request is made at least
// kAsanPallocChunk bytes, and the bytes past the requested size are poisoned
// up to the end of the chunk: any access to them is reported, with the stack
// of the access. The poison dies with the block (ASan's free takes the
// memory back), so memory that PostgreSQL later reuses is never poisoned.
// Other context kinds (generation, slab) get a plain palloc.
#pragma once

#ifdef COMPUTE_ASAN_PALLOC

#if !defined(__SANITIZE_ADDRESS__)
#error "COMPUTE_ASAN_PALLOC needs -fsanitize=address"
#endif

// Above ALLOC_CHUNK_LIMIT (aset.c): always a dedicated malloc'd block.
constexpr Size kAsanPallocChunk = 8192 + 1;

extern "C" PGDLLEXPORT void *
compute_asan_palloc(Size size, bool zero);

#define palloc(size) compute_asan_palloc((size), false)
#define palloc0(size) compute_asan_palloc((size), true)

#endif
