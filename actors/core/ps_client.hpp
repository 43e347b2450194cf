#pragma once

#include "actors/core/table.hpp"
#include "messages/codec.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace metronome::actors {

/// The reading side of the pull protocol, shared by every reader of the
/// parameter tables (workers, the coordinator's evaluations): sends pull
/// requests for partitions, matches the replies (answers by sequence
/// number, commits pushed to a subscriber by server and table) and checks
/// that each covers exactly its partition's keys.
///
/// CAF-free: messages leave through the functions it is given.
class ps_client {
public:
  /// A header for a message to `destination` at `clock` about `table`,
  /// with a fresh sequence number.
  using header_fn = std::function<messages::header(
      const std::string& destination, std::int64_t clock, std::uint32_t table)>;
  using post_fn = std::function<void(messages::outbound)>;

  /// Reads `parts` from servers "server/<index>"; `subscribed[p]` says
  /// whether the server of part p pushes its commits to this reader (essp,
  /// cutoff versions), which requests then ask for.
  ps_client(std::vector<partition> parts, std::vector<bool> subscribed,
            header_fn header, post_fn post);

  /// Asks the server of part `p` for it, as a reader at `clock`.
  void request(std::size_t p, std::int64_t clock);

  /// Asks for every part at `clock`.
  void request_all(std::int64_t clock);

  /// A reply matched to its part.
  struct reply {
    std::size_t part = 0;
    bool answer = false;      ///< answers a request (else a pushed commit)
    std::int64_t clock = 0;   ///< every update below it is in the values
    std::int64_t applied = 0; ///< the reader's own updates below it are in
    messages::float_view values;
  };

  /// The part PullReply `msg` is for, or nullopt when it concerns nothing
  /// this reader waits for or subscribed to (a late or repeated answer).
  /// Sets `error` (and returns nullopt) when it comes from another server
  /// or carries other keys than the part has.
  std::optional<reply> match(const messages::inbound& msg,
                             std::string& error) const;

  /// Marks the request of part `p` answered; returns how many are still
  /// outstanding.
  std::size_t answered(std::size_t p);

  /// Whether a request of part `p` is outstanding.
  bool outstanding(std::size_t p) const { return seq_[p] != 0; }
  /// Requests outstanding.
  std::size_t missing() const { return missing_; }
  /// Forgets every outstanding request (their answers will be ignored).
  void reset();

  std::size_t size() const { return parts_.size(); }
  const partition& part(std::size_t p) const { return parts_[p]; }
  /// The server holding part `p` ("server/<index>").
  const std::string& server(std::size_t p) const { return servers_[p]; }

private:
  std::vector<partition> parts_;
  std::vector<bool> subscribed_;
  std::vector<std::string> servers_; // by part
  std::vector<std::uint64_t> seq_;   // outstanding request per part, or 0
  std::size_t missing_ = 0;
  header_fn header_;
  post_fn post_;
};

} // namespace metronome::actors
