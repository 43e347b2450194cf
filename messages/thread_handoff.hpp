#pragma once

// libzmq and libcaf_core are not built with ThreadSanitizer, so TSan does
// not see that a message handed from one thread to another through them is
// read only after it was written: libzmq's pipes and CAF's mailboxes order
// that with atomics of their own. These calls state that order to TSan, on
// one token for every hand-off; they compile to nothing in other builds.

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

namespace metronome::messages {

namespace detail {
inline char handoff_token = 0;
} // namespace detail

/// Orders what this thread did so far before whatever a thread does after
/// acquire_handoff() (call before handing a message to libzmq or CAF).
inline void release_handoff() {
#if defined(__SANITIZE_THREAD__)
  __tsan_release(&detail::handoff_token);
#endif
}

/// Orders what every thread did before its release_handoff() before what
/// this thread does next (call after receiving from libzmq, first in a
/// ZeroMQ free callback, and before reading a message CAF delivered).
inline void acquire_handoff() {
#if defined(__SANITIZE_THREAD__)
  __tsan_acquire(&detail::handoff_token);
#endif
}

} // namespace metronome::messages
