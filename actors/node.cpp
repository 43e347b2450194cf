#include "actors/node.hpp"

#include "actors/predictor.hpp"
#include "actors/roles.hpp"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <thread>

namespace metronome::actors {

void configure_actor_system(caf::actor_system_config& cfg) {
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer cannot see how CAF's uninstrumented scheduler hands an
  // actor from one of its threads to another; on one thread it checks the
  // actors against the transport, control and main threads instead.
  auto threads = 1u;
#else
  auto threads = std::max(2u, std::thread::hardware_concurrency());
#endif
  cfg.set("scheduler.max-threads", static_cast<std::size_t>(threads));
  cfg.set("scheduler.policy", caf::atom("sharing"));
}

postman::postman(messages::transport& t, const topology& topo)
    : transport_(t) {
  for (const auto& node : topo.nodes)
    for (const auto& actor : node.actors)
      node_of_[actor] = node.name;
}

const std::string* postman::node_of(std::string_view actor) const {
  auto i = node_of_.find(actor);
  return i != node_of_.end() ? &i->second : nullptr;
}

void postman::post(messages::outbound msg) const {
  auto i = node_of_.find(msg.destination);
  if (i != node_of_.end())
    return transport_.send(i->second, std::move(msg));
  // An unknown node name makes the transport count and log the drop.
  auto unknown = "?" + msg.destination;
  transport_.send(unknown, std::move(msg));
}

namespace {

// Binds to the node's own address when the topology gives one or a name of
// a loopback address, so the port is not open on every interface; another
// host name binds all interfaces.
std::string bind_endpoint(const node_spec& node) {
  return messages::tcp_bind_endpoint(node.host, node.port);
}

} // namespace

std::string endpoint_of(const node_spec& node, endpoint_mode mode) {
  if (mode == endpoint_mode::inproc)
    return "inproc://metronome-" + node.name;
  return "tcp://" + node.host + ":" + std::to_string(node.port);
}

node::node(caf::actor_system& sys, zmq::context_t& ctx, const topology& topo,
           const std::string& name, endpoint_mode mode)
    : sys_(sys)
    , topo_(topo)
    , name_(name)
    , mode_(mode)
    , unit_(sys) {
  const auto* self = topo.find_node(name);
  if (self == nullptr)
    throw std::runtime_error("node '" + name + "' is not in " + topo.source);
  messages::transport_options opts;
  opts.node = name;
  if (topo.job.max_message_bytes != 0)
    opts.max_message_bytes = topo.job.max_message_bytes;
  if (mode == endpoint_mode::tcp)
    opts.bind.push_back(bind_endpoint(*self));
  // Loopback only until CURVE authenticates inspectors.
  if (mode == endpoint_mode::tcp && topo.options.inspect != "off" &&
      self->control_port != 0)
    opts.control_bind = "tcp://127.0.0.1:" + std::to_string(self->control_port);
  // Messages between actors of this node take the same encoded path.
  opts.bind.push_back(endpoint_of(*self, endpoint_mode::inproc));
  transport_ = std::make_unique<messages::transport>(ctx, opts);
  for (const auto& peer : topo.nodes)
    transport_->add_peer(
        peer.name, peer.name == name ? endpoint_of(peer, endpoint_mode::inproc)
                                     : endpoint_of(peer, mode));
  post_ = std::make_shared<postman>(*transport_, topo);
  control_ = std::make_unique<control_service>(
      topo, name, board_, *transport_,
      [this](const std::string& actor, bool pause) {
        return steer(actor, pause);
      },
      [this](const control_service::table_read& read) {
        return read_table(read);
      },
      [this](const std::string& actor, std::uint64_t id,
             const std::string& request) {
        return pass_setting(actor, id, request);
      });
  transport_->on_control(
      [this](const std::string& request) { return control_->answer(request); });
}

node::~node() {
  for (auto& a : actors_)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  transport_->stop(std::chrono::milliseconds(0));
}

namespace {

std::size_t count_workers(const node_spec& node) {
  return std::count_if(
      node.actors.begin(), node.actors.end(),
      [](const std::string& actor) { return actor.rfind("worker/", 0) == 0; });
}

// Whether every commit waits for every worker's push (BSP on every table):
// then the actors beside a worker lose nothing while it computes.
bool commits_wait_for_every_worker(const job_spec& job) {
  if (job.tables.empty())
    return job.consistency == "bsp";
  return std::all_of(
      job.tables.begin(), job.tables.end(),
      [](const table_spec& t) { return t.consistency == "bsp"; });
}

} // namespace

bool runs_on_transport(const topology& topo, const node_spec& node,
                       const std::string& role) {
  if (role == "server")
    return topo.options.server_thread == "transport";
  if (role != "worker" || topo.options.worker_thread != "transport" ||
      scheduled_job(topo.job) || count_workers(node) != 1)
    return false;
  return node.actors.size() == 1 || commits_wait_for_every_worker(topo.job);
}

void node::start() {
  const auto* self = topo_.find_node(name_);
  {
    std::unique_lock<std::shared_mutex> guard{registry_mtx_};
    for (const auto& actor : self->actors) {
      if (registry_.count(actor) > 0)
        continue;
      std::string role;
      int index = 0;
      messages::parse_actor_name(actor, role, index);
      auto status = board_.enter(actor, role);
      auto handle = spawn_role(actor, status);
      if (runs_on_transport(topo_, *self, role))
        unit_.host(handle, actor,
                   role == "worker" ? transport_unit::turns::long_ones
                                    : transport_unit::turns::short_ones);
      registry_.emplace(actor, hosted{handle, status});
      actors_.push_back(handle);
    }
  }
  transport_->start(
      [this](messages::inbound_ptr msg) { return deliver(std::move(msg)); },
      [this](const std::string& peer, messages::peer_state s) {
        on_peer(peer, s);
      },
      &unit_);
  if (topo_.node_of("coordinator/0") == nullptr)
    return;
  messages::envelope_builder builder;
  auto& fbb = builder.fbb();
  std::vector<flatbuffers::Offset<flatbuffers::String>> names;
  for (const auto& actor : self->actors)
    names.push_back(fbb.CreateString(actor));
  auto body = messages::wire::CreateHello(fbb, fbb.CreateString(name_),
                                          fbb.CreateVector(names),
                                          static_cast<std::uint32_t>(getpid()));
  messages::header h;
  h.source = name_;
  h.destination = "coordinator/0";
  post_->post(builder.finish(h, messages::wire::Body::Hello, body.Union()));
}

void node::add_actor(const std::string& name, caf::actor a) {
  std::string role;
  int index = 0;
  if (!messages::parse_actor_name(name, role, index))
    role = name;
  auto status = board_.enter(name, role);
  std::unique_lock<std::shared_mutex> guard{registry_mtx_};
  registry_.emplace(name, hosted{a, status});
  actors_.push_back(std::move(a));
}

caf::actor node::spawn_role(const std::string& actor,
                            std::shared_ptr<actor_status> status) {
  actor_env env;
  env.name = actor;
  env.status = std::move(status);
  env.topo = &topo_;
  env.post = post_;
  std::string role;
  if (!messages::parse_actor_name(actor, role, env.index))
    throw std::runtime_error("bad actor name '" + actor + "' on node " + name_);
  bool scheduled = scheduled_job(topo_.job);
  if (role == "server")
    return sys_.spawn<hosted_actor>(
        [env](caf::event_based_actor* self) { return server(self, env); });
  if (role == "worker")
    return scheduled
               ? sys_.spawn(round_worker, env)
               : sys_.spawn<hosted_actor>([env](caf::event_based_actor* self) {
                   return worker(self, env);
                 });
  if (role == "scheduler")
    return sys_.spawn(scheduler, env);
  if (role == "predictor")
    return sys_.spawn(predictor_role, env);
  if (role == "coordinator")
    return scheduled ? sys_.spawn(round_coordinator, env)
                     : sys_.spawn(coordinator, env, transport_.get());
  throw std::runtime_error("unknown role '" + role + "' of actor " + actor);
}

messages::transport::delivery node::deliver(messages::inbound_ptr msg) {
  using delivery = messages::transport::delivery;
  // A node speaks for itself and for the actors it hosts, nobody else.
  if (msg->source() != msg->sender()) {
    const auto* host = post_->node_of(msg->source());
    if (host == nullptr || *host != msg->sender())
      return delivery::forged_source;
  }
  caf::actor target;
  {
    std::shared_lock<std::shared_mutex> guard{registry_mtx_};
    auto i = registry_.find(msg->destination());
    if (i == registry_.end())
      return delivery::unknown_actor;
    target = i->second.handle;
    i->second.status->delivered();
  }
  unit_.deliver(target, std::move(msg));
  return delivery::delivered;
}

void node::on_peer(const std::string& peer, messages::peer_state state) {
  std::shared_lock<std::shared_mutex> guard{registry_mtx_};
  for (const auto& [name, entry] : registry_) {
    const auto& handle = entry.handle;
    if (state == messages::peer_state::dead)
      caf::anon_send(handle, peer_down_atom::value, peer);
    else if (name.rfind("server/", 0) != 0)
      continue;
    else if (state == messages::peer_state::suspect)
      caf::anon_send(handle, peer_suspect_atom::value, peer);
    else if (state == messages::peer_state::alive)
      caf::anon_send(handle, peer_alive_atom::value, peer);
  }
}

bool node::steer(const std::string& actor, bool pause) {
  std::shared_lock<std::shared_mutex> guard{registry_mtx_};
  auto i = registry_.find(actor);
  if (i == registry_.end())
    return false;
  if (pause)
    caf::anon_send(i->second.handle, pause_atom::value);
  else
    caf::anon_send(i->second.handle, resume_atom::value);
  return true;
}

bool node::read_table(const control_service::table_read& read) {
  std::shared_lock<std::shared_mutex> guard{registry_mtx_};
  auto i = registry_.find(read.server);
  if (i == registry_.end())
    return false;
  caf::anon_send(i->second.handle, table_read_atom::value, read.id, read.table,
                 read.begin, read.end);
  return true;
}

bool node::pass_setting(const std::string& actor, std::uint64_t id,
                        const std::string& request) {
  std::shared_lock<std::shared_mutex> guard{registry_mtx_};
  auto i = registry_.find(actor);
  if (i == registry_.end())
    return false;
  caf::anon_send(i->second.handle, set_atom::value, id, request);
  return true;
}

void node::abort(const std::string& reason) {
  spdlog::warn("{}: stopping: {}", name_, reason);
  std::unique_lock<std::shared_mutex> guard{registry_mtx_};
  if (abort_reason_.empty())
    abort_reason_ = reason;
  for (auto& a : actors_)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

int node::wait() {
  int status = 0;
  std::vector<caf::actor> actors;
  {
    std::shared_lock<std::shared_mutex> guard{registry_mtx_};
    actors = actors_;
  }
  {
    caf::scoped_actor self{sys_};
    for (auto& a : actors)
      self->monitor(a);
    for (std::size_t i = 0; i < actors.size(); ++i) {
      self->receive([&](const caf::down_msg& down) {
        if (!down.reason || down.reason == caf::exit_reason::normal)
          return;
        bool own_failure = down.reason != aborted_elsewhere &&
                           down.reason != caf::exit_reason::user_shutdown;
        if (status == node_finished)
          report_failure(down.source, sys_.render(down.reason), own_failure);
        if (own_failure)
          status = node_failed;
        else if (status == node_finished)
          status = node_stopped;
      });
    }
  }
  {
    std::unique_lock<std::shared_mutex> guard{registry_mtx_};
    registry_.clear();
    actors_.clear();
  }
  transport_->stop(std::chrono::seconds(2));
  return status;
}

void node::report_failure(const caf::actor_addr& who, const std::string& reason,
                          bool own_failure) {
  std::string name = "an actor";
  std::string why;
  {
    std::shared_lock<std::shared_mutex> guard{registry_mtx_};
    for (const auto& [actor, entry] : registry_)
      if (entry.handle.address() == who)
        name = actor;
    why = name + " on node " + name_ +
          " stopped: " + (abort_reason_.empty() ? reason : abort_reason_);
  }
  if (own_failure)
    spdlog::error("{}; stopping this node", why);
  else
    spdlog::warn("{}; stopping this node", why);
  // The coordinator ends the job; when it is the one that failed, this node
  // tells every actor itself.
  std::vector<std::string> targets;
  if (name != "coordinator/0" && topo_.node_of("coordinator/0") != nullptr)
    targets.push_back("coordinator/0");
  else if (name == "coordinator/0")
    for (const auto& actor : topo_.all_actors())
      if (actor != name)
        targets.push_back(actor);
  for (const auto& target : targets) {
    messages::envelope_builder builder(256);
    auto body = messages::wire::CreateControl(builder.fbb(),
                                              messages::wire::Command::Abort,
                                              builder.fbb().CreateString(why));
    messages::header h;
    h.source = name_;
    h.destination = target;
    post_->post(builder.finish(h, messages::wire::Body::Control, body.Union()));
  }
  if (on_failure_)
    on_failure_(why);
  std::shared_lock<std::shared_mutex> guard{registry_mtx_};
  for (auto& a : actors_)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

} // namespace metronome::actors
