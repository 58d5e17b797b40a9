// C shim over liburing: only what Swift cannot import by itself. Every symbol starts with
// `curing_`; there is no logic here, each wrapper says why it exists.
#ifndef CURING_H
#define CURING_H

// liburing.h defines _XOPEN_SOURCE and _GNU_SOURCE before including glibc headers. If it
// were the first include, this module would see glibc under different feature macros than
// Swift's Glibc module does (fd_set's field is `fds_bits` instead of `__fds_bits`), and
// clang rejects the two definitions as conflicting. Including a glibc header first fixes
// the feature set (features.h runs once) to the one Glibc uses.
#include <sys/select.h>
#include <signal.h>
#include <liburing.h>
#include <sys/eventfd.h>

// Flag macros built from shifts are not imported reliably by Swift; expose them as constants.
static const uint32_t curing_setup_single_issuer = IORING_SETUP_SINGLE_ISSUER;
static const uint32_t curing_setup_defer_taskrun = IORING_SETUP_DEFER_TASKRUN;
static const uint32_t curing_setup_coop_taskrun = IORING_SETUP_COOP_TASKRUN;
static const uint32_t curing_setup_submit_all = IORING_SETUP_SUBMIT_ALL;
static const uint32_t curing_setup_cqsize = IORING_SETUP_CQSIZE;
static const uint32_t curing_cqe_f_more = IORING_CQE_F_MORE;
static const uint32_t curing_cqe_f_buffer = IORING_CQE_F_BUFFER;
static const uint32_t curing_cqe_buffer_shift = IORING_CQE_BUFFER_SHIFT;
static const uint32_t curing_feat_nodrop = IORING_FEAT_NODROP;
static const uint32_t curing_feat_fast_poll = IORING_FEAT_FAST_POLL;
static const uint32_t curing_sqe_buffer_select = IOSQE_BUFFER_SELECT;
static const uint32_t curing_async_cancel_all = IORING_ASYNC_CANCEL_ALL;
static const uint8_t curing_sqe_io_link = IOSQE_IO_LINK;

// The buffer-ring struct ends in a union with a flexible array; Swift cannot size it.
size_t curing_buf_ring_entry_size(void);

// Debian's liburing 2.3 declares io_uring_enable_rings but does not export it; this issues
// IORING_REGISTER_ENABLE_RINGS directly. Returns 0 or -errno.
int curing_enable_rings(struct io_uring *ring);

// Names the calling thread (for top -H, gdb); prctl(2) is variadic, which Swift cannot call.
void curing_name_this_thread(const char *name);

#endif
