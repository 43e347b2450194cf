#include "actors/core/status_board.hpp"

namespace metronome::actors {

using json = nlohmann::ordered_json;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t,
                     std::chrono::steady_clock::time_point now) {
  return std::chrono::duration<double>(now - t).count();
}

bool same_waits(const std::vector<wait_item>& a,
                const std::vector<wait_item>& b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].table != b[i].table || a[i].clock != b[i].clock)
      return false;
  return true;
}

json wait_json(const wait_item& w) {
  json out = json::object();
  if (!w.table.empty())
    out["table"] = w.table;
  if (w.clock >= 0)
    out["clock"] = w.clock;
  out["on"] = w.on;
  return out;
}

json table_json(const table_status& t) {
  json out = {{"name", t.name},
              {"consistency", t.consistency},
              {"committed", t.committed},
              {"min_clock", t.min_clock}};
  if (t.consistency == "ssp" || t.consistency == "essp")
    out["staleness"] = t.staleness;
  if (!t.slowest.empty())
    out["slowest"] = t.slowest;
  if (t.end > t.begin)
    out["keys"] = {t.begin, t.end};
  return out;
}

} // namespace

actor_status::actor_status(std::string name, std::string role)
    : name_(std::move(name))
    , role_(std::move(role)) {}

void actor_status::publish(const char* phase, std::int64_t clock) {
  auto now = clock_type::now();
  std::lock_guard<std::mutex> guard{mtx_};
  if (phase != phase_)
    phase_since_ = now;
  if (clock != clock_)
    clock_since_ = now;
  phase_ = phase;
  clock_ = clock;
}

void actor_status::wait(const char* what, std::vector<wait_item> items) {
  auto now = clock_type::now();
  std::lock_guard<std::mutex> guard{mtx_};
  bool same = items.empty() == waits_.empty() && what == waiting_ &&
              same_waits(items, waits_);
  if (!same)
    wait_since_ = now;
  waiting_ = items.empty() ? "" : what;
  waits_ = std::move(items);
}

void actor_status::tables(std::vector<table_status> t) {
  std::lock_guard<std::mutex> guard{mtx_};
  tables_ = std::move(t);
}

void actor_status::note(const std::string& key, json value) {
  std::lock_guard<std::mutex> guard{mtx_};
  notes_[key] = std::move(value);
}

void actor_status::note(const std::string& key, const std::string& entry,
                        json value) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& object = notes_[key];
  if (!object.is_object())
    object = json::object();
  object[entry] = std::move(value);
}

void actor_status::keep_answer(std::uint64_t id, json reply) {
  std::lock_guard<std::mutex> guard{mtx_};
  answers_[id] = std::move(reply);
  while (answers_.size() > 16)
    answers_.erase(answers_.begin());
}

json actor_status::take_answer(std::uint64_t id) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = answers_.find(id);
  if (i == answers_.end())
    return nullptr;
  auto out = std::move(i->second);
  answers_.erase(i);
  return out;
}

json actor_status::snapshot() const {
  auto now = clock_type::now();
  auto in = in_.load(std::memory_order_relaxed);
  auto handled = handled_.load(std::memory_order_relaxed);
  json out = {{"name", name_}, {"role", role_}};
  std::lock_guard<std::mutex> guard{mtx_};
  out["phase"] = phase_;
  out["phase_s"] = seconds_since(phase_since_, now);
  out["clock"] = clock_;
  out["clock_s"] = seconds_since(clock_since_, now);
  if (!waits_.empty()) {
    json waits = json::array();
    for (const auto& w : waits_)
      waits.push_back(wait_json(w));
    out["waits"] = {{"for", waiting_},
                    {"since_s", seconds_since(wait_since_, now)},
                    {"items", std::move(waits)}};
  }
  if (!tables_.empty()) {
    json tables = json::array();
    for (const auto& t : tables_)
      tables.push_back(table_json(t));
    out["tables"] = std::move(tables);
  }
  out["messages"] = {{"delivered", in},
                     {"handled", handled},
                     {"queued", in > handled ? in - handled : 0},
                     {"sent", out_.load(std::memory_order_relaxed)}};
  for (const auto& [key, value] : notes_)
    out[key] = value;
  return out;
}

std::shared_ptr<actor_status> status_board::enter(const std::string& name,
                                                  const std::string& role) {
  auto status = std::make_shared<actor_status>(name, role);
  std::lock_guard<std::mutex> guard{mtx_};
  actors_[name] = status;
  return status;
}

std::shared_ptr<actor_status>
status_board::find(const std::string& name) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = actors_.find(name);
  return i != actors_.end() ? i->second : nullptr;
}

json status_board::snapshot() const {
  std::vector<std::shared_ptr<actor_status>> all;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    for (const auto& [name, status] : actors_)
      all.push_back(status);
  }
  json out = json::array();
  for (const auto& s : all)
    out.push_back(s->snapshot());
  return out;
}

} // namespace metronome::actors
