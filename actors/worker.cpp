#include "actors/core/cache.hpp"
#include "actors/core/table.hpp"
#include "actors/roles.hpp"

#include "algorithms/program.hpp"
#include "algorithms/sgd/minibatch.hpp"
#include "algorithms/stragglers/stragglers.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <limits>

namespace metronome::actors {

namespace wire = messages::wire;

namespace {

using delayed_atom = caf::atom_constant<caf::atom("delayed")>;

// An iteration computed and not yet pushed.
struct computed_iteration {
  std::shared_ptr<std::vector<float>> grad;
  double loss = 0;
  double compute_seconds = 0;
  std::uint64_t samples = 0;
  std::int64_t staleness = 0;
  double blocked_seconds = 0;
  double delay_seconds = 0;
};

struct worker_state {
  std::unique_ptr<sender> out;
  std::shared_ptr<const algorithms::data_parallel_program> program;
  std::size_t workers = 1;
  std::vector<std::string> servers; // by server index
  std::vector<partition> parts;     // what is read from where
  std::vector<bool> eager;          // essp: servers push every commit
  std::unique_ptr<worker_cache> cache;
  std::unique_ptr<algorithms::straggler_model> stragglers;
  std::size_t rank = 0;
  computed_iteration computed;
  std::vector<float> params;
  std::uint64_t iterations = 0;
  std::int64_t clock = 0;
  std::vector<std::uint64_t> pull_seq;
  std::size_t replies_missing = 0;
  std::chrono::steady_clock::time_point read_start;
  bool fetched = false; // the current read waits for servers
  bool started = false;
  // Cutoff: every version is pushed to us; a computation is abandoned when
  // a newer version arrives before its gradient is sent.
  bool versions = false;
  enum { idle, scheduled, delaying } phase = idle;
  std::uint64_t abandoned = 0;
};

// Starts the read of iteration st.clock: fetches every shard the cache may
// not serve at this clock. Returns true when nothing needs fetching.
bool begin_read(worker_state& st) {
  st.read_start = std::chrono::steady_clock::now();
  st.replies_missing = 0;
  for (std::size_t p = 0; p < st.parts.size(); ++p) {
    st.pull_seq[p] = 0;
    if (st.cache->fresh(p, st.clock))
      continue;
    const auto& part = st.parts[p];
    messages::envelope_builder builder(256);
    auto body = wire::CreatePullRequest(builder.fbb(), part.keys.begin,
                                        part.keys.size(), 0, st.eager[p]);
    auto h = st.out->header(st.servers[part.server], st.clock, part.table);
    st.pull_seq[p] = h.seq;
    ++st.replies_missing;
    st.out->post(builder.finish(h, wire::Body::PullRequest, body.Union()));
  }
  st.fetched = st.replies_missing > 0;
  return !st.fetched;
}

// Computes iteration st.clock on the parameters the cache holds; the push
// waits for the emulated straggler delay, if any.
void compute(worker_state& st) {
  auto now = std::chrono::steady_clock::now();
  std::chrono::duration<double> blocked = now - st.read_start;
  st.cache->view(st.params);
  auto& done = st.computed;
  done.grad = std::make_shared<std::vector<float>>(st.params.size());
  auto step = st.program->compute(st.params.data(), st.rank, st.workers,
                                  static_cast<std::uint64_t>(st.clock),
                                  done.grad->data());
  done.loss = step.loss;
  done.compute_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - now)
          .count();
  done.samples = step.samples;
  done.staleness = st.cache->staleness_at(st.clock);
  done.blocked_seconds = st.fetched ? blocked.count() : 0.0;
  done.delay_seconds = st.stragglers->delay(
      st.rank, static_cast<std::uint64_t>(st.clock), done.compute_seconds);
}

// Pushes the computed gradient, reports the iteration and moves the clock.
void push(worker_state& st) {
  const auto& done = st.computed;
  for (const auto& part : st.parts) {
    messages::envelope_builder builder(256);
    auto payload = builder.floats(
        part.keys.begin, messages::float_block::of(done.grad, part.keys.begin,
                                                   part.keys.size()));
    auto body = wire::CreatePush(builder.fbb(), payload);
    st.out->post(builder.finish(
        st.out->header(st.servers[part.server], st.clock, part.table),
        wire::Body::Push, body.Union()));
  }
  st.cache->record_own(st.clock, done.grad);
  messages::envelope_builder builder(256);
  auto body = wire::CreateReport(
      builder.fbb(), st.clock, done.loss, done.compute_seconds, done.samples,
      done.staleness, done.blocked_seconds, done.delay_seconds);
  static const std::string coordinator = "coordinator/0";
  st.out->post(builder.finish(st.out->header(coordinator, st.clock),
                              wire::Body::Report, body.Union()));
  ++st.clock;
}

void advance(caf::event_based_actor* self, worker_state& st);

// Cutoff: the version every server has sent, or -1 while some server is
// already further (its part of that version would be missing).
std::int64_t complete_version(const worker_state& st) {
  std::int64_t low = std::numeric_limits<std::int64_t>::max();
  std::int64_t high = -1;
  for (std::size_t p = 0; p < st.parts.size(); ++p) {
    low = std::min(low, st.cache->clock_of(p));
    high = std::max(high, st.cache->clock_of(p));
  }
  return low == high ? low : -1;
}

// Cutoff: whether some server has sent a version newer than the one being
// computed, which makes its gradient late.
bool outdated(const worker_state& st) {
  for (std::size_t p = 0; p < st.parts.size(); ++p)
    if (st.cache->clock_of(p) > st.clock)
      return true;
  return false;
}

// Sends the computed gradient unless, under a cutoff, a newer version came
// meanwhile (the gradient would be dropped as late), then goes on.
void finish(caf::event_based_actor* self, worker_state& st) {
  st.phase = worker_state::idle;
  st.read_start = std::chrono::steady_clock::now();
  if (st.versions && outdated(st)) {
    ++st.abandoned;
  } else {
    push(st);
  }
  advance(self, st);
}

// One iteration after its read: compute, wait out the emulated delay on a
// timer (never blocking the thread), push, go on.
void iterate(caf::event_based_actor* self, worker_state& st,
             const actor_env& env) {
  compute(st);
  if (st.computed.delay_seconds > 0) {
    st.phase = worker_state::delaying;
    self->delayed_send(
        self,
        std::chrono::duration_cast<caf::timespan>(
            std::chrono::duration<double>(st.computed.delay_seconds)),
        delayed_atom::value, st.clock);
    return;
  }
  finish(self, st);
}

// Runs the next iteration if its read can be served from the cache (then
// continues through a message to itself, so other messages get a turn), or
// starts the fetch it waits for.
void advance(caf::event_based_actor* self, worker_state& st) {
  if (st.versions) {
    if (st.phase != worker_state::idle)
      return;
    auto v = complete_version(st);
    if (v < st.clock || static_cast<std::uint64_t>(v) >= st.iterations)
      return;
    st.clock = v;
    st.phase = worker_state::scheduled;
    st.fetched = true;
    self->send(self, tick_atom::value);
    return;
  }
  if (static_cast<std::uint64_t>(st.clock) >= st.iterations)
    return;
  if (begin_read(st))
    self->send(self, tick_atom::value);
}

} // namespace

caf::behavior worker(caf::event_based_actor* self, actor_env env) {
  keep_exception_messages(self);
  auto st = std::make_shared<worker_state>();
  const auto& topo = *env.topo;
  st->out = std::make_unique<sender>(env);
  try {
    st->program = job_program(topo.job, false);
    auto workers = topo.count("worker");
    st->workers = workers;
    st->iterations = schedule_of(topo, st->program->samples()).iterations;
    st->params.resize(st->program->parameters());
    auto shards = topo.count("server");
    for (std::size_t s = 0; s < shards; ++s)
      st->servers.push_back("server/" + std::to_string(s));
    auto tables = job_tables(topo.job, st->program.get(), st->params.size());
    st->parts = partitions(tables, shards);
    st->pull_seq.resize(st->parts.size());
    std::vector<key_range> ranges;
    // Under bsp and async a worker reads every iteration (async measures
    // the staleness of what it gets instead of bounding it).
    std::vector<std::int64_t> bounds;
    st->versions = topo.job.consistency == "cutoff";
    for (const auto& part : st->parts) {
      const auto& t = tables[part.table];
      ranges.push_back(part.keys);
      bool bounded = t.consistency == "ssp" || t.consistency == "essp";
      bounds.push_back(bounded ? t.staleness : 0);
      st->eager.push_back(t.consistency == "essp" || st->versions);
    }
    // The servers apply -lr / workers times each worker's gradient.
    float own_scale =
        -st->program->learning_rate() / static_cast<float>(workers);
    st->cache = std::make_unique<worker_cache>(std::move(ranges),
                                               std::move(bounds), own_scale);
    st->rank = static_cast<std::size_t>(env.index);
    st->read_start = std::chrono::steady_clock::now();
    st->stragglers = algorithms::make_straggler_model(topo.job.stragglers,
                                                      workers, topo.job.seed);
  } catch (const std::exception& e) {
    return refuse_to_start(self, env, e);
  }
  return {
      [self, st, env](const messages::inbound_ptr& msg) {
        msg->handled();
        switch (msg->kind()) {
        case wire::Body::PullReply: {
          auto seq = msg->header().seq();
          std::size_t p = 0;
          if (seq == 0) {
            // A commit pushed by a server (essp): refresh the cache, and
            // finish the read that waits for it, if any.
            while (p < st->parts.size() &&
                   !(st->eager[p] &&
                     st->parts[p].table == msg->header().table_id() &&
                     st->servers[st->parts[p].server] == msg->source()))
              ++p;
            if (p == st->parts.size())
              return;
          } else {
            while (p < st->pull_seq.size() && st->pull_seq[p] != seq)
              ++p;
            if (p == st->pull_seq.size() || st->replies_missing == 0)
              return; // a reply to a request we no longer wait for
          }
          const auto& part = st->parts[p];
          const auto* f = msg->envelope().body_as_PullReply()->payload();
          auto values = msg->values(*f);
          if (msg->source() != st->servers[part.server] ||
              msg->header().table_id() != part.table ||
              f->offset() != part.keys.begin ||
              values.size != part.keys.size()) {
            auto reason = fmt::format(
                "{} answered a pull of table {} with keys [{}, +{}) instead "
                "of [{}, {})",
                msg->source(), part.table, f->offset(), values.size,
                part.keys.begin, part.keys.end);
            spdlog::error("{}: {}", env.name, reason);
            self->quit(caf::make_error(caf::sec::runtime_error, reason));
            return;
          }
          st->cache->store(p, msg->header().clock(),
                           msg->envelope().body_as_PullReply()->applied(),
                           values);
          if (st->versions) {
            // A newer version makes a computation waiting out its delay
            // stale: it is abandoned at once.
            if (st->phase == worker_state::delaying && outdated(*st))
              finish(self, *st);
            else
              advance(self, *st);
            return;
          }
          // The answer to our request completes the read (the server
          // waited as long as the policy needs); a pushed commit completes
          // it only once the cache is fresh enough.
          if (st->pull_seq[p] == 0 ||
              (seq == 0 && !st->cache->fresh(p, st->clock)))
            return;
          st->pull_seq[p] = 0;
          if (--st->replies_missing > 0)
            return;
          iterate(self, *st, env);
          break;
        }
        case wire::Body::Control: {
          auto cmd = msg->envelope().body_as_Control()->command();
          if (cmd == wire::Command::Start && !st->started) {
            st->started = true;
            if (!st->versions)
              advance(self, *st);
          } else if (cmd == wire::Command::Stop) {
            self->quit();
          } else if (cmd == wire::Command::Abort) {
            self->quit(aborted_elsewhere);
          }
          break;
        }
        default:
          spdlog::warn("{}: unexpected {} from {}", env.name,
                       messages::kind_name(msg->kind()), msg->source());
        }
      },
      [self, st, env](tick_atom) {
        // The read of st->clock was served from the cache; under a cutoff,
        // the newest version is computed.
        if (st->versions) {
          auto v = complete_version(*st);
          if (v > st->clock && static_cast<std::uint64_t>(v) < st->iterations)
            st->clock = v;
        }
        iterate(self, *st, env);
      },
      [self, st](delayed_atom, std::int64_t clock) {
        if (st->phase == worker_state::delaying && clock == st->clock)
          finish(self, *st);
      },
      [self, env](peer_down_atom, const std::string& peer) {
        stop_if_coordinator_lost(self, env, peer);
      },
  };
}

} // namespace metronome::actors
