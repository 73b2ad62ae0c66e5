// main.cpp: the xlstm-music binary: dispatches to the registered subcommands, and turns library errors
// into a one-line reason and an exit code (1 bad input/failed work, 2 usage). Nothing else lives here.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cli/cli.h"

#ifndef XM_VERSION
#define XM_VERSION "0.1.0"
#endif

static void print_help() {
  std::printf(
      "xlstm-music %s: learn music from MIDI corpora with xLSTM networks, and compose.\n\n"
      "usage: xlstm-music <command> [flags]   (xlstm-music <command> --help for each)\n\ncommands:\n",
      XM_VERSION);
  for (const auto& [name, c] : xm::cli::commands()) std::printf("  %-16s %s\n", name.c_str(), c.summary.c_str());
}

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_help();
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::printf("xlstm-music %s\n", XM_VERSION);
    return 0;
  }
  const auto& cmds = xm::cli::commands();
  // Nested commands ("data prepare") are registered under their full name.
  auto it = cmds.end();
  size_t used = 1;
  if (args.size() >= 2) {
    it = cmds.find(args[0] + " " + args[1]);
    if (it != cmds.end()) used = 2;
  }
  if (it == cmds.end()) it = cmds.find(args[0]);
  if (it == cmds.end()) {
    std::fprintf(stderr, "xlstm-music: unknown command '%s' (see xlstm-music --help)\n", args[0].c_str());
    return 2;
  }
  std::vector<std::string> rest(args.begin() + long(used), args.end());
  try {
    return it->second.run(rest);
  } catch (const xm::UsageError& e) {
    std::fprintf(stderr, "xlstm-music %s: %s\n", it->first.c_str(), e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xlstm-music %s: %s\n", it->first.c_str(), e.what());
    return 1;
  }
}
