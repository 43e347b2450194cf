#include "launcher/inspect/repl.hpp"

#include <histedit.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace metronome::launcher::inspect {

namespace {

// libedit calls back with no user pointer beside the EditLine.
session* completing = nullptr;

const char* prompt(EditLine*) {
  return "inspect> ";
}

// Completes the word before the cursor to the one known word it starts, or
// lists the candidates when there are several.
unsigned char complete(EditLine* el, int) {
  const LineInfo* line = el_line(el);
  const char* start = line->cursor;
  while (start > line->buffer && start[-1] != ' ')
    --start;
  std::string word(start, line->cursor);
  std::vector<std::string> found;
  for (const auto& w : completing->words())
    if (w.rfind(word, 0) == 0)
      found.push_back(w);
  if (found.size() == 1) {
    el_insertstr(el, (found[0].substr(word.size()) + " ").c_str());
    return CC_REFRESH;
  }
  if (found.empty())
    return CC_REFRESH_BEEP;
  std::string all = "\n";
  for (const auto& w : found)
    all += w + "  ";
  std::fprintf(stdout, "%s\n", all.c_str());
  return CC_REDISPLAY;
}

std::string history_file() {
  const char* home = std::getenv("HOME");
  return home != nullptr && *home != '\0'
             ? std::string(home) + "/.metronome_inspect_history"
             : std::string();
}

std::vector<std::string> split(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string w; in >> w;)
    words.push_back(w);
  return words;
}

} // namespace

int repl(session& s) {
  completing = &s;
  EditLine* el = el_init("metronome", stdin, stdout, stderr);
  History* hist = history_init();
  HistEvent ev;
  history(hist, &ev, H_SETSIZE, 1000);
  auto file = history_file();
  if (!file.empty())
    history(hist, &ev, H_LOAD, file.c_str());
  el_set(el, EL_PROMPT, prompt);
  el_set(el, EL_EDITOR, "emacs");
  el_set(el, EL_HIST, history, hist);
  el_set(el, EL_ADDFN, "complete", "complete a word", complete);
  el_set(el, EL_BIND, "^I", "complete", nullptr);
  std::printf("type 'help' for the commands, 'quit' to leave\n");
  int status = inspect_ok;
  for (;;) {
    int n = 0;
    const char* got = el_gets(el, &n);
    if (got == nullptr || n <= 0)
      break;
    std::string line(got, static_cast<std::size_t>(n));
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
      line.pop_back();
    auto words = split(line);
    if (words.empty())
      continue;
    history(hist, &ev, H_ENTER, line.c_str());
    if (words[0] == "quit" || words[0] == "exit")
      break;
    auto problem = check_command(words);
    if (!problem.empty()) {
      std::fprintf(stderr, "%s\n", problem.c_str());
      continue;
    }
    status = s.run(words);
  }
  if (!file.empty())
    history(hist, &ev, H_SAVE, file.c_str());
  history_end(hist);
  el_end(el);
  completing = nullptr;
  return status;
}

} // namespace metronome::launcher::inspect
