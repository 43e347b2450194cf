// libFuzzer target: the topology reader (load_topology of
// launcher/config.hpp) on the input as a YAML file. The file sits in a
// scratch directory next to small valid data files (train.libsvm,
// lasso.libsvm, images.idx, labels.idx, trace.csv, model.dmm, docword.txt,
// vocab.txt) that a topology may name by a relative path, as the seeds do.
// Every problem it reports must name the file.
//
// Host names resolve without the network: this target replaces
// getaddrinfo (see below).

#include "launcher/config.hpp"

#include "algorithms/cutoff/dmm.hpp"

#include "tests/fuzz/fuzz_support.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

using namespace metronome;

// A fuzzed topology may name any host; resolving it through the system
// would query DNS on every run. This definition takes the place of libc's
// for the whole program: dotted IPv4 addresses and "localhost" resolve,
// nothing else does.
extern "C" int getaddrinfo(const char* node, const char* service,
                           const struct addrinfo* hints,
                           struct addrinfo** res) {
  (void)service;
  if (node == nullptr || res == nullptr)
    return EAI_NONAME;
  if (hints != nullptr && hints->ai_family != AF_UNSPEC &&
      hints->ai_family != AF_INET)
    return EAI_FAMILY;
  in_addr address{};
  if (std::strcmp(node, "localhost") == 0)
    address.s_addr = htonl(INADDR_LOOPBACK);
  else if (inet_pton(AF_INET, node, &address) != 1)
    return EAI_NONAME;
  struct entry {
    addrinfo info;
    sockaddr_in in;
  };
  auto* e = static_cast<entry*>(std::calloc(1, sizeof(entry)));
  e->in.sin_family = AF_INET;
  e->in.sin_addr = address;
  e->info.ai_family = AF_INET;
  e->info.ai_socktype = hints != nullptr ? hints->ai_socktype : SOCK_STREAM;
  e->info.ai_addrlen = sizeof(sockaddr_in);
  e->info.ai_addr = reinterpret_cast<sockaddr*>(&e->in);
  *res = &e->info;
  return 0;
}

extern "C" void freeaddrinfo(struct addrinfo* res) {
  std::free(res); // the entry above starts with its addrinfo
}

namespace {

constexpr const char* train_libsvm =
    "0 1:0.154 2:-0.207 4:0.953 10:-0.907 12:0.717\n"
    "+1 2:-0.794 3:0.142 5:-0.624 9:-0.805 12:0.424\n"
    "1 4:0.171 6:-0.094 7:-0.4 8:0.589 9:0.398 12:-0.512\n"
    "-1 1:0.024 2:-0.67 5:-0.316 6:0.867 8:-0.157 12:0.924\n";

constexpr const char* lasso_libsvm = "0.5 1:1 3:-2\n"
                                     "-1.25 2:0.5 4:1\n"
                                     "2 1:-1 2:1 3:0.25\n"
                                     "0 4:3\n";

constexpr const char* trace_csv = "iteration,worker,seconds\n"
                                  "0,0,0.5\n0,1,1.0\n0,2,0.7\n0,3,0.6\n"
                                  "1,0,0.2\n1,1,2.0\n1,2,0.4\n1,3,0.3\n";

constexpr const char* docword_txt = "4\n6\n7\n1 3 1\n1 1 2\n2 2 3\n2 6 1\n"
                                    "4 1 1\n4 4 2\n4 5 1\n";

constexpr const char* vocab_txt = "apple\nbanana\ncherry\ndate\nelder\nfig\n";

// Four 2 x 2 images and their labels, plain IDX.
std::string idx_images() {
  std::string b("\x00\x00\x08\x03\x00\x00\x00\x04\x00\x00\x00\x02"
                "\x00\x00\x00\x02",
                16);
  for (int i = 0; i < 16; ++i)
    b.push_back(static_cast<char>(i * 16));
  return b;
}

std::string idx_labels() {
  return std::string("\x00\x00\x08\x01\x00\x00\x00\x04\x01\x02\x03\x04", 12);
}

// Writes the data files once, the first time the target runs.
void write_data_files() {
  static const bool written = [] {
    fuzz::write_file("train.libsvm", train_libsvm);
    fuzz::write_file("lasso.libsvm", lasso_libsvm);
    fuzz::write_file("trace.csv", trace_csv);
    fuzz::write_file("docword.txt", docword_txt);
    fuzz::write_file("vocab.txt", vocab_txt);
    fuzz::write_file("images.idx", idx_images());
    fuzz::write_file("labels.idx", idx_labels());
    algorithms::dmm_spec spec;
    spec.workers = 4;
    spec.latent = 1;
    spec.transition_hidden = 1;
    spec.emission_hidden = 1;
    spec.rnn_hidden = 1;
    spec.lag = 2;
    algorithms::save_dmm(algorithms::dmm(spec, 1),
                         (fuzz::scratch_dir() / "model.dmm").string());
    return true;
  }();
  (void)written;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  write_data_files();
  std::string path = fuzz::write_file("topology.yaml", data, size);
  try {
    launcher::load_topology(path);
    // The same tree loads again, also once its paths are made absolute
    // (as the experiment runner rewrites them).
    auto root = YAML::LoadFile(path);
    launcher::load_topology_tree(root, path);
    launcher::load_topology_tree(root, path);
  } catch (const launcher::config_error& e) {
    if (e.problems().empty())
      std::abort();
    for (const auto& p : e.problems())
      fuzz::expect_names(p, path);
  }
  return 0;
}
