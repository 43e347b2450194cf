#include "actors/core/ps_client.hpp"

#include <fmt/format.h>

namespace metronome::actors {

namespace wire = messages::wire;

ps_client::ps_client(std::vector<partition> parts, std::vector<bool> subscribed,
                     header_fn header, post_fn post)
    : parts_(std::move(parts))
    , subscribed_(std::move(subscribed))
    , seq_(parts_.size(), 0)
    , header_(std::move(header))
    , post_(std::move(post)) {
  subscribed_.resize(parts_.size(), false);
  for (const auto& part : parts_)
    servers_.push_back("server/" + std::to_string(part.server));
}

void ps_client::request(std::size_t p, std::int64_t clock) {
  const auto& part = parts_[p];
  messages::envelope_builder builder(256);
  auto body = wire::CreatePullRequest(builder.fbb(), part.keys.begin,
                                      part.keys.size(), 0, subscribed_[p]);
  auto h = header_(servers_[p], clock, part.table);
  if (seq_[p] == 0)
    ++missing_;
  seq_[p] = h.seq;
  post_(builder.finish(h, wire::Body::PullRequest, body.Union()));
}

void ps_client::request_all(std::int64_t clock) {
  for (std::size_t p = 0; p < parts_.size(); ++p)
    request(p, clock);
}

std::optional<ps_client::reply> ps_client::match(const messages::inbound& msg,
                                                 std::string& error) const {
  auto seq = msg.header().seq();
  auto table = msg.header().table_id();
  std::size_t p = 0;
  if (seq == 0) {
    while (p < parts_.size() && !(subscribed_[p] && parts_[p].table == table &&
                                  servers_[p] == msg.source()))
      ++p;
  } else {
    while (p < parts_.size() && seq_[p] != seq)
      ++p;
  }
  if (p == parts_.size())
    return std::nullopt;
  const auto& part = parts_[p];
  const auto* body = msg.envelope().body_as_PullReply();
  const auto* f = body->payload();
  auto values = msg.values(*f);
  if (msg.source() != servers_[p] || table != part.table ||
      f->offset() != part.keys.begin || values.size != part.keys.size()) {
    error = fmt::format("{} answered a pull of table {} with keys [{}, +{}) "
                        "instead of [{}, {})",
                        msg.source(), part.table, f->offset(), values.size,
                        part.keys.begin, part.keys.end);
    return std::nullopt;
  }
  return reply{p, seq != 0, msg.header().clock(), body->applied(), values};
}

std::size_t ps_client::answered(std::size_t p) {
  if (seq_[p] != 0) {
    seq_[p] = 0;
    --missing_;
  }
  return missing_;
}

void ps_client::reset() {
  std::fill(seq_.begin(), seq_.end(), 0);
  missing_ = 0;
}

} // namespace metronome::actors
