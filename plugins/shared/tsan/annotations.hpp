// Happens-before edges for ThreadSanitizer across gRPC's callback API.
//
// gRPC runs a reaction (OnReadDone, OnWriteDone, OnDone, a unary call's
// completion) on one of its threads, after the operation that started it
// (StartRead, StartWrite, Finish, StartCall, async()->Method) on another, and
// orders the two with its own locks and atomics. Debian's gRPC, Abseil and
// protobuf are not built with -fsanitize=thread, so TSan sees none of that
// and reports everything the reaction reads of what the starting thread
// wrote. handoff(key) just before starting an operation and received(key)
// on entering its reaction (same key: the reactor or the call object) state
// the order gRPC already guarantees. Outside a TSan build both are empty.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define CHAT_TSAN_ENABLED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CHAT_TSAN_ENABLED 1
#endif
#endif

#ifdef CHAT_TSAN_ENABLED
extern "C" {
void __tsan_acquire(void* addr);
void __tsan_release(void* addr);
}
#endif

namespace chat::tsan {

// Everything this thread did so far happens before a received(key) that follows.
inline void handoff([[maybe_unused]] const void* key) {
#ifdef CHAT_TSAN_ENABLED
  __tsan_release(const_cast<void*>(key));
#endif
}

// Everything done before a handoff(key) happens before what this thread does next.
inline void received([[maybe_unused]] const void* key) {
#ifdef CHAT_TSAN_ENABLED
  __tsan_acquire(const_cast<void*>(key));
#endif
}

}  // namespace chat::tsan
