#include "actors/core/cutoff_server.hpp"

#include <algorithm>

namespace metronome::actors {

namespace wire = messages::wire;

cutoff_server::cutoff_server(std::size_t index, std::size_t servers,
                             std::size_t workers, std::int64_t versions,
                             table_shard& table, header_fn header, post_fn post,
                             ask_fn ask)
    : servers_(servers)
    , workers_(workers)
    , versions_(versions)
    , table_(table)
    , header_(std::move(header))
    , post_(std::move(post))
    , ask_(std::move(ask)) {
  if (index == 0)
    leader_ = std::make_unique<cutoff_leader>(workers);
}

std::vector<std::string> cutoff_server::readers() const {
  std::vector<std::string> names;
  for (std::size_t w = 0; w < workers_; ++w)
    names.push_back("worker/" + std::to_string(w));
  return names;
}

void cutoff_server::start() {
  if (started_)
    return;
  started_ = true;
  if (!leader_)
    return;
  cutoff_query query;
  query.workers = leader_->live();
  ask_(std::move(query));
}

void cutoff_server::arrived(std::size_t worker, std::int64_t version,
                            double now) {
  if (leader_ && version == leader_->version())
    leader_->arrived(worker, now);
}

std::string cutoff_server::decided(const messages::inbound& msg) {
  const auto* cut = msg.envelope().body_as_Cutoff();
  if (leader_)
    return "this server takes no cutoff decisions";
  if (msg.source() != "server/0")
    return "cutoff decisions come from server/0 only";
  if (cut == nullptr || cut->accepted() == nullptr)
    return "cutoff without accepted workers";
  auto version = msg.header().clock();
  if (version < table_.committed())
    return {}; // a repeated decision
  return table_.accept(version,
                       {cut->accepted()->begin(), cut->accepted()->end()});
}

void cutoff_server::answered(std::int64_t version,
                             const algorithms::cutoff_decision& d,
                             double seconds, const std::string& rule) {
  if (leader_)
    leader_->decision(version, d, seconds, rule);
}

void cutoff_server::lost(std::size_t worker, bool dead) {
  if (leader_)
    leader_->lost(worker);
  if (dead)
    table_.forget(worker);
}

void cutoff_server::found(std::size_t worker) {
  if (leader_)
    leader_->found(worker);
  table_.revive(worker);
}

cutoff_step cutoff_server::advance(double now) {
  cutoff_step step;
  if (!leader_ || !started_)
    return step;
  if (table_.committed() > leader_->version())
    leader_->broadcast(table_.committed(), now);
  auto r = leader_->reached();
  if (!r)
    return step;
  step.decided = true;
  announce(*r);
  last_ = *r;
  ++totals_.versions;
  totals_.censored += static_cast<std::uint64_t>(
      std::count(r->observation.censored.begin(), r->observation.censored.end(),
                 std::uint8_t{1}));
  totals_.decision_seconds += r->decision_seconds;
  totals_.late_decisions = leader_->late_decisions();
  if (r->version + 1 < versions_) {
    cutoff_query query;
    query.version = r->version + 1;
    query.workers = leader_->live();
    query.observation = std::move(r->observation);
    ask_(std::move(query));
  }
  step.error = table_.accept(r->version, std::move(r->accepted));
  return step;
}

void cutoff_server::announce(const cutoff_record& r) {
  const auto& obs = r.observation;
  std::vector<std::uint32_t> accepted(r.accepted.begin(), r.accepted.end());
  std::vector<std::string> to = {"coordinator/0"};
  for (std::size_t s = 1; s < servers_; ++s)
    to.push_back("server/" + std::to_string(s));
  for (const auto& destination : to) {
    messages::envelope_builder builder(512);
    auto body = wire::CreateCutoffDirect(
        builder.fbb(), &accepted, r.cutoff_seconds, &obs.seconds, &obs.censored,
        r.decision_seconds, r.decision_late, table_.late_updates(),
        &r.expected_throughput, r.rule.c_str());
    post_(builder.finish(header_(destination, r.version, 0), wire::Body::Cutoff,
                         body.Union()));
  }
}

} // namespace metronome::actors
