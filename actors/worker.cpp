#include "actors/core/cache.hpp"
#include "actors/core/pacing.hpp"
#include "actors/core/ps_client.hpp"
#include "actors/core/table.hpp"
#include "actors/roles.hpp"

#include "algorithms/program.hpp"
#include "algorithms/sgd/minibatch.hpp"
#include "algorithms/stragglers/stragglers.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
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

// Time a worker was blocked, by cause, for inspect: reads a server held
// until the staleness bound let it answer, the rest of its reads (the
// replies' way), waiting for a version under a cutoff, and paused.
struct blocked_times {
  double bound = 0;
  double reply = 0;
  double cutoff = 0;
  double paused = 0;

  nlohmann::ordered_json json() const {
    return {{"bound", bound},
            {"reply", reply},
            {"cutoff", cutoff},
            {"paused", paused}};
  }
};

struct worker_state {
  std::unique_ptr<sender> out;
  std::shared_ptr<const algorithms::data_parallel_program> program;
  std::size_t workers = 1;
  std::unique_ptr<ps_client> reads; // what is read from where
  std::vector<table_layout> tables;
  std::shared_ptr<actor_status> status;
  std::unique_ptr<worker_cache> cache;
  std::unique_ptr<algorithms::straggler_model> stragglers;
  std::size_t rank = 0;
  computed_iteration computed;
  // The parameters read, when the cache adds own updates to its values.
  std::vector<float> scratch;
  std::uint64_t iterations = 0;
  std::int64_t clock = 0;
  float rate = 0; // the learning rate set live, 0 until then
  std::chrono::steady_clock::time_point read_start;
  bool fetched = false;        // the current read waits for servers
  double held = 0;             // the longest a server held a part of it
  bool held_for_bound = false; // a pushed commit completed it
  blocked_times blocked;
  std::chrono::steady_clock::time_point paused_at;
  bool started = false;
  // When which iteration is computed; under a cutoff every version is
  // pushed to us and a computation a newer version overtook is abandoned.
  std::unique_ptr<worker_pacing> pacing;
  enum { idle, scheduled, delaying } phase = idle;
  std::uint64_t abandoned = 0;
  // inspect's pause: asked for, and in effect (no iteration started since).
  bool pause_asked = false;
  bool paused = false;
};

// Tells the coordinator, for the job's records, that the worker was paused
// or resumed before iteration st.clock.
void note_pause(worker_state& st, wire::Command cmd) {
  messages::envelope_builder builder(256);
  auto body = wire::CreateControl(builder.fbb(), cmd,
                                  builder.fbb().CreateString("inspect"));
  static const std::string coordinator = "coordinator/0";
  st.out->post(builder.finish(st.out->header(coordinator, st.clock),
                              wire::Body::Control, body.Union()));
}

// Publishes the parts of the read of st.clock still outstanding: the
// clock each table must have committed, and on which server.
void publish_read(worker_state& st) {
  std::vector<wait_item> items;
  for (std::size_t p = 0; p < st.reads->size(); ++p) {
    if (!st.reads->outstanding(p))
      continue;
    const auto& t = st.tables[st.reads->part(p).table];
    bool bounded = t.consistency == "ssp" || t.consistency == "essp";
    auto needed =
        std::max<std::int64_t>(0, st.clock - (bounded ? t.staleness : 0));
    auto same = std::find_if(items.begin(), items.end(), [&](const auto& i) {
      return i.table == t.name && i.clock == needed;
    });
    if (same == items.end())
      items.push_back({t.name, needed, {st.reads->server(p)}});
    else
      same->on.push_back(st.reads->server(p));
  }
  st.status->publish("reading", st.clock);
  st.status->wait("read", std::move(items));
}

// Starts the read of iteration st.clock: fetches every shard the cache may
// not serve at this clock. Returns true when nothing needs fetching.
bool begin_read(worker_state& st) {
  st.read_start = std::chrono::steady_clock::now();
  st.held = 0;
  st.held_for_bound = false;
  st.reads->reset();
  for (std::size_t p = 0; p < st.reads->size(); ++p)
    if (!st.cache->fresh(p, st.clock))
      st.reads->request(p, st.clock);
  st.fetched = st.reads->missing() > 0;
  return !st.fetched;
}

// Adds the wait for the read of st.clock, `seconds`, to its cause.
void note_blocked(worker_state& st, double seconds) {
  if (seconds <= 0)
    return;
  if (!st.pacing->reads()) {
    st.blocked.cutoff += seconds;
  } else if (st.held_for_bound) {
    st.blocked.bound += seconds;
  } else {
    auto held = std::min(st.held, seconds);
    st.blocked.bound += held;
    st.blocked.reply += seconds - held;
  }
  st.status->note("blocked_s", st.blocked.json());
}

// Computes iteration st.clock on the parameters the cache holds; the push
// waits for the emulated straggler delay, if any.
void compute(worker_state& st) {
  st.status->publish("computing", st.clock);
  st.status->wait("", {});
  auto now = std::chrono::steady_clock::now();
  std::chrono::duration<double> blocked = now - st.read_start;
  const auto& params = st.cache->view(st.scratch);
  auto& done = st.computed;
  done.grad = std::make_shared<std::vector<float>>(params.size());
  auto step = st.program->compute(params.data(), st.rank, st.workers,
                                  static_cast<std::uint64_t>(st.clock),
                                  done.grad->data());
  done.loss = step.loss;
  done.compute_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - now)
          .count();
  done.samples = step.samples;
  done.staleness = st.cache->staleness_at(st.clock);
  done.blocked_seconds = st.fetched ? blocked.count() : 0.0;
  note_blocked(st, done.blocked_seconds);
  done.delay_seconds = st.stragglers->delay(
      st.rank, static_cast<std::uint64_t>(st.clock), done.compute_seconds);
}

// Pushes the computed gradient, reports the iteration and moves the clock.
void push(worker_state& st) {
  const auto& done = st.computed;
  for (std::size_t p = 0; p < st.reads->size(); ++p) {
    const auto& part = st.reads->part(p);
    messages::envelope_builder builder(256);
    auto payload = builder.floats(
        part.keys.begin, messages::float_block::of(done.grad, part.keys.begin,
                                                   part.keys.size()));
    auto body = wire::CreatePush(builder.fbb(), payload, st.rate);
    st.out->post(builder.finish(
        st.out->header(st.reads->server(p), st.clock, part.table),
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

// Sends the computed gradient unless, under a cutoff, a newer version came
// meanwhile (the gradient would be dropped as late), then goes on.
void finish(caf::event_based_actor* self, worker_state& st) {
  st.phase = worker_state::idle;
  st.read_start = std::chrono::steady_clock::now();
  if (st.pacing->overtaken(*st.cache, st.clock)) {
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
    st.status->publish("delaying", st.clock);
    self->delayed_send(
        self,
        std::chrono::duration_cast<caf::timespan>(
            std::chrono::duration<double>(st.computed.delay_seconds)),
        delayed_atom::value, st.clock);
    return;
  }
  finish(self, st);
}

// Publishes why an idle worker starts no iteration: it is done, or, under
// a cutoff, it waits for the next version from every server.
void publish_idle(worker_state& st) {
  if (static_cast<std::uint64_t>(st.clock) >= st.iterations) {
    st.status->publish("finished", st.clock);
    st.status->wait("", {});
    return;
  }
  std::vector<std::string> servers;
  for (std::size_t p = 0; p < st.reads->size(); ++p)
    servers.push_back(st.reads->server(p));
  st.status->publish("waiting for a version", st.clock);
  st.status->wait("version", {{st.tables[0].name, st.clock, servers}});
}

// Runs the next iteration if its read can be served from the cache (then
// continues through a message to itself, so other messages get a turn), or
// starts the fetch it waits for; a versioned worker starts the newest
// version every server has sent.
void advance(caf::event_based_actor* self, worker_state& st) {
  if (st.phase != worker_state::idle || st.paused)
    return;
  if (st.pause_asked && static_cast<std::uint64_t>(st.clock) < st.iterations) {
    st.paused = true;
    st.paused_at = std::chrono::steady_clock::now();
    st.status->publish("paused", st.clock);
    st.status->wait("", {});
    note_pause(st, wire::Command::Pause);
    return;
  }
  auto next = st.pacing->start(*st.cache, st.clock, st.iterations);
  if (next < 0) {
    publish_idle(st);
    return;
  }
  if (st.pacing->reads() && !begin_read(st)) {
    publish_read(st);
    return;
  }
  st.clock = next;
  st.phase = worker_state::scheduled;
  st.fetched = st.fetched || !st.pacing->reads();
  self->send(self, tick_atom::value);
}

// Phase 2 of a live change of a table's staleness bound (see live_change):
// reads from the next one on are under the new bound; the answer tells the
// coordinator that read's clock.
void change_bound(worker_state& st, const knob_setting& k) {
  auto bound = static_cast<std::int64_t>(k.value);
  bool raised = false;
  for (auto& t : st.tables)
    if (t.name == k.table) {
      raised = bound > t.staleness;
      t.staleness = bound;
    }
  for (std::size_t p = 0; p < st.reads->size(); ++p)
    if (st.tables[st.reads->part(p).table].name == k.table)
      st.cache->set_staleness(p, bound);
  // A read in flight is answered under the raised bound once the servers
  // take it (phase 3), but it was checked against the cache under the old
  // one, so a lowered bound starts with the next read.
  bool before_read =
      st.phase == worker_state::idle && (raised || st.reads->missing() == 0);
  st.out->knob("coordinator/0", k, before_read ? st.clock : st.clock + 1);
}

// A live change of the learning rate: every push from the next one on
// carries it, and the cache scales the worker's own updates the same way.
void change_rate(worker_state& st, const knob_setting& k) {
  st.rate = static_cast<float>(k.value);
  st.cache->set_own_scale(-st.rate / static_cast<float>(st.workers));
  st.out->knob("coordinator/0", k, st.clock);
}

void change_knob(worker_state& st, const actor_env& env,
                 const messages::inbound& msg) {
  auto k = knob_of(msg);
  if (msg.source() == "coordinator/0" && k.phase == 2 && k.name == "staleness")
    return change_bound(st, k);
  if (msg.source() == "coordinator/0" && k.phase == 2 &&
      k.name == "learning_rate" && !st.program->adds_updates() &&
      std::isfinite(k.value) && k.value > 0)
    return change_rate(st, k);
  spdlog::warn("{}: ignored a knob from {}", env.name, msg.source());
}

// A pull reply (or a commit the server pushed): stored in the cache, and
// the next iteration starts once every read is complete.
void on_pull_reply(caf::event_based_actor* self, worker_state& st,
                   const actor_env& env, const messages::inbound& msg) {
  std::string error;
  auto r = st.reads->match(msg, error);
  if (!error.empty()) {
    spdlog::error("{}: {}", env.name, error);
    self->quit(caf::make_error(caf::sec::runtime_error, error));
    return;
  }
  if (!r)
    return; // a reply to a request we no longer wait for
  if (r->answer) {
    auto held = msg.envelope().body_as_PullReply()->held_seconds();
    if (held > st.held && held < 1e9)
      st.held = held;
  }
  st.cache->store(r->part, r->clock, r->applied, r->values);
  if (!st.pacing->reads()) {
    // A newer version makes a computation waiting out its delay
    // stale: it is abandoned at once.
    if (st.phase == worker_state::delaying &&
        st.pacing->overtaken(*st.cache, st.clock))
      finish(self, st);
    else
      advance(self, st);
    return;
  }
  // The answer to our request completes the read (the server
  // waited as long as the policy needs); a pushed commit completes
  // it only once the cache is fresh enough.
  if (!st.reads->outstanding(r->part) ||
      (!r->answer && !st.cache->fresh(r->part, st.clock)))
    return;
  st.held_for_bound = st.held_for_bound || !r->answer;
  if (st.reads->answered(r->part) > 0)
    return;
  iterate(self, st, env);
}

void handle_message(caf::event_based_actor* self, worker_state& st,
                    const actor_env& env, const messages::inbound& msg) {
  msg.handled();
  env.status->handled();
  switch (msg.kind()) {
  case wire::Body::PullReply:
    on_pull_reply(self, st, env, msg);
    break;
  case wire::Body::Knob:
    change_knob(st, env, msg);
    break;
  case wire::Body::Control: {
    auto cmd = msg.envelope().body_as_Control()->command();
    if (cmd == wire::Command::Start && !st.started) {
      st.started = true;
      advance(self, st);
    } else {
      stop_on(self, cmd);
    }
    break;
  }
  default:
    spdlog::warn("{}: unexpected {} from {}", env.name,
                 messages::kind_name(msg.kind()), msg.source());
  }
}

} // namespace

caf::behavior worker(caf::event_based_actor* self, actor_env env) {
  keep_exception_messages(self);
  auto st = std::make_shared<worker_state>();
  const auto& topo = *env.topo;
  st->out = std::make_unique<sender>(env);
  try {
    auto workers = topo.count("worker");
    st->program = job_program(
        topo, false,
        data_part::of_worker(static_cast<std::size_t>(env.index), workers));
    st->workers = workers;
    st->iterations = schedule_of(topo, st->program->samples()).iterations;
    auto tables =
        job_tables(topo.job, st->program.get(), st->program->parameters());
    st->tables = tables;
    st->status = env.status;
    st->status->publish("waiting for start", 0);
    auto parts = partitions(tables, topo.count("server"));
    std::vector<key_range> ranges;
    // Under bsp and async a worker reads every iteration (async measures
    // the staleness of what it gets instead of bounding it).
    std::vector<std::int64_t> bounds;
    st->pacing = make_worker_pacing(topo.job.consistency);
    std::vector<bool> eager; // servers push every commit: essp, versions
    for (const auto& part : parts) {
      const auto& t = tables[part.table];
      ranges.push_back(part.keys);
      bool bounded = t.consistency == "ssp" || t.consistency == "essp";
      bounds.push_back(bounded ? t.staleness : 0);
      eager.push_back(t.consistency == "essp" || !st->pacing->reads());
    }
    st->reads = reader_of(*st->out, std::move(parts), std::move(eager));
    // The servers apply -lr / workers times each worker's gradient, or add
    // the update as it is.
    float own_scale =
        st->program->adds_updates()
            ? 1.0f
            : -st->program->learning_rate() / static_cast<float>(workers);
    st->cache = std::make_unique<worker_cache>(std::move(ranges),
                                               std::move(bounds), own_scale);
    st->rank = static_cast<std::size_t>(env.index);
    st->read_start = std::chrono::steady_clock::now();
    st->stragglers = algorithms::make_straggler_model(topo.job.stragglers,
                                                      workers, topo.job.seed);
  } catch (const std::exception& e) {
    return refuse_to_start(self, env, e);
  }
  auto on_message = [self, st, env](const messages::inbound_ptr& msg) {
    handle_message(self, *st, env, *msg);
  };
  return {
      on_message,
      batch_handler(self, on_message),
      [self, st, env](tick_atom) {
        // The read of st->clock was served from the cache; under a cutoff,
        // the newest version is computed.
        auto newest = st->pacing->start(*st->cache, st->clock, st->iterations);
        if (newest > st->clock)
          st->clock = newest;
        iterate(self, *st, env);
      },
      [self, st](delayed_atom, std::int64_t clock) {
        if (st->phase == worker_state::delaying && clock == st->clock)
          finish(self, *st);
      },
      [self, st, env](pause_atom) {
        if (st->pause_asked)
          return;
        st->pause_asked = true;
        spdlog::info("{}: pausing after its iteration (inspect)", env.name);
        // Mid-iteration or mid-read it pauses once the iteration is pushed.
        if (st->started && st->phase == worker_state::idle &&
            st->reads->missing() == 0)
          advance(self, *st);
      },
      [self, st, env](resume_atom) {
        st->pause_asked = false;
        if (!st->paused)
          return;
        st->paused = false;
        st->blocked.paused +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                          st->paused_at)
                .count();
        st->status->note("blocked_s", st->blocked.json());
        spdlog::info("{}: resumed at clock {} (inspect)", env.name, st->clock);
        note_pause(*st, wire::Command::Resume);
        advance(self, *st);
      },
      [self, env](peer_down_atom, const std::string& peer) {
        stop_if_coordinator_lost(self, env, peer);
      },
  };
}

} // namespace metronome::actors
