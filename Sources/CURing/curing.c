#include "curing.h"

size_t curing_buf_ring_entry_size(void) { return sizeof(struct io_uring_buf); }

#include <sys/prctl.h>
void curing_name_this_thread(const char *name) { prctl(PR_SET_NAME, name, 0, 0, 0); }

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>
int curing_enable_rings(struct io_uring *ring) {
    long r = syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
    return r < 0 ? -errno : 0;
}
