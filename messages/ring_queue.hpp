#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace metronome::messages {

/// A double-ended queue on one ring of slots that doubles when full: unlike
/// std::deque, which allocates a block for every few large elements, it
/// allocates only when it outgrows the largest size it has had.
template <class T>
class ring_queue {
public:
  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }

  /// The oldest element; the queue must not be empty.
  T& front() { return slots_[head_]; }
  /// The element `i` places after the oldest; `i` must be below size().
  T& operator[](std::size_t i) { return slots_[(head_ + i) & mask()]; }

  void push_back(T value) {
    grow_if_full();
    slots_[(head_ + size_) & mask()] = std::move(value);
    ++size_;
  }

  /// Puts `value` before every queued element.
  void push_front(T value) {
    grow_if_full();
    head_ = (head_ + mask()) & mask();
    slots_[head_] = std::move(value);
    ++size_;
  }

  /// Drops the oldest element; the queue must not be empty.
  void pop_front() {
    slots_[head_] = T(); // frees what it holds now, not when overwritten
    head_ = (head_ + 1) & mask();
    --size_;
  }

  void clear() {
    while (!empty())
      pop_front();
  }

private:
  std::size_t mask() const { return slots_.size() - 1; }

  void grow_if_full() {
    if (size_ < slots_.size())
      return;
    std::vector<T> bigger(slots_.empty() ? 16 : 2 * slots_.size());
    for (std::size_t i = 0; i < size_; ++i)
      bigger[i] = std::move(slots_[(head_ + i) & mask()]);
    slots_.swap(bigger);
    head_ = 0;
  }

  std::vector<T> slots_; // a power of two of them, or none
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

} // namespace metronome::messages
