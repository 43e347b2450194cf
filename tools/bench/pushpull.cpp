#include "tools/bench/pushpull.hpp"

#include "actors/core/job_records.hpp"
#include "actors/node.hpp"
#include "actors/roles.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <zmq_addon.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <thread>

namespace metronome::tools {

namespace {

namespace wire = messages::wire;
using clock_type = std::chrono::steady_clock;

constexpr std::size_t dense_floats = std::size_t{1} << 20;
constexpr std::size_t pipeline_batch = 4096;
constexpr std::size_t small_sizes[] = {1, 256};

static_assert(pipeline_batch * small_sizes[1] <= dense_floats,
              "a batch of pipelined pushes fits in the table");

/// The pushes of one phase: how many a side sent and how many its server
/// applied.
struct push_tally {
  std::string phase;
  std::uint64_t sent = 0;
  std::uint64_t applied = 0;
};

/// Figures of one side (metronome or raw ZeroMQ).
struct figures {
  double dense_gbps = 0;           // push+pull payload bytes per second / 1e9
  double dense_zero_copy_gbps = 0; // raw only: sent without copies
  double rtt_p50_us = 0;           // small push+pull round trip
  double rtt_p99_us = 0;
  double pipelined_ops[2] = {0, 0}; // pushes per second of 1 and 256 floats
  std::vector<push_tally> pushes;   // one per phase, in order
};

const char* const phase_names[] = {"dense push+pull", "small round trip",
                                   "pipelined pushes of 1 float32",
                                   "pipelined pushes of 256 float32"};

// Floats in one push of phase `phase` (0 to 3, as phase_names).
std::size_t push_floats(int phase) {
  return phase == 0 ? dense_floats : phase == 3 ? small_sizes[1] : 1;
}

// Every push adds 1 to each key it names, so between two reads of the whole
// table the growth of its sum, divided by the floats of one push, is the
// number of pushes the server applied in between.
std::uint64_t pushes_applied(double& sum, const float* table, std::size_t n,
                             std::size_t floats_per_push) {
  double now = 0;
  for (std::size_t i = 0; i < n; ++i)
    now += table[i];
  double grown = now - sum;
  sum = now;
  return grown > 0
             ? static_cast<std::uint64_t>(std::llround(grown / floats_per_push))
             : 0;
}

/// Round trips that explain the small-message latency.
struct latency_floor {
  double wakeup_rtt_us = 0;    // two threads waking each other (cv)
  double transport_rtt_us = 0; // two transports, no actors
};

double seconds_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

void percentiles(std::vector<double>& rtts, figures& f) {
  if (rtts.empty())
    return;
  std::sort(rtts.begin(), rtts.end());
  f.rtt_p50_us = rtts[rtts.size() / 2] * 1e6;
  f.rtt_p99_us = rtts[rtts.size() * 99 / 100] * 1e6;
}

// ---- metronome: a client actor against a real server actor over tcp ----

struct client_state {
  std::unique_ptr<actors::sender> out;
  std::promise<figures>* done = nullptr;
  double seconds = 1;
  figures result;
  int phase = 0;         // 0 dense, 1 round trip, 2/3 pipelined small pushes
  bool checking = false; // the whole table is being read after a phase
  clock_type::time_point phase_start;
  clock_type::time_point round_start;
  std::uint64_t rounds = 0;
  std::uint64_t sent = 0; // pushes of this phase
  std::int64_t clock = 0; // of the next push: each has its own
  double table_sum = 0;   // of the table after the last phase
  std::vector<double> rtts;
  std::shared_ptr<const std::vector<float>> dense;
  std::shared_ptr<const std::vector<float>> small[2];
};

const std::string server_name = "server/0";

void push(client_state& st, std::uint64_t offset,
          messages::float_block values) {
  messages::envelope_builder builder(256);
  auto payload = builder.floats(offset, std::move(values));
  auto body = wire::CreatePush(builder.fbb(), payload);
  st.out->post(builder.finish(st.out->header(server_name, st.clock++),
                              wire::Body::Push, body.Union()));
  ++st.sent;
}

void pull(client_state& st, std::size_t count) {
  messages::envelope_builder builder(128);
  auto body = wire::CreatePullRequest(builder.fbb(), 0, count);
  st.out->post(builder.finish(st.out->header(server_name),
                              wire::Body::PullRequest, body.Union()));
}

// Starts the next round of the current phase or, when its time is up,
// reads the whole table to count the pushes the server applied.
void next_round(client_state& st) {
  auto now = clock_type::now();
  if (seconds_between(st.phase_start, now) >= st.seconds) {
    double elapsed = seconds_between(st.phase_start, now);
    if (st.phase == 0)
      st.result.dense_gbps =
          st.rounds * 2.0 * dense_floats * sizeof(float) / elapsed / 1e9;
    else if (st.phase == 1)
      percentiles(st.rtts, st.result);
    else
      st.result.pipelined_ops[st.phase - 2] =
          st.rounds * pipeline_batch / elapsed;
    st.checking = true;
    pull(st, dense_floats);
    return;
  }
  st.round_start = clock_type::now();
  switch (st.phase) {
  case 0:
    push(st, 0, messages::float_block::of(st.dense));
    pull(st, dense_floats);
    break;
  case 1:
    push(st, st.rounds % dense_floats, messages::float_block::of(st.small[0]));
    pull(st, 1);
    break;
  default: {
    auto floats = push_floats(st.phase);
    for (std::size_t i = 0; i < pipeline_batch; ++i)
      push(st, i * floats, messages::float_block::of(st.small[st.phase - 2]));
    pull(st, 1);
  }
  }
}

// Takes the whole table read after a phase, then starts the next phase.
void checked(caf::event_based_actor* self, client_state& st,
             const messages::inbound& msg) {
  st.checking = false;
  const auto* f = msg.envelope().body_as_PullReply()->payload();
  auto table = msg.values(*f);
  st.result.pushes.push_back(
      {phase_names[st.phase], st.sent,
       pushes_applied(st.table_sum, table.data, table.size,
                      push_floats(st.phase))});
  if (++st.phase == 4) {
    st.out->control(server_name, wire::Command::Stop);
    st.done->set_value(st.result);
    self->quit();
    return;
  }
  st.rounds = 0;
  st.sent = 0;
  st.phase_start = clock_type::now();
  next_round(st);
}

caf::behavior bench_client(caf::event_based_actor* self, actors::actor_env env,
                           std::promise<figures>* done, double seconds) {
  auto st = std::make_shared<client_state>();
  st->out = std::make_unique<actors::sender>(env);
  st->done = done;
  st->seconds = seconds;
  st->dense = std::make_shared<const std::vector<float>>(dense_floats, 1.0f);
  for (int i = 0; i < 2; ++i)
    st->small[i] =
        std::make_shared<const std::vector<float>>(small_sizes[i], 1.0f);
  return {
      [st](actors::tick_atom) {
        st->phase_start = clock_type::now();
        next_round(*st);
      },
      [self, st](const messages::inbound_ptr& msg) {
        msg->handled();
        if (msg->kind() != wire::Body::PullReply)
          return;
        if (st->checking) {
          checked(self, *st, *msg);
          return;
        }
        ++st->rounds;
        if (st->phase == 1)
          st->rtts.push_back(
              seconds_between(st->round_start, clock_type::now()));
        next_round(*st);
      },
  };
}

figures measure_metronome(double seconds, const std::string& server_thread) {
  actors::topology topo;
  topo.source = "bench";
  topo.options.server_thread = server_thread;
  topo.job.algorithm = "none";
  topo.job.keys = dense_floats;
  topo.job.consistency = "async";
  auto ports = messages::free_tcp_ports(2);
  topo.nodes.push_back({"bench-server", "127.0.0.1", ports[0], {"server/0"}});
  topo.nodes.push_back({"bench-client", "127.0.0.1", ports[1], {"worker/0"}});
  caf::actor_system_config cfg;
  actors::configure_actor_system(cfg);
  caf::actor_system sys{cfg};
  zmq::context_t ctx;
  actors::node server(sys, ctx, topo, "bench-server",
                      actors::endpoint_mode::tcp);
  actors::node client(sys, ctx, topo, "bench-client",
                      actors::endpoint_mode::tcp);
  std::promise<figures> done;
  auto result = done.get_future();
  actors::actor_env env;
  env.name = "worker/0";
  env.topo = &topo;
  env.post = std::make_shared<actors::postman>(client.transport(), topo);
  auto actor = sys.spawn(bench_client, env, &done, seconds);
  client.add_actor("worker/0", actor);
  server.start();
  client.start();
  caf::anon_send(actor, actors::tick_atom::value);
  auto figures = result.get();
  client.wait();
  server.wait();
  return figures;
}

// ---- raw ZeroMQ: the same traffic with no encoding, actors or tables ----

// A frame starts with a kind and a 64-bit word: 'U' is a push whose floats
// follow (in the same frame or in the next one) for keys from the word on;
// 'P' and 'Z' ask for the first word bytes of the buffer, copied or not.
constexpr std::size_t raw_header = 1 + sizeof(std::uint64_t);

// Adds `n` floats at `data` (any alignment) into `buffer` from `offset` on.
void raw_add(std::vector<float>& buffer, std::uint64_t offset, const char* data,
             std::size_t n) {
  if (offset > buffer.size() || n > buffer.size() - offset)
    return;
  float* target = buffer.data() + offset;
  for (std::size_t i = 0; i < n; ++i) {
    float v;
    std::memcpy(&v, data + i * sizeof(float), sizeof(float));
    target[i] += v;
  }
}

// Serves raw pushes and pulls on a buffer of the table's size until 'Q'.
void raw_server(zmq::context_t& ctx, const std::string& endpoint,
                std::promise<void>& bound) {
  zmq::socket_t router(ctx, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.bind(endpoint);
  bound.set_value();
  std::vector<float> buffer(dense_floats, 0.0f);
  for (;;) {
    std::vector<zmq::message_t> parts;
    if (!zmq::recv_multipart(router, std::back_inserter(parts)))
      continue;
    if (parts.size() < 2 || parts[1].size() == 0)
      continue;
    const char* data = parts[1].data<char>();
    if (data[0] == 'Q')
      return;
    if (parts[1].size() < raw_header)
      continue;
    std::uint64_t word = 0;
    std::memcpy(&word, data + 1, sizeof(word));
    if (data[0] == 'U') {
      const auto& floats = parts.size() == 3 ? parts[2] : parts[1];
      std::size_t skip = parts.size() == 3 ? 0 : raw_header;
      raw_add(buffer, word, floats.data<char>() + skip,
              (floats.size() - skip) / sizeof(float));
      continue;
    }
    if (data[0] != 'P' && data[0] != 'Z')
      continue;
    auto size = std::min<std::size_t>(word, buffer.size() * sizeof(float));
    router.send(parts[0], zmq::send_flags::sndmore);
    if (data[0] == 'Z')
      router.send(zmq::message_t(buffer.data(), size, nullptr, nullptr),
                  zmq::send_flags::none);
    else
      router.send(zmq::buffer(buffer.data(), size));
  }
}

figures measure_raw(double seconds) {
  zmq::context_t ctx;
  auto endpoint =
      "tcp://127.0.0.1:" + std::to_string(messages::free_tcp_ports(1)[0]);
  std::promise<void> bound;
  std::thread server([&] { raw_server(ctx, endpoint, bound); });
  bound.get_future().wait();
  zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.connect(endpoint);
  auto header = [](char* out, char kind, std::uint64_t word) {
    out[0] = kind;
    std::memcpy(out + 1, &word, sizeof(word));
  };
  auto ask = [&](std::uint64_t size, char kind = 'P') {
    char request[raw_header];
    header(request, kind, size);
    dealer.send(zmq::buffer(request, sizeof(request)));
    zmq::message_t reply;
    (void)dealer.recv(reply);
    return reply;
  };
  std::uint64_t sent = 0;
  // One frame, copied like the payload of zmq::buffer().
  auto push = [&](const std::vector<float>& values, std::uint64_t offset) {
    zmq::message_t frame(raw_header + values.size() * sizeof(float));
    header(frame.data<char>(), 'U', offset);
    std::memcpy(frame.data<char>() + raw_header, values.data(),
                values.size() * sizeof(float));
    dealer.send(frame, zmq::send_flags::none);
    ++sent;
  };
  std::vector<float> dense(dense_floats, 1.0f);
  std::vector<float> small[2] = {std::vector<float>(small_sizes[0], 1.0f),
                                 std::vector<float>(small_sizes[1], 1.0f)};
  figures f;
  std::vector<double> rtts;
  double table_sum = 0;
  for (int phase = -1; phase < 4; ++phase) {
    std::uint64_t rounds = 0;
    sent = 0;
    auto start = clock_type::now();
    auto now = start;
    for (; seconds_between(start, now) < seconds; now = clock_type::now()) {
      if (phase == -1) {
        char h[raw_header];
        header(h, 'U', 0);
        dealer.send(zmq::buffer(h, sizeof(h)), zmq::send_flags::sndmore);
        dealer.send(zmq::message_t(dense.data(), dense.size() * sizeof(float),
                                   nullptr, nullptr),
                    zmq::send_flags::none);
        ++sent;
        ask(dense_floats * sizeof(float), 'Z');
      } else if (phase == 0) {
        push(dense, 0);
        ask(dense_floats * sizeof(float));
      } else if (phase == 1) {
        push(small[0], rounds % dense_floats);
        ask(sizeof(float));
        rtts.push_back(seconds_between(now, clock_type::now()));
      } else {
        for (std::size_t i = 0; i < pipeline_batch; ++i)
          push(small[phase - 2], i * small[phase - 2].size());
        ask(sizeof(float));
      }
      ++rounds;
    }
    double elapsed = seconds_between(start, now);
    double dense_rate =
        rounds * 2.0 * dense_floats * sizeof(float) / elapsed / 1e9;
    if (phase == -1)
      f.dense_zero_copy_gbps = dense_rate;
    else if (phase == 0)
      f.dense_gbps = dense_rate;
    else if (phase == 1)
      percentiles(rtts, f);
    else
      f.pipelined_ops[phase - 2] = rounds * pipeline_batch / elapsed;
    auto table = ask(dense_floats * sizeof(float));
    std::vector<float> values(table.size() / sizeof(float));
    std::memcpy(values.data(), table.data(), values.size() * sizeof(float));
    f.pushes.push_back({phase == -1 ? "dense push+pull, sent without copies"
                                    : phase_names[phase],
                        sent,
                        pushes_applied(table_sum, values.data(), values.size(),
                                       push_floats(std::max(phase, 0)))});
  }
  dealer.send(zmq::str_buffer("Q"));
  server.join();
  return f;
}

double median_us(std::vector<double>& v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2] * 1e6;
}

// Two threads waking each other through a condition variable: the cost of
// one thread hand-off on this machine, twice.
double wakeup_roundtrip_us(double seconds) {
  std::mutex mtx;
  std::condition_variable cv;
  int turn = 0;
  bool done = false;
  std::thread echo([&] {
    std::unique_lock<std::mutex> guard{mtx};
    for (;;) {
      cv.wait(guard, [&] { return turn == 1 || done; });
      if (done)
        return;
      turn = 0;
      cv.notify_all();
    }
  });
  std::vector<double> rtts;
  auto start = clock_type::now();
  while (seconds_between(start, clock_type::now()) < seconds) {
    auto t0 = clock_type::now();
    std::unique_lock<std::mutex> guard{mtx};
    turn = 1;
    cv.notify_all();
    cv.wait(guard, [&] { return turn == 0; });
    rtts.push_back(seconds_between(t0, clock_type::now()));
  }
  {
    std::lock_guard<std::mutex> guard{mtx};
    done = true;
  }
  cv.notify_all();
  echo.join();
  return median_us(rtts);
}

messages::outbound clock_message(std::uint64_t seq) {
  messages::envelope_builder builder(128);
  auto body = wire::CreateClock(builder.fbb());
  messages::header h;
  h.source = "client";
  h.destination = "echo";
  h.seq = seq;
  return builder.finish(h, wire::Body::Clock, body.Union());
}

// Two transports over tcp loopback; the far one answers from its deliver
// callback, the near one wakes the measuring thread: metronome's path
// without actors.
double transport_roundtrip_us(double seconds) {
  zmq::context_t ctx;
  auto ports = messages::free_tcp_ports(2);
  auto port_a = ports[0], port_b = ports[1];
  messages::transport_options oa, ob;
  oa.node = "a";
  ob.node = "b";
  oa.bind = {"tcp://127.0.0.1:" + std::to_string(port_a)};
  ob.bind = {"tcp://127.0.0.1:" + std::to_string(port_b)};
  messages::transport a(ctx, oa), b(ctx, ob);
  a.add_peer("b", ob.bind[0]);
  b.add_peer("a", oa.bind[0]);
  std::mutex mtx;
  std::condition_variable cv;
  std::uint64_t answered = 0;
  b.start([&](messages::inbound_ptr m) {
    b.send("a", clock_message(m->header().seq()));
    return messages::transport::delivery::delivered;
  });
  a.start([&](messages::inbound_ptr m) {
    std::lock_guard<std::mutex> guard{mtx};
    answered = m->header().seq();
    cv.notify_all();
    return messages::transport::delivery::delivered;
  });
  std::vector<double> rtts;
  auto start = clock_type::now();
  for (std::uint64_t seq = 1;
       seconds_between(start, clock_type::now()) < seconds; ++seq) {
    auto t0 = clock_type::now();
    a.send("b", clock_message(seq));
    std::unique_lock<std::mutex> guard{mtx};
    if (!cv.wait_for(guard, std::chrono::seconds(5),
                     [&] { return answered == seq; }))
      break;
    if (seq > 100) // the first ones include connection set-up
      rtts.push_back(seconds_between(t0, clock_type::now()));
  }
  a.stop();
  b.stop();
  return rtts.empty() ? 0 : median_us(rtts);
}

// Per-figure medians over repeated runs.
figures median(std::vector<figures> runs) {
  auto pick = [&](auto field) {
    std::vector<double> v;
    for (const auto& f : runs)
      v.push_back(field(f));
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  figures m;
  m.dense_gbps = pick([](const figures& f) { return f.dense_gbps; });
  m.dense_zero_copy_gbps =
      pick([](const figures& f) { return f.dense_zero_copy_gbps; });
  m.rtt_p50_us = pick([](const figures& f) { return f.rtt_p50_us; });
  m.rtt_p99_us = pick([](const figures& f) { return f.rtt_p99_us; });
  for (int i = 0; i < 2; ++i)
    m.pipelined_ops[i] =
        pick([i](const figures& f) { return f.pipelined_ops[i]; });
  return m;
}

// Pushes sent and applied over every run of one side; names on stderr
// each phase of a run whose server applied other than it was sent, and
// clears `all_applied` then.
push_tally count_pushes(const std::vector<figures>& runs,
                        const std::string& side, bool& all_applied) {
  push_tally total;
  for (std::size_t i = 0; i < runs.size(); ++i)
    for (const auto& p : runs[i].pushes) {
      total.sent += p.sent;
      total.applied += p.applied;
      if (p.applied == p.sent)
        continue;
      all_applied = false;
      fmt::print(stderr,
                 "bench pushpull: run {}: the {} server applied {} of the "
                 "{} pushes sent in phase '{}'\n",
                 i + 1, side, p.applied, p.sent, p.phase);
    }
  return total;
}

} // namespace

int run_pushpull(const pushpull_options& opts) {
  std::vector<figures> ours, raw;
  for (int i = 0; i < opts.repeat; ++i) {
    if (!opts.json)
      fmt::print("run {}/{}: metronome (server node + client node over tcp "
                 "loopback, the server on the {} thread), then raw ZeroMQ "
                 "DEALER/ROUTER, {:.1f} s per figure\n",
                 i + 1, opts.repeat, opts.server_thread, opts.seconds);
    std::fflush(stdout);
    ours.push_back(measure_metronome(opts.seconds, opts.server_thread));
    raw.push_back(measure_raw(opts.seconds));
  }
  auto m = median(ours);
  auto r = median(raw);
  latency_floor floor;
  floor.wakeup_rtt_us = wakeup_roundtrip_us(opts.seconds);
  floor.transport_rtt_us = transport_roundtrip_us(opts.seconds);
  bool all_applied = true;
  auto pushes_ours = count_pushes(ours, "metronome", all_applied);
  auto pushes_raw = count_pushes(raw, "raw ZeroMQ", all_applied);
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0; };
  struct row {
    std::string key, label, unit;
    double ours, raw;
  };
  std::vector<row> rows = {
      {"dense_pushpull_1M_f32_GBps", "dense push+pull, 1M float32", "GB/s",
       m.dense_gbps, r.dense_gbps},
      {"dense_pushpull_1M_f32_vs_zero_copy_GBps",
       "  vs raw ZeroMQ sending without copies", "GB/s", m.dense_gbps,
       r.dense_zero_copy_gbps},
      {"small_roundtrip_p50_us", "small push+pull round trip, p50", "us",
       m.rtt_p50_us, r.rtt_p50_us},
      {"small_roundtrip_p99_us", "small push+pull round trip, p99", "us",
       m.rtt_p99_us, r.rtt_p99_us},
      {"pipelined_push_1_f32_ops", "pipelined pushes of 1 float32", "op/s",
       m.pipelined_ops[0], r.pipelined_ops[0]},
      {"pipelined_push_256_f32_ops", "pipelined pushes of 256 float32", "op/s",
       m.pipelined_ops[1], r.pipelined_ops[1]},
      {"transport_only_roundtrip_p50_us", "  transports only, no actors, p50",
       "us", floor.transport_rtt_us, r.rtt_p50_us},
      {"thread_wakeup_roundtrip_p50_us", "  two threads waking each other",
       "us", floor.wakeup_rtt_us, r.rtt_p50_us},
  };
  if (opts.json) {
    actors::json out = actors::json::object();
    for (const auto& x : rows)
      out[x.key] = {{"metronome", x.ours},
                    {"raw_zmq", x.raw},
                    {"ratio", ratio(x.ours, x.raw)}};
    out["pushes_sent"] = {{"metronome", pushes_ours.sent},
                          {"raw_zmq", pushes_raw.sent}};
    out["pushes_applied"] = {{"metronome", pushes_ours.applied},
                             {"raw_zmq", pushes_raw.applied}};
    out["server_thread"] = opts.server_thread;
    fmt::print("{}\n", out.dump());
    return all_applied ? 0 : 1;
  }
  fmt::print("\n{:<40}{:>16}{:>16}{:>8}\n", "", "metronome", "raw ZeroMQ",
             "ratio");
  for (const auto& x : rows)
    fmt::print("{:<40}{:>11.{}f} {:<4}{:>11.{}f} {:<4}{:>8.2f}\n", x.label,
               x.ours, x.unit == "op/s" ? 0 : 2, x.unit, x.raw,
               x.unit == "op/s" ? 0 : 2, x.unit, ratio(x.ours, x.raw));
  fmt::print("{:<40}{:>16}{:>16}\n", "pushes sent, every run", pushes_ours.sent,
             pushes_raw.sent);
  fmt::print("{:<40}{:>16}{:>16}\n", "  applied by the server",
             pushes_ours.applied, pushes_raw.applied);
  return all_applied ? 0 : 1;
}

} // namespace metronome::tools
