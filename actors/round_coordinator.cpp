// The coordinator of a scheduled program: starts the job once every actor
// has said hello, writes the records the scheduler sends through the job's
// one record writer, and stops every actor after the final record.
//
// waiting --all hellos--> running --final record--> finished (quits)

#include "actors/core/job_records.hpp"
#include "actors/roles.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace metronome::actors {

namespace wire = messages::wire;

namespace {

struct round_coordinator_state {
  std::unique_ptr<sender> out;
  std::unique_ptr<job_members> members;
  job_records records;
  std::string result_text; // the program's result, written at the end
  bool finished = false;
};

void on_record(caf::event_based_actor* self, round_coordinator_state& st,
               const actor_env& env, const messages::inbound& msg) {
  const auto* r = msg.envelope().body_as_Record();
  auto fields =
      r->fields() ? parse_record(r->fields()->string_view()) : std::nullopt;
  std::string kind = r->kind() ? r->kind()->str() : "";
  if (msg.source() != "scheduler/0" || !fields) {
    spdlog::warn("{}: ignored a malformed record from {}", env.name,
                 msg.source());
    return;
  }
  if (kind == "iterations") {
    st.records.iterations(fields->value("records", json::array()));
  } else if (kind == "progress") {
    st.records.progress(*fields);
  } else if (kind == "result") {
    st.result_text = fields->value("text", "");
  } else if (kind == "final" && !st.finished) {
    st.finished = true;
    st.records.final_line(*fields);
    st.records.summary(*fields);
    auto error = st.records.error();
    const auto& o = env.topo->options;
    const auto& path = o.topics_out.empty() ? o.parameters_out : o.topics_out;
    if (error.empty() && !path.empty())
      error = write_file_atomically(path, st.result_text);
    st.members->command(*st.out, wire::Command::Stop, "job finished");
    if (!error.empty()) {
      spdlog::error("{}: {}", env.name, error);
      self->quit(caf::make_error(caf::sec::runtime_error, error));
      return;
    }
    self->quit();
  }
}

void on_hello(round_coordinator_state& st, const actor_env& env,
              const messages::inbound& msg) {
  if (!st.members->hello(msg))
    return;
  st.records.say(fmt::format("job started: {} workers, scheduler/0, {}",
                             env.topo->count("worker"),
                             env.topo->job.algorithm));
  st.members->command(*st.out, wire::Command::Start);
}

} // namespace

caf::behavior round_coordinator(caf::event_based_actor* self, actor_env env) {
  keep_exception_messages(self);
  auto st = std::make_shared<round_coordinator_state>();
  st->out = std::make_unique<sender>(env);
  st->members = std::make_unique<job_members>(*env.topo, env.name);
  try {
    st->records = job_records(env.topo->options.metrics_dir,
                              "round,worker,compute_seconds");
  } catch (const std::exception& e) {
    return refuse_to_start(self, env, e);
  }
  self->delayed_send(self, std::chrono::seconds(5), tick_atom::value);
  return {
      [self, st, env](const messages::inbound_ptr& msg) {
        msg->handled();
        env.status->handled();
        switch (msg->kind()) {
        case wire::Body::Hello:
          on_hello(*st, env, *msg);
          break;
        case wire::Body::Record:
          on_record(self, *st, env, *msg);
          break;
        case wire::Body::Control: {
          const auto* ctl = msg->envelope().body_as_Control();
          if (ctl->command() != wire::Command::Abort || st->finished)
            break;
          st->members->abort(self, *st->out, abort_reason(*msg));
          break;
        }
        default:
          spdlog::warn("{}: unexpected {} from {}", env.name,
                       messages::kind_name(msg->kind()), msg->source());
        }
      },
      [self, st](tick_atom) { st->members->remind(self); },
      [self, st](peer_down_atom, const std::string& peer) {
        if (st->finished)
          return;
        st->members->abort(self, *st->out, "node " + peer + " died");
      },
  };
}

} // namespace metronome::actors
